"""A small exception hierarchy; the CLI turns any VocError into one clear line and exit code 2."""

from __future__ import annotations

from collections.abc import Sequence


class VocError(Exception):
    """Base for every error the pipeline raises on purpose."""

    def lines(self) -> list[str]:
        """What the CLI prints: the message as one line."""
        return [" ".join(str(self).split())]


class ConfigError(VocError):
    """The config file or settings are wrong (names the file and field).

    ``problems``: when several fields are wrong, one self-contained line each (the CLI prints them all).
    """

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems = [" ".join(p.split()) for p in problems]

    def lines(self) -> list[str]:
        return self.problems or super().lines()


class SourceError(VocError):
    """A ticket source cannot be read (file missing, API auth failed, ...)."""


class RowError(VocError):
    """One input row is unusable; the row is quarantined with this message as the reason."""


class StoreError(VocError):
    """The database is unreachable or not migrated."""


class WeekError(VocError):
    """A week or quarter string is malformed."""


class OutputError(VocError):
    """A brief, export or alert file cannot be written (names the file and the reason)."""
