"""Errors of the addressing package, all in the :class:`twin.errors.TwinError` tree."""

from __future__ import annotations

from twin.errors import InvalidInput, TwinError

__all__ = [
    "AddressNotFound",
    "AddressTooLong",
    "EmptyAddress",
    "InvalidAddress",
    "NotText",
    "UnsupportedCharacters",
    "UnsupportedScript",
]


class InvalidAddress(InvalidInput):
    """Address text that cannot be parsed (HTTP 400)."""


class NotText(InvalidAddress):
    """Input that is not a ``str`` (bytes, numbers, ``None``) or holds binary data."""


class EmptyAddress(InvalidAddress):
    """An empty string or one of white space only."""


class AddressTooLong(InvalidAddress):
    """Text longer than the limit of characters an address may have."""


class UnsupportedCharacters(InvalidAddress):
    """Emoji, pictographs, control or private-use characters."""


class UnsupportedScript(InvalidAddress):
    """Letters of a script the parser does not read, or scripts mixed in one address."""


class AddressNotFound(TwinError, LookupError):
    """No standard address answers the request: an unknown code, nothing near a position (HTTP 404)."""

    status = 404
    code = "NotFound"
