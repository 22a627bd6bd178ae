"""Size and nesting limits a filter must meet before the native CQL2 parser sees it.

The ``cql2`` parser recurses once per nesting level on the C stack, so a deep enough
filter (3,000 nested parentheses, a few thousand chained ``NOT`` or ``-``) overflows it
and kills the process; and on a cql2-text syntax error it backtracks, taking about twice
as long for every enclosing bracket, over everything inside. The limits here keep both
far away: they are checked on the raw text with a linear scan that ignores quoted
strings, and again on the parsed tree before the twin walks it.

Limits (each a 400 that names the limit):

* at most :data:`MAX_BYTES` (64 KiB) of UTF-8, in either encoding;
* cql2-text: brackets ``( [ {`` nested at most :data:`MAX_TEXT_DEPTH` (12) deep, and,
  at depth *d*, at most ``TEXT_BUDGET / 2**d`` characters (64 KiB up to depth 4, 4 KiB at
  depth 8, 256 characters at depth 12), which bounds the parser's backtracking;
* cql2-text: at most :data:`MAX_OPERATORS` (256) ``NOT`` and arithmetic operators
  outside geometry literals (each nests the parse one level deeper);
* cql2-json: JSON nested at most :data:`MAX_JSON_DEPTH` (64) deep;
* both: logical operators nested at most :data:`MAX_TREE_DEPTH` (32) deep.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from twin.errors import InvalidInput

__all__ = [
    "MAX_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_OPERATORS",
    "MAX_TEXT_DEPTH",
    "MAX_TREE_DEPTH",
    "TEXT_BUDGET",
    "check_json",
    "check_text",
    "check_tree",
]

MAX_BYTES = 64 * 1024
MAX_TEXT_DEPTH = 12
TEXT_BUDGET = 2**20
MAX_OPERATORS = 256
MAX_JSON_DEPTH = 64
MAX_TREE_DEPTH = 32

_WKT = frozenset(
    {
        "point",
        "linestring",
        "polygon",
        "multipoint",
        "multilinestring",
        "multipolygon",
        "geometrycollection",
        "bbox",
        "envelope",
    }
)
_DIMS = frozenset({"z", "m", "zm"})
_OPERATORS = frozenset({"not", "div", "+", "-", "*", "/", "^", "%"})
_TEXT_TOKEN = re.compile(
    r"""'(?:[^']|'')*'?|"(?:[^"]|"")*"?"""  # quoted text and identifiers
    r"|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"  # numbers, exponent sign included
    r"|[^\W\d]\w*|\S"
)
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]')


def check_size(text: str) -> None:
    """InvalidInput when ``text`` is longer than :data:`MAX_BYTES` in UTF-8."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        msg = f"filter is {size} bytes long; at most {MAX_BYTES} (64 KiB) are accepted"
        raise InvalidInput(msg)


def check_text(text: str) -> None:
    """Check a cql2-text filter against the limits of the module docstring.

    Raises
    ------
    InvalidInput
        Naming the limit the filter exceeds.
    """
    check_size(text)
    depth, operators = _scan_text(text)
    if depth > MAX_TEXT_DEPTH:
        msg = (
            f"filter nests brackets {depth} deep; cql2-text filters may nest at most "
            f"{MAX_TEXT_DEPTH} deep (cql2-json allows deeper nesting)"
        )
        raise InvalidInput(msg)
    allowed = TEXT_BUDGET >> depth
    if len(text) > allowed:
        msg = (
            f"filter is {len(text)} characters long with brackets nested {depth} deep; "
            f"at that depth cql2-text filters may be at most {allowed} characters long "
            "(nest less, or send the filter as cql2-json)"
        )
        raise InvalidInput(msg)
    if operators > MAX_OPERATORS:
        msg = (
            f"filter has {operators} NOT and arithmetic operators; at most "
            f"{MAX_OPERATORS} are accepted"
        )
        raise InvalidInput(msg)


def _scan_text(text: str) -> tuple[int, int]:
    """Deepest bracket nesting and the count of nesting operators, outside quotes."""
    depth = deepest = operators = 0
    geometry_at: int | None = None  # the depth at which a geometry literal opened
    wkt_next = False
    for m in _TEXT_TOKEN.finditer(text):
        tok = m.group()
        if tok in ("(", "[", "{"):
            depth += 1
            deepest = max(deepest, depth)
            if wkt_next and geometry_at is None:
                geometry_at = depth
            wkt_next = False
        elif tok in (")", "]", "}"):
            if geometry_at == depth:
                geometry_at = None
            depth = max(depth - 1, 0)
        elif geometry_at is None and tok[0] not in "'\"":
            low = tok.lower()
            if low in _WKT:
                wkt_next = True
            elif not (wkt_next and low in _DIMS):
                wkt_next = False
                operators += low in _OPERATORS
    return deepest, operators


def check_json(text: str) -> None:
    """Check a cql2-json filter's size and JSON nesting depth.

    Raises
    ------
    InvalidInput
        Naming the limit the filter exceeds.
    """
    check_size(text)
    depth = deepest = 0
    for m in _JSON_TOKEN.finditer(text):
        tok = m.group()
        if tok in ("[", "{"):
            depth += 1
            deepest = max(deepest, depth)
        elif tok in ("]", "}"):
            depth = max(depth - 1, 0)
    if deepest > MAX_JSON_DEPTH:
        msg = f"filter nests JSON {deepest} deep; cql2-json filters may nest at most {MAX_JSON_DEPTH} deep"
        raise InvalidInput(msg)


def check_tree(tree: Any) -> None:
    """InvalidInput when the parsed filter nests operators deeper than :data:`MAX_TREE_DEPTH`."""
    stack: list[tuple[Any, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, list):
            stack.extend((n, depth) for n in node)
        elif isinstance(node, Mapping) and "op" in node:
            if depth > MAX_TREE_DEPTH:
                msg = (
                    f"filter nests operators more than {MAX_TREE_DEPTH} deep; "
                    f"at most {MAX_TREE_DEPTH} levels are accepted"
                )
                raise InvalidInput(msg)
            args = node.get("args")
            if isinstance(args, list):
                stack.extend((n, depth + 1) for n in args)
