"""The kit's errors and the exit statuses of its commands, in one place.

Every error the kit raises on purpose is a :class:`KitError` that carries the exit status it
means, so the one boundary in :mod:`harness.cli.main` turns any of them into one line on
stderr and that status, and a caller that wants "any error the kit explains" catches
``KitError`` instead of keeping its own list of classes. ``migrator/`` keeps its own errors
and statuses (same numbers): it stands alone and imports nothing of the kit.
"""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    """What a ``migration-kit`` exit status tells a script or a CI gate."""

    OK = 0
    FINDINGS = 1  # the data or the migrator needs a person: a rule broke, a user failed
    USAGE = 2  # usage or bad input: the message says what to change
    INTERNAL = 3  # the kit itself failed (a child run did not finish, a model gave up)


class KitError(Exception):
    """An error the kit explains in one line; ``exit_status`` is what it means to a shell.

    Subclasses set the class attribute; an instance may override it (``exit_status=``) when
    the same kind of error means different things in different places.
    """

    exit_status: ExitStatus = ExitStatus.USAGE

    def __init__(self, *args: object, exit_status: ExitStatus | None = None) -> None:
        super().__init__(*args)
        if exit_status is not None:
            self.exit_status = exit_status


class UsageError(KitError):
    """Bad input or usage a command finds itself (no subcommand-specific class fits)."""


class InternalError(KitError):
    """The kit could not do its own job (a child run that did not finish, say)."""

    exit_status = ExitStatus.INTERNAL
