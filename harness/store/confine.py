"""Confine a process to a few writable places: the mount-namespace set-up the kit's launchers run.

Used where a migrator process starts: the run launcher (``harness.run.process``) runs
:data:`LAUNCHER_SETUP` before it forks the migrator; a traced run (``harness.faults.strace``)
starts strace through :func:`confined`, so that strace and every tracee are inside, and
only the tree, its temporary folder and strace's own output stay writable. What this
protects and how a write outside is named is ``harness.run.sandbox``'s business.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

SANDBOX_ENV = "MIGRATION_KIT_SANDBOX"  # "off": no namespace, detection only
OFF_VALUES = ("0", "off", "no", "false")
# Places every confined run may write too, os.pathsep-separated: a test's instruments (a pid
# file, a note that a run happened) that it keeps outside the trees on purpose.
ALSO_WRITABLE_ENV = "MIGRATION_KIT_ALSO_WRITABLE"


def named_writable() -> tuple[str, ...]:
    """The places ``$MIGRATION_KIT_ALSO_WRITABLE`` names."""
    named = os.environ.get(ALSO_WRITABLE_ENV, "").split(os.pathsep)
    return tuple(os.path.abspath(p) for p in named if p.strip())


def wanted() -> bool:
    """Whether runs should be sandboxed (``$MIGRATION_KIT_SANDBOX`` not switched off)."""
    return os.environ.get(SANDBOX_ENV, "").strip().lower() not in OFF_VALUES


# Run by the launcher (``python -S -I``) before it forks the migrator: standard library only.
# ``_sandbox(writable)`` returns "" when the namespace is in force, else why not.
LAUNCHER_SETUP = r"""
def _sandbox(writable):
    import ctypes  # (not re: its import costs more than all the mounts together)
    MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
    MS_REMOUNT, MS_NOATIME, MS_NODIRATIME, MS_BIND = 32, 1024, 2048, 4096
    MS_REC, MS_PRIVATE, MS_RELATIME, MS_STRICTATIME = 16384, 1 << 18, 1 << 21, 1 << 24
    keep_flags = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC,
                  "noatime": MS_NOATIME, "nodiratime": MS_NODIRATIME,
                  "relatime": MS_RELATIME, "strictatime": MS_STRICTATIME}
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_void_p]

    def check(result, what):
        if result != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"{what}: {os.strerror(err)}")

    check(libc.unshare(0x00020000), "unshare(CLONE_NEWNS)")
    # Nothing done here may reach the host's mounts.
    check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    keep = ["/dev", "/proc", "/sys"]
    for path in writable:
        real = os.path.realpath(path)
        if os.path.exists(real):
            raw = os.fsencode(real)
            check(libc.mount(raw, raw, None, MS_BIND | MS_REC, None), f"bind {real}")
            keep.append(real)
    left = []
    with open("/proc/self/mountinfo", "rb") as table:
        lines = table.read().decode("utf-8", "surrogateescape").splitlines()
    for line in lines:
        fields = line.split()
        point, rest = "", fields[4]  # mountinfo writes space, tab, newline, \\ as \\ooo
        while "\\" in rest:
            head, _, rest = rest.partition("\\")
            point, rest = point + head + chr(int(rest[:3], 8)), rest[3:]
        point += rest
        options = fields[5].split(",")
        if "ro" in options:
            continue
        if any(point == k or point.startswith(k.rstrip("/") + "/") for k in keep):
            continue
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY
        for option in options:
            flags |= keep_flags.get(option, 0)
        if libc.mount(None, os.fsencode(point), None, flags, None) != 0:
            left.append(point)
    return f"still writable: {', '.join(left)}" if left else ""
"""


# A wrapper: "<n> <n writable paths> argv": set the namespace up, then exec argv whatever came
# of it (a run without it is still a run; the kit says which protection was in force).
_CONFINE = (
    "import os, sys\n"
    + LAUNCHER_SETUP
    + """
k = int(sys.argv[1])
try:
    _sandbox(sys.argv[2 : 2 + k])
except Exception:
    pass
os.execvp(sys.argv[2 + k], sys.argv[2 + k :])
"""
)


def confined(argv: Sequence[str], writable: Sequence[str]) -> list[str]:
    """``argv`` started in the sandbox, writable only in ``writable`` (and /dev, /proc,
    /sys); ``argv`` itself when the sandbox is switched off (``$MIGRATION_KIT_SANDBOX``)."""
    if not wanted():
        return list(argv)
    places = [*writable, *named_writable()]
    return [sys.executable, "-S", "-I", "-c", _CONFINE, str(len(places)), *places, *argv]
