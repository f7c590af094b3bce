"""The thread shim that aims a fault at one worker of a pool (harness.faults.thread_shim):
how it names the target's files, how it tells a process's threads, and what it says when it
cannot be built. Its landing on real pools is in test_landing.py."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from harness.faults import thread_shim
from harness.faults.exec_shim import ShimUnavailable
from harness.faults.straceout import parse_events
from harness.faults.thread_shim import (
    file_keys,
    is_run_ahead_call,
    shim_glob,
    thread_group,
    thread_target,
)

# A process (100) whose pool threads (101, 102) each copy one image into a mkdtemp folder;
# a child process (200) that is not one of its threads.
TRACE = """\
100 clone3({flags=CLONE_VM|CLONE_SIGHAND|CLONE_THREAD, child_tid=0x1}, 88) = 101
100 clone3({flags=CLONE_VM|CLONE_SIGHAND|CLONE_THREAD, child_tid=0x1}, 88) = 102
100 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|SIGCHLD, child_tidptr=0x1) = 200
101 openat(AT_FDCWD</w>, "/d/.st-ab3x9k2q/a.jpg", O_WRONLY|O_CREAT, 0666) = 5</d/.st-ab3x9k2q/a.jpg>
102 openat(AT_FDCWD</w>, "/d/.st-ab3x9k2q/b.jpg", O_WRONLY|O_CREAT, 0666) = 6</d/.st-ab3x9k2q/b.jpg>
102 fsync(6</d/.st-ab3x9k2q/b.jpg>) = 0
101 fsync(5</d/.st-ab3x9k2q/a.jpg>) = 0
101 renameat(AT_FDCWD</w>, "/d/.st-ab3x9k2q/a.jpg", 7</d/out>, "a.jpg") = 0
200 fsync(3</d/log>) = 0
"""


def _events():  # type: ignore[no-untyped-def]
    return parse_events(TRACE).events


def test_the_glob_names_the_same_file_in_another_run_and_no_other() -> None:
    glob = shim_glob("/d/.st-ab3x9k2q/a.jpg")
    regex = thread_shim._glob_regex(glob)
    assert regex.fullmatch("/d/.st-zz0_y7q1/a.jpg")
    assert not regex.fullmatch("/d/.st-zz0_y7q1/b.jpg")
    assert not regex.fullmatch("/d/.st-zz0_y7q1/sub/a.jpg")  # * stays in one name


def test_an_all_letter_random_name_is_still_a_wildcard() -> None:
    """tempfile draws an all-letter suffix about one time in sixteen; masking keeps it as a
    possible word, the shim's glob must not (or the recorded run's name is looked for)."""
    assert shim_glob("/d/.staging-cwkhapxy/a.jpg") == "/d/.staging-*/a.jpg"


def test_glob_characters_in_a_name_are_literal() -> None:
    glob = shim_glob("/d/[x]?.jpg")
    assert thread_shim._glob_regex(glob).fullmatch("/d/[x]?.jpg")
    assert not thread_shim._glob_regex(glob).fullmatch("/d/x1.jpg")


def test_file_keys_are_what_the_shim_computes_from_the_arguments() -> None:
    events = {(e.tid, e.name): e for e in _events()}
    assert file_keys(events[(101, "openat")]) == ["/d/.st-ab3x9k2q/a.jpg"]  # absolute
    assert file_keys(events[(101, "fsync")]) == ["/d/.st-ab3x9k2q/a.jpg"]
    # a path relative to a directory descriptor is joined to the directory's path
    assert file_keys(events[(101, "renameat")]) == ["/d/.st-ab3x9k2q/a.jpg", "/d/out/a.jpg"]
    harmless = parse_events("101 fsync(-1) = -1 EIO (Input/output error) (INJECTED)\n").events
    assert is_run_ahead_call(harmless[0])
    assert not is_run_ahead_call(events[(101, "fsync")])


def test_the_threads_of_a_process_are_told_from_its_children() -> None:
    events = _events()
    assert thread_group(events, 102) == {100, 101, 102}
    assert thread_group(events, 200) == {200}


def test_the_target_is_counted_by_file_and_ahead_of_every_thread() -> None:
    events = _events()
    fsync_a = next(e for e in events if e.name == "fsync" and e.tid == 101)
    target = thread_target(events, fsync_a, {"/d": "/e"})
    assert target is not None
    assert target.globs == ("/e/.st-*/a.jpg",)  # in the injected run's tree
    assert target.ordinal == 1  # the first fsync of that file, whichever thread makes it
    assert target.ahead > 2  # beyond every thread's count of fsync
    assert target.inject_expression("EIO") == f"fsync:error=EIO:when={target.window}"


def test_without_a_compiler_the_reason_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # no cached library there
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    with pytest.raises(ShimUnavailable, match="no C compiler"):
        thread_shim.build.__wrapped__()
