"""Whether a fault backend can run here, and the error that says why not.

Fault backends need things a machine may not grant: ``strace`` installed and ``ptrace``
permitted (containers often forbid it), ``mount`` permitted (only root, and not in every
container). A scenario asks a backend's ``backend_available()`` first and skips with the
reason instead of failing, so the suite says "not tested here" rather than "broken".
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from harness.contract.errors import KitError


class Backend(StrEnum):
    """The fault backends an exploration runs on, by the names ``--backend`` takes."""

    SYSCALL = "syscall"  # strace injects errnos and kills into the migrator's real process
    INPROCESS = "inprocess"  # a py: migrator in this process, its os calls patched


class FaultBackendUnavailable(KitError, RuntimeError):
    """A fault backend cannot run on this machine; the message says why and what to do."""


@dataclass(frozen=True)
class Availability:
    """The answer of a backend probe: usable or not, and a reason a person can act on."""

    backend: str
    ok: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.ok

    def require(self) -> None:
        """Raise :class:`FaultBackendUnavailable` unless the backend is usable."""
        if not self.ok:
            raise FaultBackendUnavailable(
                f"{self.backend} fault backend unavailable: {self.reason}"
            )
