"""Benchmark of the address parser: phrase-level P/R/F1 on the Chinese dev split, speed.

Run:  .venv/bin/python bench/address_parse.py [--data ../shared/data/address] [--limit N]

Scores are exact label + span (conlleval style), overall and per label, on ``dev.txt``
of the public Chinese address corpus. Speed is addresses per second on one core, for
the Chinese dev addresses and for generated Latin-script addresses.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _common import write_results  # noqa: E402

from addressing import parse  # noqa: E402
from addressing._zh_model import model_path  # noqa: E402
from addressing.errors import InvalidAddress  # noqa: E402
from addressing.evaluate import read_conll, score  # noqa: E402


def _latin_samples(n: int) -> list[str]:
    streets = [
        "Mannerheimintie",
        "Fredrikinkatu",
        "Mannerheimvägen",
        "Bulevardi",
        "Aleksanterinkatu",
    ]
    out = []
    for i in range(n):
        s = streets[i % len(streets)]
        out.append(f"{s} {i % 90 + 1} {'ABC'[i % 3]} {i % 40 + 1}, 00{i % 99:03d} Helsinki")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "address")
    ap.add_argument("--limit", type=int, default=0, help="score only the first N dev addresses")
    args = ap.parse_args()

    dev = read_conll(args.data / "dev.txt")
    if args.limit:
        dev = dev[: args.limit]
    t0 = time.perf_counter()
    parse("杭州市文三路90号")  # trains the tagger on first use, or loads it
    print(f"model {model_path()} ready in {time.perf_counter() - t0:.1f} s")

    pairs = []
    rejected = 0
    t = time.perf_counter()
    for a in dev:
        try:
            pred = [(c.label, c.start, c.end) for c in parse(a.text)]
        except InvalidAddress:
            pred, rejected = [], rejected + 1
        pairs.append((a.phrases, pred))
    zh_s = time.perf_counter() - t
    s = score(pairs)
    table = s.table()
    print(f"{'label':<11}{'P':>8}{'R':>8}{'F1':>8}{'gold':>7}")
    for label, row in table.items():
        print(
            f"{label:<11}{row['precision']:>8.2f}{row['recall']:>8.2f}{row['f1']:>8.2f}{row['gold']:>7}"
        )
    zh_rate = len(dev) / zh_s
    latin = _latin_samples(5000)
    t = time.perf_counter()
    for text in latin:
        parse(text)
    latin_rate = len(latin) / (time.perf_counter() - t)
    print(f"{len(dev)} Chinese dev addresses ({rejected} rejected as invalid input)")
    print(
        f"speed: Chinese {zh_rate:,.0f} addresses/s, Latin {latin_rate:,.0f} addresses/s (one core)"
    )
    print(
        f"target: F1 >= 90 -> {'met' if table['overall']['f1'] >= 90 else 'NOT met'}; "
        f"speed >= 5,000/s -> {'met' if min(zh_rate, latin_rate) >= 5000 else 'NOT met'}"
    )
    write_results(
        "address_parse",
        {
            "dev": str(args.data / "dev.txt"),
            "addresses": len(dev),
            "rejected": rejected,
            "scores": table,
            "speed_per_s": {"zh": round(zh_rate), "latin": round(latin_rate)},
            "model": model_path().name,
        },
    )


if __name__ == "__main__":
    main()
