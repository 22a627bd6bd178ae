"""Phrase-level scores of the address parser, in the manner of ``conlleval``.

A phrase counts as correct when its label and its character span both match exactly.
:func:`read_conll` reads labelled addresses in the two-column format of the public
Chinese address corpus (one unit and one BIO tag a line, a blank line between
addresses, ``_`` standing for a space).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["LabelledAddress", "Scores", "read_conll", "score"]

type Phrase = tuple[str, int, int]


@dataclass(frozen=True, slots=True)
class LabelledAddress:
    """An address text and its gold phrases ``(label, start, end)``."""

    text: str
    phrases: tuple[Phrase, ...]


@dataclass(slots=True)
class Scores:
    """Counts of correct, predicted and gold phrases, overall and per label."""

    correct: Counter[str] = field(default_factory=Counter)
    predicted: Counter[str] = field(default_factory=Counter)
    gold: Counter[str] = field(default_factory=Counter)

    def prf(self, label: str | None = None) -> tuple[float, float, float]:
        """Return precision, recall and F1 in percent, for ``label`` or overall."""
        if label is None:
            c, p, g = (sum(x.values()) for x in (self.correct, self.predicted, self.gold))
        else:
            c, p, g = self.correct[label], self.predicted[label], self.gold[label]
        prec = 100.0 * c / p if p else 0.0
        rec = 100.0 * c / g if g else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        return prec, rec, f1

    def table(self) -> dict[str, dict[str, float | int]]:
        """Return the scores overall and per gold or predicted label."""
        out: dict[str, dict[str, float | int]] = {}
        for label in [None, *sorted(set(self.gold) | set(self.predicted))]:
            p, r, f = self.prf(label)
            key = label or "overall"
            n = self.gold[label] if label else sum(self.gold.values())
            out[key] = {
                "precision": round(p, 2),
                "recall": round(r, 2),
                "f1": round(f, 2),
                "gold": n,
            }
        return out


def read_conll(path: str | Path) -> list[LabelledAddress]:
    """Read labelled addresses from a two-column BIO file.

    Labels are lower-cased (``devZone`` becomes ``devzone``).

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    list of LabelledAddress
        One per block of lines.
    """
    out: list[LabelledAddress] = []
    units: list[tuple[str, str]] = []

    def _flush() -> None:
        if not units:
            return
        text, phrases, pos = "", [], 0
        label, start = "", 0
        for tok, tag in units:
            piece = tok.replace("_", " ")
            lab = tag[2:].lower() if len(tag) > 2 else ""
            if tag.startswith("B-") or lab != label:
                if label:
                    phrases.append((label, start, pos))
                label, start = lab, pos
            text += piece
            pos += len(piece)
        if label:
            phrases.append((label, start, pos))
        out.append(LabelledAddress(text, tuple(phrases)))
        units.clear()

    with Path(path).open(encoding="utf-8") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if not line.strip():
                _flush()
                continue
            tok, _, tag = line.rpartition(" ")
            units.append((tok, tag))
    _flush()
    return out


def score(pairs: Iterable[tuple[Iterable[Phrase], Iterable[Phrase]]]) -> Scores:
    """Score predicted phrases against gold ones.

    Parameters
    ----------
    pairs
        ``(gold, predicted)`` phrase collections, one pair per address.

    Returns
    -------
    Scores
        The counts; see :meth:`Scores.prf`.
    """
    s = Scores()
    for gold, pred in pairs:
        g, p = set(gold), set(pred)
        s.gold.update(x[0] for x in g)
        s.predicted.update(x[0] for x in p)
        s.correct.update(x[0] for x in g & p)
    return s
