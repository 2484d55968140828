"""Typed errors shared across mgw. Each says what was wrong with the input; none leaves state half-changed."""


class MgwError(Exception):
    """Base class of mgw's own errors."""


class DataError(MgwError, ValueError):
    """Input data that cannot be used as given (wrong shape, NaN, duplicates, unknown names)."""


class DimensionError(DataError):
    """Vectors whose dimension differs from the index or store."""


class DuplicateIdError(DataError):
    """An id given twice, or an id that already exists where a new one is required."""


class UnknownIdError(DataError, KeyError):
    """An id that is not present."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class UnknownPlatformError(DataError):
    """A platform name that is not one of the canonical platforms or their aliases."""


class CorruptFileError(MgwError, IOError):
    """A file whose checksum, header or length does not match what was written."""


class NotSupportedError(MgwError, NotImplementedError):
    """An operation that this backend's library cannot do."""


class QueryParseError(MgwError):
    """The query parser failed on its own bug (not on the user's text): raised, never hidden behind an unfiltered
    query that would silently widen a filtered search."""
