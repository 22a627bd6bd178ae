"""Standard addresses: codes, parsing, geocoding, reverse geocoding and QR door plates."""

from addressing._text import detect_script
from addressing._types import Component
from addressing.parsing import parse

__all__ = ["Component", "detect_script", "parse"]
