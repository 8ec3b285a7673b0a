"""Errors raised on purpose by exactrev; every one derives from ExactrevError."""

from __future__ import annotations


class ExactrevError(Exception):
    """Base class of every error exactrev raises on purpose."""


class FormatError(ExactrevError):
    """A network file or a number in it is malformed; the message names file and location."""


class BudgetExceeded(ExactrevError):
    """An oracle was asked for more queries than its budget allows."""

    def __init__(self, message: str, *, used: int, budget: int) -> None:
        super().__init__(message)
        self.used = used
        self.budget = budget


class OracleError(ExactrevError):
    """A black-box oracle answered something that is not what it claims to be."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a long computation, carrying what was done so far in `.partial` (a `Stats` from
    `enumerate_regions`, an "unknown" `Certificate` from `certify`).  Not an ExactrevError: callers that
    catch KeyboardInterrupt still see it as one."""

    def __init__(self, partial: object) -> None:
        super().__init__("interrupted")
        self.partial = partial
