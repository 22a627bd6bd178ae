"""The one exception tree of the twin.

Every error the twin raises on purpose derives from :class:`TwinError` and also from
the builtin that describes it best, so callers can catch either. Each class carries the
HTTP status and the OGC exception code it maps to; :func:`http_status` is the only
place that mapping is read.
"""

from __future__ import annotations

__all__ = [
    "CollectionExists",
    "CollectionNotFound",
    "ConflictError",
    "FeatureNotFound",
    "GeometryError",
    "GeometryOutOfBounds",
    "InvalidInput",
    "InvalidInterval",
    "NotComputable",
    "OSMFileError",
    "PreconditionFailed",
    "SchemaError",
    "StoreError",
    "TwinError",
    "UnknownCRS",
    "http_status",
]


class TwinError(Exception):
    """Root of every error the twin raises on purpose."""

    status: int = 500
    code: str = "NoApplicableCode"

    def __init__(self, msg: str) -> None:
        super().__init__(msg)
        self.msg = msg

    def __str__(self) -> str:
        return self.msg


class InvalidInput(TwinError, ValueError):
    """A parameter or a body that cannot be understood."""

    status = 400
    code = "InvalidParameterValue"


class UnknownCRS(InvalidInput):
    """A CRS that is unknown or not served."""


class InvalidInterval(InvalidInput):
    """A time instant or interval that is malformed or impossible."""


class GeometryError(InvalidInput):
    """A geometry that is not GeoJSON, not parseable, or not valid."""


class GeometryOutOfBounds(GeometryError):
    """A geometry outside the area of use of its CRS."""


class SchemaError(InvalidInput):
    """Properties that do not fit a collection's schema."""


class OSMFileError(InvalidInput):
    """A file that is not a readable OSM extract."""


class CollectionNotFound(TwinError, LookupError):
    """A collection the catalog does not hold."""

    status = 404
    code = "NotFound"


class FeatureNotFound(TwinError, LookupError):
    """A feature (or a version of it) the collection does not hold."""

    status = 404
    code = "NotFound"


class ConflictError(TwinError, ValueError):
    """A write that conflicts with the state of the store."""

    status = 409
    code = "Conflict"


class CollectionExists(ConflictError):
    """A collection created twice with different definitions."""


class PreconditionFailed(ConflictError):
    """A write whose expected version is not the current one (a stale ETag)."""

    status = 412
    code = "PreconditionFailed"


class NotComputable(TwinError, ValueError):
    """Valid input for which no answer can be computed (an unreachable target, say)."""

    status = 422
    code = "NotComputable"


class StoreError(TwinError, RuntimeError):
    """The store cannot be opened or is not a twin store."""

    status = 503
    code = "ServiceUnavailable"


def http_status(exc: BaseException) -> int:
    """Return the HTTP status for an exception: its class's, or 500 for a foreign one."""
    if isinstance(exc, TwinError):
        return exc.status
    return 500
