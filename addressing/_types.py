"""Plain data types of the addressing package."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Component"]


@dataclass(frozen=True, slots=True)
class Component:
    """One labelled piece of a parsed address.

    Attributes
    ----------
    label
        What the piece is: a Chinese label (``"road"``, ``"roadno"``...) or a Latin one
        (``"street"``, ``"housenumber"``, ``"unit"``, ``"postcode"``, ``"city"``).
    start, end
        Character offsets into the original input: ``text == input[start:end]``.
    text
        The piece as written.
    value
        The piece normalised (width, numerals, abbreviations, case).
    """

    label: str
    start: int
    end: int
    text: str
    value: str

    def to_dict(self) -> dict[str, Any]:
        """Return the component as a plain ``dict`` (for JSON)."""
        return asdict(self)
