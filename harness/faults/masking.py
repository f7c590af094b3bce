"""The random parts of file names, masked: what two runs of one migrator name alike.

A migrator that takes its scratch space from ``tempfile.mkdtemp()`` (Python), ``fs.mkdtemp``
(Node, libuv), ``mkstemp(3)`` or ``mktemp(1)``, or that names a file after its pid, names a
different file in every run. The fault injector (:mod:`harness.faults.injection`) must still
find "the same call" in a run that is not the recorded one, so it compares paths with those
parts replaced by a placeholder. Only parts shaped like the generators' output are masked,
never a whole ordinary name: masking ``profiles`` or ``img-001.jpg`` would merge files a
thread pool touches in any order, and the position of a call among the calls on "the same"
path would then depend on the scheduler.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

MASK = "*"

# Each pattern matches the random part of one component (the part that is replaced).
_RANDOM_PARTS = (
    # Python's tempfile, default prefix: tmp + 8 of [a-z0-9_] (mkdtemp, mkstemp, Named...)
    re.compile(r"(?<=tmp)[a-z0-9_]{8}"),
    # tempfile's probe of a writable TMPDIR (gettempdir()): a bare 8-char name, here too
    # with a digit or underscore so that a word ("profiles") is left alone
    re.compile(r"^(?=[a-z]{0,7}[0-9_])[a-z0-9_]{8}$"),
    # mktemp(1): tmp.XXXXXXXXXX
    re.compile(r"(?<=tmp\.)[A-Za-z0-9]{10}"),
    # tempfile with a prefix of one's own ("mk-" + 8): at least one digit or underscore,
    # so that a plain word after a dash ("-database") is left alone
    re.compile(r"(?<=[-_.])(?=[a-z0-9_]{0,7}[0-9_])[a-z0-9_]{8}(?=$|\.)"),
    # mkdtemp(3)/mkstemp(3) XXXXXX and Node's fs.mkdtemp(prefix): 6 of [A-Za-z0-9] after a
    # separator, with a digit or a capital ("-backup" is a word, "-aZ3kQ0" is not)
    re.compile(r"(?<=[-_.])(?=[a-z]{0,5}[A-Z0-9])[A-Za-z0-9]{6}(?=$|\.)"),
    # a process id: 4 to 7 digits between separators ("system.db.48213.tmp"), or 3 without a
    # leading zero (pid_max wraps to 300: "stamp-656"; "img-001" stays a name)
    re.compile(r"(?<=[-_.])(?:[1-9][0-9]{2}|[0-9]{4,7})(?=$|[-_.])"),
    # a UUID (uuid4() names a profile folder or a scratch file)
    re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
)


# tempfile with a prefix of two or more words of one's own ("peek-migration-sysdb-" + 8):
# here the 8 characters may all be letters (about one name in 16 is), since a prefix that
# long is a scratch name's, not a word's ("user-data" keeps its "data").
_PREFIXED_TEMPFILE = re.compile(r"^((?:[A-Za-z0-9]+[-_]){2,})[a-z0-9_]{8}((?:\.[^/]*)?)$")


# Landing checks compare the target with every call of its syscall in every case: the same
# few hundred names again and again, so both answers are kept.
@functools.lru_cache(maxsize=1 << 16)
def mask_name(name: str) -> str:
    """One path component with its random parts replaced by :data:`MASK`."""
    name = _PREFIXED_TEMPFILE.sub(rf"\g<1>{MASK}\g<2>", name)
    for pattern in _RANDOM_PARTS:
        name = pattern.sub(MASK, name)
    return name


def mask_path(path: str | None) -> str | None:
    """``/t/tmpn7ku44j1/db`` -> ``/t/tmp*/db``: every component masked (None stays None)."""
    if path is None:
        return None
    return "/".join(mask_name(part) for part in path.split("/"))


def rebase(path: str, moved: Mapping[str, str]) -> str:
    """``path`` of a recorded run, in the run whose directories ``moved`` maps the recorded
    ones to (``{"/tmp/a": "/tmp/b"}``: the tree rebuilt elsewhere)."""
    for old, new in moved.items():
        if path == old or path.startswith(old.rstrip("/") + "/"):
            return new + path[len(old) :]
    return path


def is_random(path: str) -> bool:
    """Whether ``path`` holds a part that another run of the same migrator names otherwise."""
    return mask_path(path) != path


# tempfile with a one-word prefix of one's own (".staging-" + 8 of [a-z0-9_]): about one name
# in sixteen is all letters, which masking leaves alone as a possible word. Such a part is
# no name to look for in another run (:func:`may_be_random`), and two of them are the same
# scratch file (:func:`same_name`).
_LETTERS_8 = re.compile(r"(?<=[-_.])[a-z]{8}(?=$|\.)")
_TEMPFILE_8 = re.compile(r"(?<=[-_.])[a-z0-9_]{8}(?=$|\.)")


def may_be_random(path: str) -> bool:
    """:func:`is_random`, or a part shaped like an all-letter ``tempfile`` name: not a path
    to look for by name in another run (strace's ``-P``)."""
    return is_random(path) or any(_LETTERS_8.search(part) for part in path.split("/"))


def _fits(masked: str, name: str) -> bool:
    """Whether ``name`` is ``masked`` with something in place of each :data:`MASK`."""
    if MASK not in masked:
        return False
    pattern = "[^/]+".join(re.escape(part) for part in masked.split(MASK))
    return re.fullmatch(pattern, name) is not None


@functools.lru_cache(maxsize=1 << 16)
def same_name(a: str, b: str) -> bool:
    """Whether two components name the same file in two runs: equal once masked, or the
    random part of one fits the other. ``mktemp`` draws an all-lowercase ``cwkhap`` now and
    then, which masking leaves alone as a possible word; beside a recorded ``.staging-*``,
    ``.staging-cwkhap`` is still the same scratch folder."""
    if a == b:
        return True
    ma, mb = mask_name(a), mask_name(b)
    if ma == mb or _fits(ma, b) or _fits(mb, a):
        return True
    # both drawn all-letter (neither masked): the same once their tempfile parts are
    letters = _LETTERS_8.search(a) or _LETTERS_8.search(b)
    return bool(letters) and _TEMPFILE_8.sub(MASK, a) == _TEMPFILE_8.sub(MASK, b)


def same_path(a: str | None, b: str | None) -> bool:
    """:func:`same_name` for every component of two paths (None only matches None)."""
    if a is None or b is None:
        return a is None and b is None
    if a == b:
        return True
    pa, pb = a.split("/"), b.split("/")
    return len(pa) == len(pb) and all(same_name(x, y) for x, y in zip(pa, pb, strict=True))
