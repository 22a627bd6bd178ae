"""Rules applied after the Chinese address tagger, for systematic slips.

Each rule follows the grammar of Chinese addresses, not any one corpus:

* a number written right after a road name, with nothing after it that a building
  part would need, is that road's door number (``双燕路1783``);
* a province, city or county name written after the street part, right before a
  company or shop name, begins that name (``...1071室杭州逸翔化工科技有限公司``);
* a name written twice in a row is one name and a redundant copy (``彭埠镇彭埠镇``);
* ``收`` (for the attention of) after a name is a delivery note, not part of it;
* a township name never ends on its type word twice: in ``新降镇镇前大道`` the second
  ``镇`` begins the road;
* a company name (``...有限公司``, ``...厂``) is one name: a sub-place the tagger ended
  inside it, on no place word, is joined with the rest (``鑫龙水准仪器有限公司``);
* a place name right after the county that begins with a township (``大联镇邮局``)
  names the township first, when the address names no township otherwise.

A rule only relabels, splits or merges the tagger's phrases; the phrases still cover
the text in reading order.
"""

from __future__ import annotations

import re

__all__ = ["apply_rules"]

type Phrase = tuple[str, int, int]

_NUMBER = re.compile(r"[0-9０-９]+[号號]?")
_DIVISIONS = frozenset({"prov", "city", "district"})
_STREET_ON = frozenset(
    {"road", "roadno", "subroad", "subroadno", "poi", "subpoi", "houseno", "cellno", "floorno",
     "roomno"}
)  # fmt: skip
_NAMES = frozenset({"poi", "subpoi", "person"})
_PLACES = frozenset({"prov", "city", "district", "town", "community", "devzone", "poi", "road"})


def apply_rules(text: str, phrases: list[Phrase]) -> list[Phrase]:
    """Return ``phrases`` with the systematic slips of the tagger corrected.

    Parameters
    ----------
    text
        The address.
    phrases
        ``(label, start, end)`` in reading order, covering ``text``.

    Returns
    -------
    list of Phrase
        The corrected phrases, still in reading order and covering ``text``.

    Examples
    --------
    >>> apply_rules("双燕路1783", [("road", 0, 3), ("roomno", 3, 7)])
    [('road', 0, 3), ('roadno', 3, 7)]
    >>> apply_rules("彭埠镇彭埠镇", [("town", 0, 6)])
    [('town', 0, 3), ('redundant', 3, 6)]
    """
    out = _split_doubled(text, phrases)
    labels = {p[0] for p in out}
    if "town" in labels:
        out = _type_word_once(text, out)
    if "road" in labels and "roadno" not in labels:
        out = _door_number(text, out)
    if labels & _DIVISIONS:
        if labels & _NAMES and labels & _STREET_ON:
            out = _place_begins_name(out)
        if "poi" in labels and "town" not in labels:
            out = _township_first(text, out)
    if "收" in text:
        out = _note_after_name(text, out)
    if "person" in labels and "subpoi" in labels:
        out = _company_in_one(text, out)
    return out


def _split_doubled(text: str, phrases: list[Phrase]) -> list[Phrase]:
    out: list[Phrase] = []
    for label, s, e in phrases:
        half = (e - s) // 2
        # only a name whose first two characters come back can be written twice
        if label in _PLACES and half >= 2 and text.find(text[s : s + 2], s + 2, e) > 0:
            if (e - s) % 2 == 0 and text[s : s + half] == text[s + half : e]:
                out += [(label, s, s + half), ("redundant", s + half, e)]
                continue
            # a short form, then the full name: 四季青四季青街道
            k = next((k for k in range(2, half + 1) if text.startswith(text[s : s + k], s + k)), 0)
            if k:
                out += [("redundant", s, s + k), (label, s + k, e)]
                continue
        out.append((label, s, e))
    return out


def _type_word_once(text: str, phrases: list[Phrase]) -> list[Phrase]:
    out = list(phrases)
    for k in range(len(out) - 1):
        label, s, e = out[k]
        if label == "town" and e - s >= 4 and text[e - 2 : e] in {"镇镇", "乡乡"}:
            out[k] = (label, s, e - 1)
            out[k + 1] = (out[k + 1][0], e - 1, out[k + 1][2])
    return out


def _door_number(text: str, phrases: list[Phrase]) -> list[Phrase]:
    out = list(phrases)
    for k in range(1, len(out)):
        label, s, e = out[k]
        if out[k - 1][0] != "road" or label not in {"roomno", "houseno"}:
            continue
        after = next((p[0] for p in out[k + 1 :] if p[0] != "redundant"), "")
        if _NUMBER.fullmatch(text, s, e) and after not in {"roomno", "cellno", "floorno"}:
            out[k] = ("roadno", s, e)
            break
    return out


def _place_begins_name(phrases: list[Phrase]) -> list[Phrase]:
    out: list[Phrase] = []
    street = False
    k = 0
    while k < len(phrases):
        label, s, e = phrases[k]
        if street and label in _DIVISIONS and k + 1 < len(phrases):
            nxt = phrases[k + 1]
            if nxt[0] in _NAMES:
                out.append((nxt[0], s, nxt[2]))
                k += 2
                continue
        street = street or label in _STREET_ON
        out.append((label, s, e))
        k += 1
    return out


def _note_after_name(text: str, phrases: list[Phrase]) -> list[Phrase]:
    out: list[Phrase] = []
    for label, s, e in phrases:
        if label in _NAMES and e - s >= 3 and text[e - 1] == "收":
            out += [(label, s, e - 1), ("redundant", e - 1, e)]
        else:
            out.append((label, s, e))
    return out


_COMPANY = re.compile(r"(?:公司|厂|商行|经营部)$")
# what a sub-place name ends with when it is one (东区, 东门, 3号楼, 商务中心...)
_PLACE_WORD = re.compile(r"(?:[区园楼门场城苑座号层栋幢库馆院室部处店期]|中心|大厦|广场)$")


def _company_in_one(text: str, phrases: list[Phrase]) -> list[Phrase]:
    out: list[Phrase] = []
    for label, s, e in phrases:
        if label == "person" and out and out[-1][0] == "subpoi" and out[-1][2] == s:
            prev = out[-1]
            if _COMPANY.search(text, s, e) and not _PLACE_WORD.search(text, prev[1], prev[2]):
                out[-1] = ("subpoi", prev[1], e)
                continue
        out.append((label, s, e))
    return out


_TOWNSHIP = re.compile(r"[\u4e00-\u9fff]{2,4}?(?:镇|街道|乡)")


def _township_first(text: str, phrases: list[Phrase]) -> list[Phrase]:
    out: list[Phrase] = []
    for k, (label, s, e) in enumerate(phrases):
        if label == "poi" and k and phrases[k - 1][0] in _DIVISIONS:
            m = _TOWNSHIP.match(text, s, e)
            if m and e - m.end() >= 2:
                out += [("town", s, m.end()), (label, m.end(), e)]
                out += phrases[k + 1 :]
                return out
        out.append((label, s, e))
    return out
