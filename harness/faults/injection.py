"""The syscall backend: inject a :class:`FaultPlan` into any process with ``strace``.

How a plan becomes strace options
---------------------------------
strace's ``-e inject=SET:error=E:when=N`` counts calls **per thread and per syscall
number**, and it cannot filter by flags (open-for-write vs open-for-read) or by glob. A plan
counts operations over the whole run, filtered by kind, flags and glob. The two meet through
a recorded fault-free run (:func:`harness.faults.trace.record`):

1. the plan picks its target in the trace: the Nth operation that matches it;
2. the target's syscall ``s`` is traced alone, and ``-P KEY`` narrows what strace counts to
   calls of ``s`` that name ``KEY`` (a path argument or a descriptor's path; which arguments
   strace compares is copied from its source, see :mod:`harness.faults.syscalls`). A key
   with a random part (a ``tempfile`` scratch folder, :mod:`harness.faults.masking`) names
   nothing in another run and is never used; when every path of the call is random, no
   ``-P`` at all: every call of ``s`` counts;
3. ``when`` is the number of such calls the target's thread made up to and including the
   target, computed by replaying strace's own matching rule over the recorded events. The
   key is chosen so that no other thread reaches that count ("rivals").

What identifies the target is not a thread id (another run has others) nor a file name
(scratch names are random) but its **position**: among the run's calls of ``s`` that strace
shows, the ones naming the same files up to their random parts, counted across all threads
and processes in entry order (:attr:`Injection.ordinal`). After the run the backend reads
strace's output back and checks the hit has that position, so a fault that landed elsewhere
is told apart from one on the target instead of trusting the arithmetic.

Rivals: a shell migrator runs one ``sqlite3`` or ``cp`` child per step and several open the
same file, each once: every child reaches ``when``. An errno lands on the first of them
(strace fails each one's call ``when`` before anyone can intervene), so such a case cannot be
placed by strace alone (:attr:`Injection.placeable`). The exec shim singles the recorded
child out (:mod:`harness.faults.exec_shim`): its count runs ahead of every other process's.
A kill is aimed the same way. Only when the child cannot be shimmed (its program is not the
one ``PATH`` finds, or the run bypassed the shim by a full path or a ``PATH`` of the
script's own, and the tree was put back for a second run) does a kill wait for its turn:
every rival's ``when``-th call is held a moment and the watch kills at the one whose turn
(among the threads reaching ``when``, in entry order) is the target's. That costs a second
per earlier rival, and a rival whose count differs in this run takes the turn away (on a
bigger tree, 6 of 440 kills and most of an hour). Rivals that are threads of one process (a
worker pool, whose workers share out the files differently in every run) are singled out by
the thread shim (:mod:`harness.faults.thread_shim`), for an errno and a kill alike, as soon
as other threads of the process make the syscall and the count takes in other files. What
is left runs without a fault: "not judged". More than one hit is not judged either.

Errors and kills
----------------
An errno is ``inject=s:error=E:when=N``: the call is not executed and returns ``-E``.

A kill is *not* strace's ``signal=SIGKILL``: with ``--seccomp-bpf`` strace hands the signal
over at a seccomp stop, where the kernel ignores it (measured with strace 6.1: the call
simply runs). Instead the target call is held at its entry (``delay_enter``) and, the moment
strace prints that entry, the whole process group (strace, every process and thread of the
command) is SIGKILLed. The call never executes, and no other process of the command can react
to the death of the one that made it, which is what a real ``kill -9`` of a migrator does.

Determinism: the same command on the same tree must make the same calls, up to the names
of its scratch files and which thread makes them.
:data:`harness.faults.strace.DETERMINISM_ENV` fixes the two usual culprits (Python writing
``__pycache__`` on the first run only; libuv spreading file operations over 4 threads). Calls
whose order depends on timing (two threads racing on the same file) may still be hit
elsewhere; ``InjectedRun.landed`` says whether that happened.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import shutil
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from harness.faults.exec_shim import (
    ExecTarget,
    ShimUnavailable,
    exec_target,
    make_shim,
    new_directory,
)
from harness.faults.masking import mask_path, may_be_random, rebase, same_path
from harness.faults.plan import FaultPlan
from harness.faults.strace import TracedRun, run_traced
from harness.faults.straceout import SyscallEvent, decode_fd, decode_string, parse_events
from harness.faults.syscalls import SYSCALLS
from harness.faults.thread_shim import (
    ThreadTarget,
    is_run_ahead_call,
    pool_shares_out,
    thread_target,
)
from harness.faults.trace import Trace, TraceOp

# How long strace holds the call a kill targets. The group is killed within milliseconds of
# strace printing the call; this only bounds the damage if that ever failed to happen.
_HOLD = "60s"
# How long each rival's call is held when the target is not the first thread to reach its
# count: every rival before it waits this long, and the watch must react within it (a kill
# that comes later is seen, and the case is not judged).
_RIVAL_HOLD = "1s"


@dataclass(frozen=True)
class Injection:
    """A plan compiled against a trace: the strace options that hit its target."""

    plan: FaultPlan
    target: TraceOp
    event: SyscallEvent  # the target's syscall in the recorded run
    syscall: str
    when: int  # strace's per-thread count of the calls of ``syscall`` it shows
    key: str | None  # the -P path (in the namespace of the run being injected); None: no -P
    rivals: tuple[int, ...]  # recorded threads that also reach ``when``: a fault may land there
    # 1 + the threads that reach ``when`` before the target's does, in entry order
    turn: int = 1
    # The target's position among the shown calls that name the same files up to their
    # random parts, counted over all threads in entry order: what identifies it in any run.
    ordinal: int = 1
    looks: tuple[str | None, ...] = ()  # those files, masked, in the injected run's namespace
    # A fault whose rivals are other children of the same program: the child to single out
    # with an exec shim (``when`` then counts the shim's calls too, see exec_shim.py).
    shim: ExecTarget | None = None
    # An errno whose rivals are other threads of the same process (a worker pool): the call
    # to single out with the thread shim (``when`` is then its run-ahead count).
    thread: ThreadTarget | None = None

    @property
    def placeable(self) -> bool:
        """Whether strace can hit the target: a kill can wait for the target's turn, an errno
        is injected by strace itself into the first thread that reaches ``when`` (or, with
        an exec or thread shim, into the one child or thread whose count runs ahead)."""
        singled_out = self.shim is not None or self.thread is not None
        return self.plan.is_kill or self.turn == 1 or singled_out

    def options(self) -> list[str]:
        """The strace options (besides the standard ones) that inject this fault."""
        if self.thread is not None:
            hold = _RIVAL_HOLD if self.plan.is_kill else None
            inject = self.thread.inject_expression(self.plan.effect, hold=hold)
            return ["-s", "0", "-e", f"trace={self.syscall}", "-e", f"inject={inject}"]
        if self.plan.is_kill:
            effect = f"delay_enter={_HOLD if self.turn == 1 else _RIVAL_HOLD}"
        else:
            effect = f"error={self.plan.effect}"
        narrow = ["-P", self.key] if self.key is not None else []
        return [
            *("-s", "0", *narrow, "-e", f"trace={self.syscall}"),
            *("-e", f"inject={self.syscall}:{effect}:when={self.when}"),
        ]

    def describe(self) -> str:
        naming = f"naming {self.key}" if self.key is not None else "(any path)"
        turn = f", the {_nth(self.turn)} thread to get there" if self.turn > 1 else ""
        if self.shim is not None:
            turn = (
                f", in the {_nth(self.shim.occurrence)} process that runs {self.shim.program} "
                f"(singled out by an exec shim: its call {self.shim.calls})"
            )
        if self.thread is not None:
            turn = f", {self.thread.describe()}"
        return (
            f"{self.plan.describe()}: {self.target.describe()} = call {self.when} of "
            f"{self.syscall} {naming} in its thread{turn}; call {self.ordinal} of the run "
            f"on {', '.join(p or '?' for p in self.looks)}"
        )


@dataclass(frozen=True)
class InjectedRun:
    """A run with a fault injected, and where the fault actually landed."""

    plan: FaultPlan
    injection: Injection | None  # None: the recorded run never reached the plan's target
    run: TracedRun
    hits: tuple[SyscallEvent, ...]  # the calls strace failed (errno) or held (kill)
    moved: Mapping[str, str]
    shown: tuple[SyscallEvent, ...] = ()  # every call strace showed in this run
    why: str = ""  # why the fault could not be aimed (an exec or thread shim unavailable)

    @property
    def reached(self) -> bool:
        return self.injection is not None

    @functools.cached_property
    def landed(self) -> bool:
        """Exactly one call was hit, and it is the plan's target: it names the same files up
        to their random parts and has the same position among the calls that do (a kill:
        and the call had not run yet when the process died)."""
        injection = self.injection
        if injection is None or not injection.placeable or len(self.hits) != 1:
            return False
        hit = self.hits[0]
        if self.plan.is_kill and hit.retval is not None:
            return False  # the call ran before the kill came
        target = _files(injection.event, self.moved)
        if hit.name != injection.syscall or not _same_files(_files(hit), target):
            return False
        return _ordinal(hit, self.shown, target) == injection.ordinal

    @property
    def killed(self) -> bool:
        return self.run.stopped and self.run.killed

    @property
    def returncode(self) -> int:
        return self.run.returncode

    def describe(self) -> str:
        """For a report: the plan, the call it was compiled to, and where it really landed."""
        lines = [f"plan: {self.plan.format()} ({self.plan.describe()})"]
        if self.injection is None:
            return "\n".join([*lines, "not reached: the recorded run has no such operation"])
        lines.append(f"target: {self.injection.describe()}")
        if self.landed:
            lines.append("landed on the target")
        elif self.why:  # the exec shim could not be made: the run had no fault
            lines.append(f"not judged: cannot be placed, {self.why} (run without a fault)")
        elif not self.injection.placeable:
            rivals = self.injection.turn - 1
            lines.append(
                f"not judged: cannot be placed, {rivals} other thread(s) or process(es) make "
                "the same call first and strace fails the first one (run without a fault)"
            )
        elif len(self.hits) > 1:
            calls = "; ".join(f"{e.name}({', '.join(e.args)}) in thread {e.tid}" for e in self.hits)
            lines.append(
                f"not judged: {len(self.hits)} calls were hit, not one (strace fails call "
                f"{self.injection.when} of every thread or process that makes one): {calls}"
            )
        elif self.hits:
            calls = "; ".join(f"{e.name}({', '.join(e.args)}) in thread {e.tid}" for e in self.hits)
            lines.append(f"not judged: the fault landed on another call: {calls}")
        else:
            lines.append("not judged: this run never made the recorded call")
        return "\n".join(lines)


def target_of(plan: FaultPlan, trace: Trace) -> TraceOp | None:
    """The operation of ``trace`` that ``plan`` hits: its Nth match, or None."""
    seen = 0
    for op in trace.ops:
        if plan.matches(op.operation, op.paths):
            seen += 1
            if seen == plan.occurrence:
                return op
    return None


def compile_injection(
    plan: FaultPlan,
    trace: Trace,
    *,
    cwd: str | None = None,
    moved: Mapping[str, str] | None = None,
    exec_shim: bool = True,
) -> Injection | None:
    """Turn ``plan`` into strace options using the recorded ``trace``.

    ``cwd`` is where the injected run starts (default: where the recorded one did) and
    ``moved`` maps directories of the recorded run to where the same tree now is
    (``{"/tmp/a": "/tmp/b"}``: the data dir and the scratch ``TMPDIR`` beside it), for a
    tree rebuilt at another path. Call this just before the run: strace adds the real path
    of each -P key that exists when it starts, and the count must include what those extra
    keys match. ``exec_shim=False``: never single a child out with the exec shim (a kill
    then waits for its turn among the rivals).
    """
    if trace.ops and not trace.events:
        raise ValueError("this trace has no syscalls (recorded in-process?); record with strace")
    target = target_of(plan, trace)
    if target is None or target.event is None:
        return None
    event = next(e for e in trace.events if e.seq == target.event)
    moved = dict(moved or {})
    start = cwd or rebase(trace.cwd, moved)
    looks = _looks(event, moved)
    best: Injection | None = None
    best_shown: list[SyscallEvent] = []
    candidates = _candidate_keys(event)
    stable = [k for k in candidates if not may_be_random(_unmoved_part(k, moved))]
    for key in [*stable, None]:  # None: no -P, every call of the syscall counts
        keys = None if key is None else _strace_keys(key, start, moved)
        shown = [e for e in trace.events if e.name == event.name and _strace_matches(e, keys)]
        counts: Counter[int] = Counter()
        reached_at: dict[int, int] = {}  # tid -> seq of its call number ``when``
        when = 0
        for other in shown:
            counts[other.tid] += 1
            if other.seq == event.seq:
                when = counts[other.tid]
        if when == 0:
            continue  # cannot happen unless the trace is inconsistent; try another key
        counts.clear()
        for other in shown:
            counts[other.tid] += 1
            if counts[other.tid] == when:
                reached_at[other.tid] = other.seq
        rivals = tuple(sorted(t for t in reached_at if t != event.tid))
        turn = 1 + sum(1 for t in rivals if reached_at[t] < event.seq)
        candidate = Injection(
            plan,
            target,
            event,
            event.name,
            when,
            None if key is None else rebase(key, moved),
            rivals,
            turn,
            looks=looks,
        )
        if best is None or _worse(best, candidate):
            best, best_shown = candidate, shown
    if best is not None:  # its position among the calls strace shows (recorded paths both)
        best = dataclasses.replace(best, ordinal=_ordinal(event, best_shown, _named_files(event)))
    if best is not None and exec_shim and _child_rivals(best):
        best = _with_shim(best, trace, event, moved)
    if best is not None and best.shim is None and _pool_counted(best, trace, event):
        best = _with_thread_shim(best, trace, event, moved)
    return best


def _child_rivals(best: Injection) -> bool:
    """Whether other processes reach ``best``'s count in a way that costs the case: an
    errno lands on the first of them (strace fails call ``when`` of each); a kill waits its
    turn, every earlier rival's call held :data:`_RIVAL_HOLD`, and loses it when a rival's
    count differs in this run. The exec shim puts the target's child ahead of them all."""
    if best.plan.is_kill:
        return best.turn > 1
    return not best.placeable or bool(best.rivals)


def _pool_counted(best: Injection, trace: Trace, event: SyscallEvent) -> bool:
    """Whether ``best``'s count depends on how a pool shares out its work: other threads
    of the target's process make the syscall, and the count takes in calls on other files
    (no ``-P``), or another thread reaches it already. The thread shim counts by file."""
    shared = pool_shares_out(trace.events, event)
    return shared and (best.key is None or bool(best.rivals))


def _with_thread_shim(
    best: Injection,
    trace: Trace,
    event: SyscallEvent,
    moved: Mapping[str, str],
) -> Injection:
    """``best`` aimed at the target's thread alone, when other threads that no exec shim
    tells apart reach its count (a worker pool: :mod:`harness.faults.thread_shim`)."""
    target = thread_target(trace.events, event, moved)
    if target is None:
        return best
    return dataclasses.replace(best, when=target.ahead, key=None, rivals=(), turn=1, thread=target)


def _with_shim(
    best: Injection,
    trace: Trace,
    event: SyscallEvent,
    moved: Mapping[str, str],
) -> Injection:
    """``best`` aimed at the target's child alone, when that child exec'd a program (an
    errno cannot wait for its turn: strace fails the first child's call; a kill need not
    hold the rivals' calls while it waits)."""
    target = exec_target(trace.events, event)
    if target is None:
        return best
    shown = [e for e in trace.events if e.name == event.name]
    return dataclasses.replace(
        best,
        when=target.calls,  # plus the shim's own calls, measured when the run starts
        key=None,
        rivals=(),
        turn=1,
        ordinal=_ordinal(event, shown, _named_files(event)),
        shim=target,
    )


def _worse(a: Injection, b: Injection) -> bool:
    """Whether ``b`` is a better way to hit the target than ``a``: placeable, fewest
    rivals, then the smallest count (a -P key beats none on a tie, being tried first)."""
    return (not b.placeable, len(b.rivals), b.when) < (not a.placeable, len(a.rivals), a.when)


def inject(
    command: Sequence[str],
    plan: FaultPlan,
    trace: Trace,
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = 600.0,
    moved: Mapping[str, str] | None = None,
    reset: Callable[[], None] | None = None,
) -> InjectedRun:
    """Run ``command`` with ``plan``'s fault; ``trace`` is a fault-free recording of it.

    The tree must be in the state the recording started from (rebuild it between runs).
    When the recording never reached the plan's target, or the target cannot be placed
    (:attr:`Injection.placeable`), the command runs without a fault and the result says so
    (``reached=False``, or ``landed=False``). ``reset`` puts the tree (and its scratch
    ``TMPDIR``) back in that state: a kill whose run bypassed the exec shim then runs once
    more, waiting for its turn among the rivals; without it, the case is not judged.
    """
    moved = dict(moved or {})
    start = os.path.abspath(cwd) if cwd is not None else rebase(trace.cwd, moved)
    launch = _Launch(tuple(command), plan, start, env, timeout, moved, reset)
    injection = compile_injection(plan, trace, cwd=start, moved=moved)
    if injection is not None and injection.shim is not None:
        done = _inject_in_child(launch, injection)
        if done is not None:
            return done
        # a kill whose child cannot be shimmed, or whose run bypassed the shim (the tree
        # rebuilt since): it waits for its turn
        injection = compile_injection(plan, trace, cwd=start, moved=moved, exec_shim=False)
    if injection is not None and injection.thread is not None:
        return _inject_in_thread(launch, injection)
    if injection is None or not injection.placeable:
        return launch.without_fault(injection)
    return launch.with_fault(injection, when=injection.when, turn=injection.turn)


@dataclass(frozen=True)
class _Launch:
    """One injected run's command and where and how it runs (what every way of placing a
    fault shares)."""

    command: tuple[str, ...]
    plan: FaultPlan
    start: str
    env: Mapping[str, str] | None
    timeout: float | None
    moved: Mapping[str, str]
    reset: Callable[[], None] | None = None  # the tree back in its recorded start state

    def without_fault(self, injection: Injection | None, why: str = "") -> InjectedRun:
        """The run with nothing injected: the case could not be placed (``why`` says so)."""
        run = run_traced(
            self.command, ["-e", "trace=none"], cwd=self.start, env=self.env, timeout=self.timeout
        )
        return InjectedRun(self.plan, injection, run, (), self.moved, why=why)

    def with_fault(
        self,
        injection: Injection,
        *,
        when: int,
        turn: int = 1,
        env: Mapping[str, str] | None = None,
        hit: Callable[[SyscallEvent], bool] = lambda event: True,
    ) -> InjectedRun:
        """The run with ``injection``'s strace options (and ``env`` instead of the launch's).
        An errno's hits are the calls strace failed (those ``hit`` keeps); a kill's is the
        call held at count ``when`` of the ``turn``-th thread to reach it, where the watch
        killed the run."""
        stop = _EntryWatch(injection.syscall, when, turn) if self.plan.is_kill else None
        run = run_traced(
            self.command,
            injection.options(),
            cwd=self.start,
            env=self.env if env is None else env,
            timeout=self.timeout,
            stop=stop,
        )
        events = parse_events(run.trace).events
        if stop is None:
            hits = tuple(e for e in events if e.injected and hit(e))
        else:
            hits = _held_calls(events, injection.syscall, when, stop.tid)
        return InjectedRun(self.plan, injection, run, hits, self.moved, events)


def _inject_in_child(launch: _Launch, injection: Injection) -> InjectedRun | None:
    """The run with the exec shim putting the target's child ahead of its rivals (see
    :mod:`.exec_shim`): an errno fails its ``when``-th call; a kill comes at that call's
    entry. None: a kill whose child cannot be shimmed, or whose run bypassed the shim and
    whose tree was reset (the caller falls back on turns)."""
    child = injection.shim
    assert child is not None
    env = launch.env or os.environ
    directory = new_directory()
    try:
        try:
            shim = make_shim(child, injection.syscall, env, directory / "s")
        except ShimUnavailable as exc:
            if launch.plan.is_kill:
                return None
            return launch.without_fault(dataclasses.replace(injection, shim=None), str(exc))
        injection = dataclasses.replace(injection, when=injection.when + shim.overhead)
        done = launch.with_fault(injection, when=injection.when, env=shim.env(env))
        if shim.met(child.occurrence):
            return done
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    if launch.plan.is_kill and launch.reset is not None:
        launch.reset()
        return None
    why = (
        f"the {_nth(child.occurrence)} process that runs {child.program} never met the exec "
        "shim (started by its full path, or with a PATH of its own)"
    )
    return dataclasses.replace(done, why=why)


def _inject_in_thread(launch: _Launch, injection: Injection) -> InjectedRun:
    """The run with the thread shim aiming ``injection`` (see :mod:`.thread_shim`): an errno
    fails the real call after the run-ahead; a kill comes at the real call's entry."""
    assert injection.thread is not None
    effect = None if launch.plan.is_kill else launch.plan.effect
    try:
        shimmed = injection.thread.env(launch.env or os.environ, effect)
    except ShimUnavailable as exc:
        return launch.without_fault(dataclasses.replace(injection, thread=None), str(exc))
    real = injection.thread.ahead + 1  # the real call's count in its thread
    return launch.with_fault(
        injection, when=real, env=shimmed, hit=lambda event: not is_run_ahead_call(event)
    )


class _EntryWatch:
    """Counts, per thread, the calls strace prints; says stop at the ``when``-th call of
    the ``turn``-th thread to make one (in the order strace prints them).

    Under ``-e trace=s [-P key]`` strace prints exactly the calls it counts for ``when=``,
    and prints each entry before it holds the call, so this count meets strace's own.
    """

    def __init__(self, syscall: str, when: int, turn: int = 1) -> None:
        self.entry = re.compile(rf"(\d+) +{re.escape(syscall)}\(")
        self.when = when
        self.turn = turn
        self.counts: Counter[int] = Counter()
        self.reached = 0  # threads that made their ``when``-th call so far
        self.pending = ""  # an unfinished last line
        self.pending_counted = False
        self.tid: int | None = None

    def __call__(self, chunk: str) -> bool:
        lines = (self.pending + chunk).split("\n")
        self.pending = lines.pop()
        for i, line in enumerate(lines):
            if i == 0 and self.pending_counted:
                self.pending_counted = False
                continue  # the rest of a line counted while it was partial
            if self._see(line):
                return True
        if self.pending and not self.pending_counted and self.entry.match(self.pending):
            self.pending_counted = True
            return self._see(self.pending)
        return False

    def _see(self, line: str) -> bool:
        match = self.entry.match(line)
        if not match:
            return False
        tid = int(match[1])
        self.counts[tid] += 1
        if self.counts[tid] == self.when and self.tid is None:
            self.reached += 1
            if self.reached == self.turn:
                self.tid = tid
                return True
        return False


def _held_calls(
    events: Sequence[SyscallEvent], syscall: str, when: int, tid: int | None
) -> tuple[SyscallEvent, ...]:
    if tid is None:
        return ()
    calls = [e for e in events if e.tid == tid and e.name == syscall]
    return (calls[when - 1],) if len(calls) >= when else ()


def _nth(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def _candidate_keys(event: SyscallEvent) -> list[str]:
    """The strings strace -P could match ``event`` by: its paths and descriptor paths."""
    keys: list[str] = []
    for kind, index in SYSCALLS[event.name].pmatch:
        if index >= len(event.args):
            continue
        value = _pmatch_value(kind, event.args[index])
        if value and value not in keys:
            keys.append(value)
    return keys


def _pmatch_value(kind: str, arg: str) -> str | None:
    """What strace compares for one argument: a literal path, or a real descriptor's path."""
    if kind == "path":
        return decode_string(arg)
    fd, path = decode_fd(arg)
    return path if fd is not None and fd >= 0 else None


def _strace_matches(event: SyscallEvent, keys: set[str] | None) -> bool:
    """strace's ``pathtrace_match`` for ``event`` against the path set ``keys`` (None: no
    ``-P``, everything matches)."""
    if keys is None:
        return True
    for kind, index in SYSCALLS[event.name].pmatch:
        if index < len(event.args) and _pmatch_value(kind, event.args[index]) in keys:
            return True
    return False


def _strace_keys(key: str, cwd: str, moved: Mapping[str, str]) -> set[str]:
    """The path set strace builds from ``-P key``, in the recorded run's namespace.

    strace stores the key as given, plus its ``realpath`` when the path exists at start.
    """
    keys = {key}
    live = os.path.join(cwd, rebase(key, moved))
    if os.path.exists(live):
        real = os.path.realpath(live)
        if real != rebase(key, moved):
            keys.add(rebase(real, {new: old for old, new in moved.items()}))
    return keys


def _unmoved_part(path: str, moved: Mapping[str, str]) -> str:
    """``path`` without the recorded directory ``moved`` maps (whose own name may be random,
    but is rebased, not looked for)."""
    for old in moved:
        if path == old or path.startswith(old.rstrip("/") + "/"):
            return path[len(old) :]
    return path


def _looks(event: SyscallEvent, moved: Mapping[str, str] | None = None) -> tuple[str | None, ...]:
    """The files ``event`` names, rebased by ``moved`` and with their random parts masked."""
    return tuple(
        None if p is None else mask_path(rebase(p, moved or {})) for p in _named_files(event)
    )


def _files(event: SyscallEvent, moved: Mapping[str, str] | None = None) -> tuple[str | None, ...]:
    """The files ``event`` names, rebased by ``moved`` (not masked)."""
    return tuple(None if p is None else rebase(p, moved or {}) for p in _named_files(event))


def _same_files(a: tuple[str | None, ...], b: tuple[str | None, ...]) -> bool:
    """Whether two calls name the same files up to the random parts of their names."""
    return len(a) == len(b) and all(same_path(x, y) for x, y in zip(a, b, strict=True))


def _ordinal(
    event: SyscallEvent,
    shown: Sequence[SyscallEvent],
    files: tuple[str | None, ...],
) -> int:
    """``event``'s position (1-based) among the calls of ``shown`` that name ``files`` up
    to random name parts (:func:`_same_files`), in entry order, all threads together; 0
    when it is not among them. ``shown`` and ``files`` are paths of one run."""
    n = 0
    for other in shown:
        if other.name == event.name and _same_files(_named_files(other), files):
            n += 1
        if other.seq == event.seq:
            return n
    return 0


def _named_files(event: SyscallEvent) -> tuple[str | None, ...]:
    """Every path and directory/descriptor path the call names, in argument order."""
    return _decoded_paths(event.name, event.args)


# A recorded call is looked at by every case a worker runs (its position among thousands of
# calls of a shell migrator's run): decode each once.
@functools.lru_cache(maxsize=1 << 17)
def _decoded_paths(name: str, args: tuple[str, ...]) -> tuple[str | None, ...]:
    named: list[str | None] = []
    for where in SYSCALLS[name].paths:
        for index, decode in ((where.fd, _fd_path), (where.path, decode_string)):
            if index is not None:
                named.append(decode(args[index]) if index < len(args) else None)
    return tuple(named)


def _fd_path(arg: str) -> str | None:
    return decode_fd(arg)[1]
