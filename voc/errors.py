"""A small exception hierarchy; the CLI turns any VocError into one clear line and exit code 2."""


class VocError(Exception):
    """Base for every error the pipeline raises on purpose."""


class ConfigError(VocError):
    """The config file or settings are wrong (names the file and field)."""


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
