"""Reading strace's text back: the parser must survive everything strace 6.1 prints."""

from __future__ import annotations

from harness.faults.straceout import (
    decode_fd,
    decode_string,
    parse_events,
    split_args,
)
from harness.faults.trace import Trace, trace_from_strace

WEIRD = '/w/we,i)r>d "né\n'  # a file name with a comma, a paren, a quote, '>' and UTF-8

# Real strace 6.1 output (-f -qq -y -s 0), trimmed: escapes, a deleted file, interleaved
# threads, an injected error, a thread killed inside a call, and a signal line.
SAMPLE = "\n".join(
    [
        r'100  openat(AT_FDCWD</w>, "we,i)r>d \"n\303\251\n", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, '
        r"0666) = 4</w/we,i)r\76d \"n\303\251\n>",
        r"100  sendfile(4</w/we,i)r\76d \"n\303\251\n>, 3</w/src>, [0] => [10000], 8388608) "
        "= 10000",
        "100  fsync(3</w/src>(deleted)) = 0",
        '100  mkdir("m0", 0777 <unfinished ...>',
        '101  mkdir("t0", 0777 <unfinished ...>',
        "100  <... mkdir resumed>)              = 0",
        "101  <... mkdir resumed>)              = -1 EEXIST (File exists)",
        "100  --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=102} ---",
        '100  rename("a", "b") = -1 EXDEV (Invalid cross-device link) (INJECTED)',
        '101  unlinkat(3</w>, "x", AT_REMOVEDIR) = ?',
        "101  +++ killed by SIGKILL +++",
        '100  write(5</w/log>, ""..., 7',
    ]
)


def test_split_args_keeps_quotes_brackets_and_fd_paths_whole() -> None:
    args, rest = split_args(r'4</a,b)c>, "x,\")", [0] => [10], {a=1, b=[2, 3]}) = 5')
    assert args == ["4</a,b)c>", r'"x,\")"', "[0] => [10]", "{a=1, b=[2, 3]}"]
    assert rest == " = 5"


def test_decoders_undo_strace_escapes() -> None:
    assert decode_string(r'"we,i)r>d \"n\303\251\n"') == 'we,i)r>d "né\n'
    assert decode_string('"abc"...') == "abc"
    assert decode_string("NULL") is None
    assert decode_fd(r"4</w/a\76b>") == (4, "/w/a>b")
    assert decode_fd("3</w/src>(deleted)") == (3, "/w/src")
    assert decode_fd("AT_FDCWD</w>") == (None, "/w")
    assert decode_fd("7") == (7, None)


def test_parse_events_stitches_threads_in_entry_order() -> None:
    parsed = parse_events(SAMPLE)
    names = [(e.tid, e.name) for e in parsed.events]
    assert names == [
        (100, "openat"),
        (100, "sendfile"),
        (100, "fsync"),
        (100, "mkdir"),
        (101, "mkdir"),
        (100, "rename"),
        (101, "unlinkat"),
        (100, "write"),
    ]
    by_name = {(e.tid, e.name): e for e in parsed.events}
    assert by_name[100, "openat"].ret_path == WEIRD
    assert by_name[101, "mkdir"].error == "EEXIST"
    assert by_name[100, "rename"].injected and by_name[100, "rename"].error == "EXDEV"
    assert by_name[101, "unlinkat"].retval is None  # killed inside the call
    assert by_name[100, "write"].retval is None  # output cut while the call was held
    assert parsed.endings == {101: "killed by SIGKILL"}


def test_trace_resolves_paths_and_keeps_only_file_mutations() -> None:
    trace = trace_from_strace(SAMPLE, cwd="/w")
    ops = [(op.operation.value, op.paths, op.result) for op in trace.ops]
    assert ops == [
        ("open_write", (WEIRD,), 4),
        ("copy", ("/w/src", WEIRD), 10000),
        ("fsync", ("/w/src",), 0),
        ("mkdir", ("/w/m0",), 0),
        ("mkdir", ("/w/t0",), "EEXIST"),
        ("rename", ("/w/a", "/w/b"), "EXDEV"),
        ("rmdir", ("/w/x",), None),
        ("write", ("/w/log",), None),
    ]
    assert [op.index for op in trace.ops] == list(range(len(ops)))


def test_trace_round_trips_through_json() -> None:
    trace = trace_from_strace(SAMPLE, cwd="/w")
    assert Trace.from_json(trace.to_json()) == trace


# A thread (CLONE_FS) shares its creator's working directory; a forked child gets a copy.
CLONES = """10  clone(child_stack=0x7f, flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_THREAD) = 11
11  chdir("/elsewhere") = 0
10  mkdir("a", 0777) = 0
10  clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|SIGCHLD, child_tidptr=0x1) = 12
12  chdir("/x") = 0
12  mkdir("b", 0777) = 0
10  mkdir("c", 0777) = 0
"""


def test_relative_paths_follow_chdir_through_threads_but_not_forks() -> None:
    trace = trace_from_strace(CLONES, cwd="/start")
    assert [op.paths for op in trace.ops] == [("/elsewhere/a",), ("/x/b",), ("/elsewhere/c",)]
