"""Standard addresses: codes, parsing, geocoding, reverse geocoding and QR door plates."""

from __future__ import annotations

from addressing._text import detect_script
from addressing._types import Component
from addressing.codes import AddressCode, parse_code
from addressing.geocode import autocomplete, geocode
from addressing.parsing import parse
from addressing.reverse import reverse

__all__ = [
    "AddressCode",
    "Component",
    "autocomplete",
    "detect_script",
    "geocode",
    "parse",
    "parse_code",
    "reverse",
]
