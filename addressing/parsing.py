"""``parse``: an address text into labelled components, Chinese or Latin script."""

from __future__ import annotations

import logging

from addressing._text import detect_script
from addressing._types import Component

__all__ = ["parse"]

log = logging.getLogger(__name__)


def parse(text: str) -> list[Component]:
    """Parse an address into labelled components.

    The script is detected first (:func:`addressing.detect_script`). Chinese addresses
    get the 21 labels of the public Chinese address corpus (``prov``, ``city``,
    ``district``, ``road``, ``roadno``, ``poi``, ``houseno``...); every character
    belongs to one component. Latin-script addresses get ``street``, ``housenumber``,
    ``unit``, ``postcode`` and ``city``.

    Parameters
    ----------
    text
        The address, at most 512 characters.

    Returns
    -------
    list of Component
        In reading order; ``text[c.start:c.end] == c.text`` for each.

    Raises
    ------
    addressing.errors.InvalidAddress
        (a :class:`twin.errors.InvalidInput`) for empty, over-long, binary or emoji
        text, or letters of an unsupported script.

    Examples
    --------
    >>> [(c.label, c.value) for c in parse("Mannerheimint. 5 A 12, 00100 HELSINKI")]
    [('street', 'Mannerheimintie'), ('housenumber', '5'), ('unit', 'A 12'), ('postcode', '00100'), ('city', 'Helsinki')]
    """
    if detect_script(text) == "zh":
        from addressing._zh import parse_zh

        return parse_zh(text)
    from addressing._latin import parse_latin

    return parse_latin(text)
