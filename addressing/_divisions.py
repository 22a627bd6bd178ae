"""China's administrative divisions, read at run time from the ``cpca`` package.

The PyPI package ``cpca`` ships the GB/T 2260 division list (province, prefecture and
county levels, with 12-digit codes) as ``cpca/resources/adcodes.csv``. It is read from
the installed package when first needed, never copied into this project; the package
itself is not imported (its import loads pandas).
"""

from __future__ import annotations

import csv
import importlib.util
import logging
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from twin.errors import StoreError

__all__ = ["Division", "divisions", "expand_division", "nations", "prefecture_key", "short_forms"]

log = logging.getLogger(__name__)

# Municipalities directly under the central government are labelled ``city`` in
# addresses (上海市 静安区), although their codes are at province level.
_MUNICIPALITIES = frozenset({"11", "12", "31", "50"})
_PLACEHOLDERS = frozenset({"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"})
_PROV_SUFFIX = re.compile(r"(?:壮族|回族|维吾尔)?自治区$|特别行政区$|[省市]$")
_CITY_SUFFIX = re.compile(r"(?:地区|盟|市)$")
_COUNTY_SUFFIX = re.compile(r"(?:新区|矿区|林区|特区|[区县市旗])$")
# Counties abolished or merged before the list was made, which addresses still name
# (``绍兴县`` became ``柯桥区`` in 2013), with their former GB/T 2260 codes.
_FORMER_COUNTIES = (
    ("330621", "绍兴县"),
    ("330227", "鄞县"),
    ("330721", "金华县"),
    ("330821", "衢县"),
    ("520321", "遵义县"),
    ("310108", "闸北区"),
    ("320202", "崇安区"),
    ("320203", "南长区"),
    ("320204", "北塘区"),
)


@dataclass(frozen=True, slots=True)
class Division:
    """One administrative division.

    Attributes
    ----------
    code
        The 12-digit division code (GB/T 2260 followed by six zeros).
    name
        The official name, such as ``"杭州市"``.
    level
        The address label of the division: ``"prov"``, ``"city"`` or ``"district"``.
    parent
        The code of the division above it, or ``""`` for a province.
    """

    code: str
    name: str
    level: str
    parent: str


def _resource_dir() -> Path:
    spec = importlib.util.find_spec("cpca")
    if spec is None or spec.origin is None:
        msg = "the package 'cpca' is not installed; install it with 'pip install cpca'"
        raise StoreError(msg)
    return Path(spec.origin).parent / "resources"


def prefecture_key(code: str) -> str:
    """Return the code prefix of the prefecture holding division ``code``: its first four
    digits, or two for a municipality (``"330106"`` -> ``"3301"``, ``"310114"`` -> ``"31"``).
    """
    return code[:2] if code[:2] in _MUNICIPALITIES else code[:4]


def _county_parent(code: str) -> str:
    """The 12-digit code of the prefecture above county ``code`` (6 or 12 digits): the
    municipality itself for a county of one."""
    return prefecture_key(code).ljust(12, "0")


@cache
def nations() -> tuple[str, ...]:
    """Return the names of China's nationalities as written in division names, longest
    first (``蒙古族``, ``蒙古``...), from ``cpca/resources/56_nations.csv``."""
    path = _resource_dir() / "56_nations.csv"
    names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    out = set(names) | {n[:-1] for n in names if n.endswith("族") and len(n) > 2} | {"各族"}
    return tuple(sorted(out, key=len, reverse=True))


@cache
def _autonomous_suffix() -> re.Pattern[str]:
    return re.compile(f"(?:{'|'.join(nations())})+自治[州县旗区]$")


@cache
def divisions() -> tuple[Division, ...]:
    """Return every division of the ``cpca`` list, provinces first, and a few counties
    abolished before it was made that addresses still name (``绍兴县``).

    Returns
    -------
    tuple of Division
        About 3,500 divisions.
    """
    path = _resource_dir() / "adcodes.csv"
    out: list[Division] = []
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            code, name = row["adcode"], row["name"]
            if name in _PLACEHOLDERS or len(code) != 12:
                continue
            if code[2:] == "0000000000":
                level = "city" if code[:2] in _MUNICIPALITIES else "prov"
                parent = ""
            elif code[4:] == "00000000":
                level, parent = "city", code[:2] + "0" * 10
            else:
                level, parent = "district", _county_parent(code)
            out.append(Division(code, name, level, parent))
    known = {d.code for d in out}
    for county, name in _FORMER_COUNTIES:
        code, parent = county + "0" * 6, _county_parent(county)
        if code not in known and parent in known:
            out.append(Division(code, name, "district", parent))
    out.sort(key=lambda d: ("prov", "city", "district").index(d.level))
    log.debug("read %d divisions from %s", len(out), path)
    return tuple(out)


def short_forms(name: str, level: str) -> list[str]:
    """Return the short forms a division is written with in addresses.

    Parameters
    ----------
    name
        The official name.
    level
        ``"prov"``, ``"city"`` or ``"district"``.

    Returns
    -------
    list of str
        Shorter names of at least two characters (``"杭州市"`` gives ``["杭州"]``).

    Examples
    --------
    >>> short_forms("新疆维吾尔自治区", "prov")
    ['新疆']
    """
    out: list[str] = []
    auto = _autonomous_suffix().sub("", name)
    if auto != name:
        return [auto] if len(auto) >= 2 else []
    pattern = {"prov": _PROV_SUFFIX, "city": _CITY_SUFFIX}.get(level, _COUNTY_SUFFIX)
    cut = pattern.sub("", name)
    if cut != name:
        out.append(cut)
    return [s for s in dict.fromkeys(out) if len(s) >= 2]


@cache
def _by_form() -> dict[tuple[str, str], tuple[str, ...]]:
    table: dict[tuple[str, str], list[str]] = {}
    for d in divisions():
        for form in (d.name, *short_forms(d.name, d.level)):
            names = table.setdefault((d.level, form), [])
            if d.name not in names:
                names.append(d.name)
    return {k: tuple(v) for k, v in table.items()}


def expand_division(level: str, text: str) -> str | None:
    """Return the official name a division text stands for, if exactly one fits.

    Parameters
    ----------
    level
        ``"prov"``, ``"city"`` or ``"district"``.
    text
        The name as written (``"浙江"``).

    Returns
    -------
    str or None
        The official name (``"浙江省"``), or ``None`` when none or several fit.
    """
    names = _by_form().get((level, text))
    if names is None or len(names) != 1:
        return None
    return names[0]
