"""Missing values in frames read from the store.

A frame read with ``Store.read_frame`` (or built by pandas from lists holding ``None``)
has string columns of ``StringDtype(na_value=nan)``: a missing value arrives as the
float NaN, which is true in ``if`` and ``or``, prints as ``'nan'`` and is no ``str``.
Read an optional text value through :func:`text_or_none` before using it.
"""

from __future__ import annotations

__all__ = ["text_or_none"]


def text_or_none(value: object) -> str | None:
    """``value`` when it is a non-empty ``str``; ``None`` for anything else (``None``,
    NaN, ``pandas.NA``, ``NaT``, the empty string).

    Examples
    --------
    >>> text_or_none("Kaivokatu"), text_or_none(float("nan")), text_or_none("")
    ('Kaivokatu', None, None)
    """
    return value if isinstance(value, str) and value else None
