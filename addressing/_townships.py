"""Townships and villages of China, read at run time from the ``jionlp`` package.

The PyPI package ``jionlp`` (Apache-2.0) ships ``jionlp/dictionary/china_location.zip``:
one text file, a tree indented with tabs: province (``name\\tcode\\tshort``), prefecture,
county (with its six-digit GB/T 2260 code), township (``华亭镇``, ``嘉定镇街道``,
``嘉定工业区``) and village or community (``北新村``, ``华旺社区``). The division list
of ``cpca`` (:mod:`addressing._divisions`) stops at the county; this one goes two levels
further down.

The zip is read from the installed package when first needed, never copied into this
project, and the package itself is not imported (its import is slow). Townships are
kept by county code; the villages of a township are kept as one string and split only
when asked for, which keeps the table small (about 16 MB, read in about 0.3 s).
"""

from __future__ import annotations

import importlib.util
import io
import logging
import re
import time
import zipfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from addressing._divisions import nations
from twin.errors import StoreError

__all__ = [
    "VILLAGE_TYPES",
    "Gazetteer",
    "gazetteer",
    "location_zip",
    "read_gazetteer",
    "township_kind",
    "township_short_forms",
    "village_short_forms",
]

log = logging.getLogger(__name__)

_MEMBER = "china_location.txt"
_RESOURCE = ("dictionary", "china_location.zip")

# the type words of townships, longest first; what is left is the short form
_TOWN_SUFFIX = re.compile(r"(?:街道办事处|地区办事处|办事处|街道|苏木|[镇乡])$")
_ZONE = re.compile(r"(?:开发区|园区|工业区|工业园|新区|高新区|产业园|集聚区|示范区|管委会)$")
#: the type words of villages and communities, a longer one before its own ending
VILLAGE_TYPES = ("社区居委会", "社区", "居委会", "村委会", "村", "嘎查", "居民区", "生活区")
_VILLAGE_SUFFIX = re.compile(f"(?:{'|'.join(VILLAGE_TYPES)})$")


@cache
def _ethnic_town() -> re.Pattern[str]:
    return re.compile(f"(?:{'|'.join(nations())})+(?:乡|镇|苏木)$")


def location_zip(package: str = "jionlp") -> Path:
    """Return the path of the location tree inside the installed ``package``.

    Parameters
    ----------
    package
        The name of the package that ships ``dictionary/china_location.zip``.

    Returns
    -------
    Path
        The zip file.

    Raises
    ------
    StoreError
        The package is not installed, or does not hold the file.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        msg = (
            f"the package {package!r} is not installed; the Chinese township list is read "
            f"from it: install it with 'pip install jionlp'"
        )
        raise StoreError(msg)
    path = Path(spec.origin).parent.joinpath(*_RESOURCE)
    if not path.is_file():
        msg = f"the package {package!r} has no {'/'.join(_RESOURCE)} (looked at {path})"
        raise StoreError(msg)
    return path


def township_kind(name: str) -> str:
    """Return ``"town"`` for a township or subdistrict, ``"zone"`` for a development
    zone, park or farm holding township rank, ``"other"`` for the rest.

    Examples
    --------
    >>> township_kind("华亭镇"), township_kind("嘉定工业区"), township_kind("前卫农场")
    ('town', 'zone', 'other')
    >>> township_kind("街道")
    'other'
    """
    m = _TOWN_SUFFIX.search(name)
    if m:
        return "town" if m.start() > 0 else "other"  # a type word alone names nothing
    if _ZONE.search(name):
        return "zone"
    return "other"


def township_short_forms(name: str) -> list[str]:
    """Return the forms of a township name without its type word.

    Parameters
    ----------
    name
        The official name (``"华亭镇"``, ``"嘉定镇街道"``, ``"南美拉祜族乡"``).

    Returns
    -------
    list of str
        Shorter forms of at least two characters, longest first.

    Examples
    --------
    >>> township_short_forms("嘉定镇街道")
    ['嘉定镇', '嘉定']
    >>> township_short_forms("南美拉祜族乡"), township_short_forms("新镇街道")
    (['南美'], ['新镇'])
    """
    m = _ethnic_town().search(name)
    if m:
        return [name[: m.start()]] if m.start() >= 2 else []
    out: list[str] = []
    cut = _TOWN_SUFFIX.sub("", name)
    while cut != name and len(cut) >= 2:
        out.append(cut)
        name, cut = cut, _TOWN_SUFFIX.sub("", cut)
    return sorted(dict.fromkeys(out), key=len, reverse=True)


def village_short_forms(name: str) -> list[str]:
    """Return the forms of a village or community name without its type word.

    Examples
    --------
    >>> village_short_forms("北新村"), village_short_forms("华旺社区"), village_short_forms("张村")
    (['北新'], ['华旺'], [])
    """
    cut = _VILLAGE_SUFFIX.sub("", name)
    return [cut] if cut != name and len(cut) >= 2 else []


@dataclass(frozen=True, slots=True)
class Gazetteer:
    """The townships of each county and the villages of each township.

    Attributes
    ----------
    townships
        Six-digit county code to the names of its townships, in the order of the tree.
    county_names
        Six-digit county code to the county's name in the tree.
    """

    townships: dict[str, tuple[str, ...]]
    county_names: dict[str, str]
    _villages: dict[tuple[str, str], str]

    def villages(self, county: str, township: str) -> tuple[str, ...]:
        """Return the villages and communities of ``township`` in ``county``.

        Parameters
        ----------
        county
            The six-digit county code (a longer code is cut to six digits).
        township
            The township's official name.

        Returns
        -------
        tuple of str
            Empty when the township is unknown or lists none.
        """
        block = self._villages.get((county[:6], township), "")
        return tuple(block[1:-1].split("\t")) if block else ()

    def village_block(self, county: str, township: str) -> str:
        """Return the villages of ``township`` in ``county`` as one string, each name
        between tabs (``"\\t北新村\\t华亭村\\t"``), or ``""``: for fast look-ups."""
        return self._villages.get((county[:6], township), "")

    def counties_in(self, prefix: str) -> list[str]:
        """Return the county codes that begin with ``prefix`` (``"3301"``: Hangzhou)."""
        return [c for c in self.townships if c.startswith(prefix)]


def read_gazetteer(path: Path) -> Gazetteer:
    """Read the location tree at ``path`` (the zip of ``jionlp``).

    Parameters
    ----------
    path
        ``china_location.zip``.

    Returns
    -------
    Gazetteer
        The townships and villages by county.

    Raises
    ------
    StoreError
        The file is not a zip holding the tree.
    """
    t0 = time.perf_counter()
    try:
        with zipfile.ZipFile(path) as zf:
            raw = zf.read(_MEMBER).decode("utf-8")
    except (OSError, KeyError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        msg = f"cannot read the township list {_MEMBER!r} from {str(path)!r}: {exc}"
        raise StoreError(msg) from exc
    townships: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    villages: dict[tuple[str, str], str] = {}
    county = ""
    town = ""
    pending: list[str] = []

    def flush() -> None:
        if county and town and pending:
            villages[(county, town)] = "\t" + "\t".join(pending) + "\t"
        pending.clear()

    for line in io.StringIO(raw):  # line by line: the list of all lines would be large
        stripped = line.lstrip("\t")
        depth = len(line) - len(stripped)
        name = stripped.rstrip("\r\n")
        if depth == 4:
            if name:
                pending.append(name)
            continue
        flush()
        if depth == 3:
            town = name
            if county:
                townships[county].append(name)
        elif depth == 2:
            parts = name.split("\t")
            county, town = (parts[1][:6] if len(parts) > 1 else ""), ""
            if county:
                names[county] = parts[0]
                townships.setdefault(county, [])
        else:
            county, town = "", ""
    flush()
    if not townships:
        msg = f"the township list in {str(path)!r} holds no county"
        raise StoreError(msg)
    out = Gazetteer({k: tuple(v) for k, v in townships.items()}, names, villages)
    log.debug(
        "read %d townships of %d counties in %.2f s from %s",
        sum(len(v) for v in out.townships.values()),
        len(out.townships),
        time.perf_counter() - t0,
        path,
    )
    return out


@cache
def gazetteer() -> Gazetteer:
    """Return the township and village list of the installed ``jionlp`` package, read once.

    Raises
    ------
    StoreError
        ``jionlp`` is not installed.
    """
    return read_gazetteer(location_zip())
