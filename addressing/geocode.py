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
import os
import stat
import tempfile
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from addressing._geocode_index import Candidate, get_index
from addressing._geocode_text import compact, number_key, read_query
from addressing._store import store_scope
from addressing._text import check_text, detect_script
from addressing.errors import InvalidAddress
from twin.errors import InvalidInput
from twin.files import new_file_mode
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


#: Python's csv module refuses a field of over 131,072 characters (a process-wide limit).
#: A batch reads every field whole, so that an over-long one fails its own row only; the
#: limit is raised while a batch file is read and put back after.
_CSV_LIMIT_LOCK = threading.Lock()


@contextmanager
def _fields_of_any_size() -> Iterator[None]:
    with _CSV_LIMIT_LOCK:
        old = csv.field_size_limit()
        csv.field_size_limit(2**31 - 1)
        try:
            yield
        finally:
            csv.field_size_limit(old)


def _read_csv(src: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the rows of ``src``, each row with the line it starts on."""
    try:
        with _fields_of_any_size(), src.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header: list[str] = []
            for header in reader:
                if header:
                    break
            rows: list[tuple[int, list[str]]] = []
            line = reader.line_num
            for row in reader:
                rows.append((line + 1, row))
                line = reader.line_num
    except (UnicodeDecodeError, csv.Error) as exc:
        msg = f"src={str(src)!r} is not a UTF-8 CSV file: {exc}"
        raise InvalidInput(msg) from None
    except OSError as exc:
        msg = f"src={str(src)!r} cannot be read: {exc.strerror}"
        raise InvalidInput(msg) from None
    if not header:
        msg = f"src={str(src)!r} has no header row; the first row names the columns"
        raise InvalidInput(msg)
    twice = sorted({name for name in header if header.count(name) > 1})
    if twice:
        msg = f"src={str(src)!r} names the columns {twice} more than once; rename them"
        raise InvalidInput(msg)
    taken = [name for name in header if name in _OUT_FIELDS]
    if taken:
        msg = (
            f"src={str(src)!r} has the columns {taken}, which the output adds "
            f"({', '.join(_OUT_FIELDS)}); rename them"
        )
        raise InvalidInput(msg)
    return header, rows


def _shape_error(line: int, row: list[str], width: int) -> str | None:
    """Why a row cannot be geocoded for its shape (a blank line, a field too many or few)."""
    if not row:
        return f"line {line} is blank; not geocoded"
    if len(row) == width:
        return None
    fields = f"{len(row)} field" + ("s" if len(row) > 1 else "")
    msg = f"line {line} has {fields} where the header has {width}; not geocoded"
    return f"{msg} (the extra fields: {row[width:]})" if len(row) > width else msg


def _open_output(dst: Path) -> tuple[int, str, str]:
    """A temporary file beside ``dst`` (with the mode of ``dst``, if any) and the path to
    rename it to: ``dst``, or the file it links to."""
    target = os.path.realpath(dst)
    if os.path.isdir(target):
        msg = f"dst={str(dst)!r} is a folder; give the path of a file"
        raise InvalidInput(msg)
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        msg = f"dst={str(dst)!r} cannot be written: the folder {folder!r} does not exist"
        raise InvalidInput(msg)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".part", dir=folder)
    except OSError as exc:
        msg = (
            f"dst={str(dst)!r} cannot be written: no file can be made in the folder "
            f"{folder!r}: {exc.strerror}"
        )
        raise InvalidInput(msg) from None
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        mode = new_file_mode()
    os.chmod(tmp, mode)
    return fd, tmp, target


def geocode_csv(
    src: str | Path,
    dst: str | Path,
    *,
    column: str | None = None,
    store: Store | str | None = None,
    progress: bool = False,
) -> tuple[int, int]:
    """Geocode a CSV file of addresses into another, row by row.

    Every row after the header, blank lines included, gives one output row, in order. A blank line, or a row
    with more or fewer fields than the header, is reported in its ``error`` (not
    geocoded); its fields are kept in their columns, and extra ones in the message.
    ``dst`` is written only when the whole batch has run: until then it is left as it was.

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
        The file is not UTF-8 CSV with a header, its header names a column twice or has
        a column named like an output column, ``column`` is not one of its columns, or
        ``dst`` cannot be written.
    """
    from tqdm import tqdm

    src, dst = Path(src), Path(dst)
    header, rows = _read_csv(src)
    if column is None:
        column = "address" if "address" in header or len(header) != 1 else header[0]
    if column not in header:
        msg = f"column={column!r} is not a column of {str(src)!r}; choose one of {header}"
        raise InvalidInput(msg)
    at, width = header.index(column), len(header)
    shape = [_shape_error(line, row, width) for line, row in rows]
    texts = [row[at] for (_, row), err in zip(rows, shape, strict=True) if err is None]
    good = bad = 0
    blank = [""] * width
    with store_scope(store) as s:
        get_index(s)  # a twin without a registry fails here, before anything is written
        fd, tmp, target = _open_output(dst)
        try:
            with open(fd, "w", newline="", encoding="utf-8") as out:
                writer = csv.writer(out)
                writer.writerow(header + list(_OUT_FIELDS))
                results = geocode_many(texts, store=s)
                for (_, row), err in tqdm(
                    zip(rows, shape, strict=True),
                    total=len(rows),
                    desc="geocoding",
                    unit="row",
                    disable=not progress,
                ):
                    if err is not None:
                        bad += 1
                        fields = (row + blank)[:width]
                        writer.writerow([*fields, "", "", "", "", "", err])
                        continue
                    res = next(results)
                    c = res.candidate
                    if c is None:
                        bad += 1
                        writer.writerow([*row, "", "", "", "", "", res.error or ""])
                    else:
                        good += 1
                        writer.writerow(
                            [
                                *row,
                                c.code,
                                c.label,
                                f"{c.lon:.7f}",
                                f"{c.lat:.7f}",
                                f"{c.score:.4f}",
                                "",
                            ]
                        )
            os.replace(tmp, target)
        except OSError as exc:
            msg = f"dst={str(dst)!r} cannot be written: {exc.strerror}"
            raise InvalidInput(msg) from None
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return good, bad
