"""Accuracy of the Chinese parser on the public corpus (``../shared/data/address``).

The corpus is read to measure only. The floor is a regression guard set a few points
under the measured figure (see ``bench/address_parse.py`` for the full report).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from addressing import parse
from addressing.errors import InvalidAddress
from addressing.evaluate import Scores, read_conll, score

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
DEV = SHARED / "address" / "dev.txt"

# Measured on the first 1,000 dev addresses: overall F1 85.2; prov 96.5, city 96.6,
# district 94.9, road 89.7, roadno 91.7. The floors leave room for retraining noise.
FLOOR_OVERALL = 81.0
FLOOR_PER_LABEL = {"prov": 90.0, "city": 88.0, "district": 88.0, "road": 86.0, "roadno": 86.0}

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def dev_scores() -> Scores:
    if not DEV.is_file():
        pytest.skip(f"the Chinese address corpus is not at {DEV}")
    pairs = []
    for a in read_conll(DEV)[:1000]:
        try:
            pred = [(c.label, c.start, c.end) for c in parse(a.text)]
        except InvalidAddress:
            pred = []
        pairs.append((a.phrases, pred))
    return score(pairs)


def test_overall_f1_stays_above_the_floor(dev_scores: Scores) -> None:
    assert dev_scores.prf()[2] >= FLOOR_OVERALL


@pytest.mark.parametrize("label", sorted(FLOOR_PER_LABEL))
def test_division_and_road_f1_stay_above_their_floor(dev_scores: Scores, label: str) -> None:
    assert dev_scores.prf(label)[2] >= FLOOR_PER_LABEL[label]


def test_reader_rebuilds_the_text_with_spaces() -> None:
    if not DEV.is_file():
        pytest.skip(f"the Chinese address corpus is not at {DEV}")
    dev = read_conll(DEV)
    assert len(dev) > 2000
    for a in dev[:200]:
        assert "_" not in a.text
        assert a.phrases[0][1] == 0
        assert a.phrases[-1][2] == len(a.text)
