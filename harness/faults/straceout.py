"""Reading strace's text output (``-f -qq -y``) back into :class:`SyscallEvent` values.

strace prints one syscall per line, prefixed by the thread id. When threads interleave, a
call is split into ``NAME(ARGS <unfinished ...>`` and a later ``<... NAME resumed>REST``;
:func:`parse_events` stitches the halves and orders events by their *entry*, which is the
order strace counts calls in for ``inject=...:when=N``. A call whose thread was killed inside
it has no result (``retval is None``).

Arguments stay as strace printed them (``"a.txt"``, ``3</data/a.txt>``, ``O_WRONLY|O_CREAT``);
:func:`decode_string` and :func:`decode_fd` turn the ones that name files into paths. strace
escapes every byte that is not printable ASCII, and with ``-y`` escapes ``<`` and ``>``
inside descriptor paths, which is what makes the splitting below unambiguous.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

_LINE = re.compile(r"(\d+) +(.*)")
_RESUMED = re.compile(r"<\.\.\. (\w+) resumed>(.*)")
_UNFINISHED = " <unfinished ...>"
_EXIT = re.compile(r"\+\+\+ (exited with (-?\d+)|killed by (\w+)(?: \(core dumped\))?) \+\+\+")
_RESULT = re.compile(r"= (?P<value>\?|-?\d+|0x[0-9a-f]+)(?P<deco><.*?>)?(?P<rest>.*)")
_ERRNO = re.compile(r"\s*(E[A-Z0-9]+) \(")
_ESCAPE = re.compile(rb"\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)")
# What split_args acts on; the text between two of these is taken as it is.
_SPECIAL = re.compile(r'[\\"<(\[{}\])},]')
# The rest of a quoted string or of a -y path, up to (not including) its unescaped end.
_UNTIL = {close: re.compile(rf"(?:[^{close}\\]+|\\.)*", re.DOTALL) for close in ('"', ">")}
_SIMPLE_ESCAPES = {b"n": 10, b"t": 9, b"r": 13, b"v": 11, b"f": 12, b"a": 7, b"b": 8}


@dataclass(frozen=True)
class SyscallEvent:
    """One traced syscall, at its entry position in the run."""

    seq: int  # position among all traced calls, by entry, 0-based
    tid: int  # the thread that made the call
    name: str
    args: tuple[str, ...]  # as strace printed them
    retval: int | None  # None: no result (the thread died inside the call)
    error: str | None = None  # errno name when the call failed
    ret_path: str | None = None  # the path of a returned descriptor (open*)
    injected: bool = False  # strace tampered with this call (INJECTED)


@dataclass(frozen=True)
class ParsedOutput:
    """Everything strace printed: the calls, and how each thread ended."""

    events: tuple[SyscallEvent, ...]
    endings: dict[int, str]  # tid -> "exited with 0" / "killed by SIGKILL"


def decode_bytes(escaped: str) -> bytes:
    """Undo strace's C-style escapes (``\\n``, ``\\303``, ``\\x41``, ``\\"``) to raw bytes."""

    def one(match: re.Match[bytes]) -> bytes:
        code = match[1]
        if code[:1] == b"x" and len(code) == 3:
            return bytes([int(code[1:], 16)])
        if code.isdigit():
            return bytes([int(code, 8) & 0xFF])
        return bytes([_SIMPLE_ESCAPES[code]]) if code in _SIMPLE_ESCAPES else code

    return _ESCAPE.sub(one, escaped.encode("ascii", errors="surrogateescape"))


def decode_string(arg: str) -> str | None:
    """A quoted string argument as a str (``os.fsdecode``), or None if ``arg`` is not one.

    A truncated string (``"abc"...``) decodes to what was printed.
    """
    arg = arg.strip()
    if arg.endswith("..."):
        arg = arg[:-3]
    if len(arg) < 2 or arg[0] != '"' or arg[-1] != '"':
        return None
    return _decode_path(arg[1:-1])


def _decode_path(escaped: str) -> str:
    """An escaped path as a str; most need no unescaping, and skip it."""
    if "\\" not in escaped and escaped.isascii():
        return escaped
    return os.fsdecode(decode_bytes(escaped))


def decode_fd(arg: str) -> tuple[int | None, str | None]:
    """``3</data/a>`` -> (3, "/data/a"); ``AT_FDCWD</data>`` -> (None, "/data"); ``3`` -> (3, None).

    A deleted file's ``(deleted)`` mark is dropped: strace -P matches the bare path too.
    """
    arg = arg.strip()
    head, lt, rest = arg.partition("<")
    fd = int(head) if head.lstrip("-").isdigit() else None
    if not lt:
        return fd, None
    end = rest.rfind(">")
    return fd, _decode_path(rest[:end] if end >= 0 else rest)


def split_args(text: str) -> tuple[list[str], str]:
    """Split ``a, "b,c", [d, e], 3</x,y>) = 0`` into top-level arguments and the rest.

    Returns (arguments, text after the closing parenthesis). Quotes, brackets and ``-y``
    descriptor decorations are skipped as units, so commas inside them do not split.
    """
    args: list[str] = []
    depth = 0
    start = i = 0
    while special := _SPECIAL.search(text, i):
        i = special.start()
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            i = _skip_quoted(text, i + 1, '"')
        elif c == "<":
            if i > 0 and (text[i - 1].isdigit() or text[i - 1] == "D"):
                i = _skip_quoted(text, i + 1, ">")
        elif c in "([{":
            depth += 1
        elif c in "}]" or (c == ")" and depth > 0):
            depth -= 1
        elif c == ")":
            if text[start:i].strip():
                args.append(text[start:i].strip())
            return args, text[i + 1 :]
        elif c == "," and depth == 0:
            args.append(text[start:i].strip())
            start = i + 1
        i += 1
    if text[start:].strip():
        args.append(text[start:].strip())
    return args, ""


def _skip_quoted(text: str, i: int, close: str) -> int:
    """Index of the unescaped ``close`` at or after ``i`` (or the end)."""
    end = _UNTIL[close].match(text, i)
    assert end is not None  # the pattern matches the empty string
    return end.end()


def parse_events(text: str) -> ParsedOutput:
    """All syscalls in strace's output, stitched and ordered by entry."""
    events: dict[int, SyscallEvent] = {}
    pending: dict[int, tuple[int, str]] = {}  # tid -> (seq, call text so far)
    endings: dict[int, str] = {}
    seq = 0
    for line in text.splitlines():
        match = _LINE.fullmatch(line)
        if not match:
            continue
        tid, body = int(match[1]), match[2]
        if body.startswith("---"):
            continue  # a signal; not a call
        ending = _EXIT.fullmatch(body)
        if ending:
            endings[tid] = ending[1]
            continue
        resumed = _RESUMED.fullmatch(body)
        if resumed:
            if tid in pending:
                first_seq, head = pending.pop(tid)
                events[first_seq] = _event(first_seq, tid, head + resumed[2])
            continue
        if body.endswith(_UNFINISHED):
            pending[tid] = (seq, body[: -len(_UNFINISHED)])
        else:
            events[seq] = _event(seq, tid, body)
        seq += 1
    # Calls that never returned: the thread was killed inside them (or the output was cut
    # while strace held them, as a kill does).
    for tid, (first_seq, head) in pending.items():
        events[first_seq] = _event(first_seq, tid, head)
    return ParsedOutput(tuple(events[k] for k in sorted(events)), endings)


def _event(seq: int, tid: int, text: str) -> SyscallEvent:
    name, _, rest = text.partition("(")
    args, after = split_args(rest)
    result = _RESULT.search(after)
    if result is None or result["value"] == "?":
        return SyscallEvent(seq, tid, name, tuple(args), None)
    value = result["value"]
    retval = int(value, 16) if value.startswith("0x") else int(value)
    errno_name = _ERRNO.match(result["rest"])
    ret_path = decode_fd(result["deco"])[1] if result["deco"] else None
    return SyscallEvent(
        seq=seq,
        tid=tid,
        name=name,
        args=tuple(args),
        retval=retval,
        error=errno_name[1] if errno_name and retval < 0 else None,
        ret_path=ret_path,
        injected="(INJECTED" in result["rest"],
    )
