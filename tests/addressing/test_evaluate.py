"""The conlleval-style scorer and the corpus reader, on tiny data written here."""

from __future__ import annotations

from pathlib import Path

import pytest

from addressing.evaluate import read_conll, score


def test_read_conll(tmp_path: Path) -> None:
    path = tmp_path / "tiny.txt"
    path.write_text(
        "杭 B-city\n州 I-city\n_ B-redundant\n文 B-road\n三 I-road\n路 I-road\n90 B-roadno\n号 I-roadno\n\n"
        "高 B-devZone\n新 I-devZone\n区 I-devZone\n\n",
        encoding="utf-8",
    )
    a, b = read_conll(path)
    assert a.text == "杭州 文三路90号"
    assert a.phrases == (("city", 0, 2), ("redundant", 2, 3), ("road", 3, 6), ("roadno", 6, 9))
    assert b.phrases == (("devzone", 0, 3),)


def test_score_counts_exact_label_and_span() -> None:
    gold = [("city", 0, 2), ("road", 2, 5), ("roadno", 5, 8)]
    pred = [("city", 0, 2), ("road", 2, 6), ("poi", 6, 8)]
    s = score([(gold, pred)])
    p, r, f = s.prf()
    assert p == pytest.approx(100 / 3)
    assert r == pytest.approx(100 / 3)
    assert f == pytest.approx(100 / 3)
    assert s.prf("city") == (100.0, 100.0, 100.0)
    assert s.prf("roadno") == (0.0, 0.0, 0.0)
    table = s.table()
    assert table["overall"]["gold"] == 3
    assert table["poi"]["precision"] == 0.0
