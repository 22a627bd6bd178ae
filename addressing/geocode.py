"""Forward geocoding: free text to ranked standard addresses; autocomplete; CSV batches.

>>> from addressing import geocode                                   # doctest: +SKIP
>>> geocode("Mannerheimint. 5, Helsingfors", store="var/helsinki.gpkg")[0].label  # doctest: +SKIP
'Mannerheimintie 5, 00100 Helsinki'

The query may have typos, swapped letters, a missing or wrong postcode, the Swedish
name of a Finnish street (or the other way round) and abbreviations (``Fredrikink.``,
``Mannerheimint.``, ``Norra esplanaden`` for ``Pohjoisesplanadi``). The index behind it
is built once per store (see :mod:`addressing._geocode_index`).
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from addressing._geocode_index import Candidate, get_index
from addressing._geocode_text import compact, number_key, read_query
from addressing._store import store_scope
from addressing._text import check_text, detect_script
from addressing.errors import InvalidAddress
from twin.errors import InvalidInput
from twin.store import Store

__all__ = ["BatchRow", "Candidate", "autocomplete", "geocode", "geocode_csv", "geocode_many"]

log = logging.getLogger(__name__)

MAX_LIMIT = 100


def _check_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        msg = f"limit={limit!r} must be an integer from 1 to {MAX_LIMIT}"
        raise InvalidInput(msg)
    return limit


def geocode(text: str, *, limit: int = 5, store: Store | str | None = None) -> list[Candidate]:
    """Find the standard addresses that free text most likely means.

    Parameters
    ----------
    text
        An address such as ``"Mannerheimintie 5, 00100 Helsinki"``, at most 512
        characters; parts may be missing, misspelt or abbreviated.
    limit
        The most candidates to return, 1-100.
    store
        A store, a database URL, or ``None`` for ``TWIN_DB``.

    Returns
    -------
    list of Candidate
        Best first; empty when no street name comes close. A query without a house
        number gets the street itself first (``level="street"``).

    Raises
    ------
    addressing.errors.InvalidAddress
        Empty or white-space text, over 512 characters, binary data, emoji, letters of
        a script other than Latin or Chinese (all HTTP 400).
    """
    check_text(text)
    _check_limit(limit)
    if detect_script(text) != "latin":
        return []
    index = get_index(store)
    return index.search(read_query(text, cities=index.cities), limit=limit)


def autocomplete(
    prefix: str, *, limit: int = 10, store: Store | str | None = None
) -> list[Candidate]:
    """Complete the beginning of an address: streets whose name starts so, then their numbers.

    Parameters
    ----------
    prefix
        What has been typed so far (``"Mannerh"``, ``"Mannerheimintie 1"``).
    limit
        The most candidates to return, 1-100.
    store
        A store, a database URL, or ``None`` for ``TWIN_DB``.

    Returns
    -------
    list of Candidate
        Streets ordered by name and doorplates by number. When no name starts with the
        text, the nearest names by spelling.
    """
    check_text(prefix)
    _check_limit(limit)
    if detect_script(prefix) != "latin":
        return []
    index = get_index(store)
    q = read_query(prefix, cities=index.cities)
    if not q.street:
        return []
    starts = np.zeros(len(index.streets), dtype=bool)
    for name, st in zip(index.names, index.name_street, strict=True):
        if name.startswith(q.street):
            starts[st] = True
    if starts.any():
        streets = sorted(np.flatnonzero(starts), key=lambda i: compact(index.streets[i][1]))
        score = {int(i): 1.0 for i in streets}
    else:
        scores = index.street_scores(q.street)
        streets = [i for i in np.argsort(-scores, kind="stable")[:3] if scores[i] >= 0.6]
        score = {int(i): float(scores[i]) for i in streets}
    out: list[Candidate] = []
    for st in streets:
        code, name, sv, lon, lat = index.streets[int(st)]
        rows = index.members[int(st)]
        if not q.number:
            out.append(
                Candidate(code, name, lon, lat, round(score[int(st)], 4), sv or name, "street")
            )
        rows = rows[np.lexsort(([index.keys[i] for i in rows], index.lo[rows]))]
        for i in rows:
            if q.number and not index.keys[i].startswith(number_key(q.number)):
                continue
            out.append(
                Candidate(
                    str(index.codes[i]),
                    index.labels[i],
                    float(index.lon[i]),
                    float(index.lat[i]),
                    round(score[int(st)], 4),
                    index.labels_sv[i],
                )
            )
            if len(out) >= limit:
                return out
    return out[:limit]


@dataclass(frozen=True, slots=True)
class BatchRow:
    """The outcome of one row of a batch: the best candidate, or why there is none."""

    row: int
    text: str
    candidate: Candidate | None
    error: str | None


def geocode_many(
    texts: Iterable[object], *, store: Store | str | None = None
) -> Iterator[BatchRow]:
    """Geocode many texts; bad ones are reported in their row, the others geocoded.

    Parameters
    ----------
    texts
        The addresses, in order (rows are numbered from 1).
    store
        A store, a database URL, or ``None`` for ``TWIN_DB``.

    Yields
    ------
    BatchRow
        One per text, in order.
    """
    with store_scope(store) as s:
        for n, text in enumerate(texts, start=1):
            shown = text if isinstance(text, str) else repr(text)
            try:
                found = geocode(text, limit=1, store=s)  # type: ignore[arg-type]
            except InvalidAddress as exc:
                yield BatchRow(n, shown, None, str(exc))
                continue
            if found:
                yield BatchRow(n, shown, found[0], None)
            else:
                yield BatchRow(n, shown, None, f"text={shown!r} matches no street of the registry")


_OUT_FIELDS = ("code", "label", "lon", "lat", "score", "error")


def geocode_csv(
    src: str | Path,
    dst: str | Path,
    *,
    column: str | None = None,
    store: Store | str | None = None,
    progress: bool = False,
) -> tuple[int, int]:
    """Geocode a CSV file of addresses into another, row by row.

    Parameters
    ----------
    src
        A UTF-8 CSV file with a header row.
    dst
        The output: the input columns and ``code, label, lon, lat, score, error``.
    column
        The column holding the address; default ``address``, or the only column.
    store
        A store, a database URL, or ``None`` for ``TWIN_DB``.
    progress
        Show a progress bar (tqdm) on standard error.

    Returns
    -------
    tuple of int
        Rows geocoded, rows reported as bad (their ``error`` says why).

    Raises
    ------
    twin.errors.InvalidInput
        The file is not UTF-8 CSV with a header, or ``column`` is not one of its columns.
    """
    from tqdm import tqdm

    src = Path(src)
    try:
        with src.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = list(reader.fieldnames or [])
            rows = list(reader)
    except (UnicodeDecodeError, csv.Error) as exc:
        msg = f"src={str(src)!r} is not a UTF-8 CSV file: {exc}"
        raise InvalidInput(msg) from None
    if not header:
        msg = f"src={str(src)!r} has no header row; the first row names the columns"
        raise InvalidInput(msg)
    if column is None:
        column = "address" if "address" in header or len(header) != 1 else header[0]
    if column not in header:
        msg = f"column={column!r} is not a column of {str(src)!r}; choose one of {header}"
        raise InvalidInput(msg)
    good = bad = 0
    fields = header + [f for f in _OUT_FIELDS if f not in header]
    texts = [r.get(column) or "" for r in rows]
    with Path(dst).open("w", newline="", encoding="utf-8") as out, store_scope(store) as s:
        writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        results = geocode_many(texts, store=s)
        for row, res in tqdm(
            zip(rows, results, strict=True),
            total=len(rows),
            desc="geocoding",
            unit="row",
            disable=not progress,
        ):
            c = res.candidate
            if c is None:
                bad += 1
                row.update(code="", label="", lon="", lat="", score="", error=res.error or "")
            else:
                good += 1
                row.update(
                    code=c.code,
                    label=c.label,
                    lon=f"{c.lon:.7f}",
                    lat=f"{c.lat:.7f}",
                    score=f"{c.score:.4f}",
                    error="",
                )
            writer.writerow(row)
    return good, bad
