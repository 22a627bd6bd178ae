"""Benchmark of the address parser: phrase-level P/R/F1 on the Chinese dev split, speed.

Run:  .venv/bin/python bench/address_parse.py [--data ../shared/data/address] [--limit N]
          [--errors] [--examples LABEL]

``--errors`` prints an error report to the terminal (nothing of it is written to disk):
the loss of each label (gold count x (1 - F1)), and each missed gold phrase sorted into
a wrong label on the same span, a wrong boundary with the same label, or both.
``--examples LABEL`` also prints a few missed phrases of that label in their address,
to look at error patterns.

Scores are exact label + span (conlleval style), overall and per label, on ``dev.txt``
of the public Chinese address corpus. Speed is addresses per second on one core, for
the Chinese dev addresses and for generated Latin-script addresses.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
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


type Phrase = tuple[str, int, int]


def _error_kind(g: Phrase, pred: list[Phrase]) -> str:
    """Sort a missed gold phrase: what the parser wrote over its span instead."""
    label, s, e = g
    over = [p for p in pred if p[1] < e and s < p[2]]
    same_span = [p for p in over if (p[1], p[2]) == (s, e)]
    if same_span:
        return f"label {label}->{same_span[0][0]}"
    if any(p[0] == label for p in over):
        inside = [p for p in over if p[0] == label]
        p = inside[0]
        if p[1] <= s and p[2] >= e:
            return f"bound {label}: merged into a longer {label}"
        if p[1] >= s and p[2] <= e:
            return f"bound {label}: split or cut short"
        return f"bound {label}: shifted"
    return f"both  {label}->{'+'.join(sorted({p[0] for p in over}))}"


def error_report(
    texts: list[str], pairs: list[tuple[tuple[Phrase, ...], list[Phrase]]], show: str, top: int
) -> None:
    """Print where the parser loses phrases (to the terminal only)."""
    s = score(pairs).table()
    print("\nloss by label: gold x (1 - F1)")
    losses = sorted(
        ((row["gold"] * (1 - row["f1"] / 100), k) for k, row in s.items() if k != "overall"),
        reverse=True,
    )
    for loss, k in losses:
        print(f"  {k:<11}{loss:8.1f}")
    kinds: Counter[str] = Counter()
    spurious: Counter[str] = Counter()
    shown = 0
    for text, (gold, pred) in zip(texts, pairs, strict=True):
        gs = set(gold)
        for g in gold:
            if g not in set(pred):
                kinds[_error_kind(g, pred)] += 1
                if g[0] == show and shown < top:
                    shown += 1
                    print(f"  [{show}] {text[g[1] : g[2]]!r} in {text!r}")
                    print("     gold:", " ".join(f"{t[0]}={text[t[1] : t[2]]}" for t in gold))
                    print("     pred:", " ".join(f"{t[0]}={text[t[1] : t[2]]}" for t in pred))
        for p in pred:
            if p not in gs and not any(x[1] < p[2] and p[1] < x[2] and x[0] == p[0] for x in gold):
                spurious[p[0]] += 1
    print("\nmissed gold phrases, by kind")
    for k, n in kinds.most_common(60):
        print(f"  {n:6d}  {k}")
    print("\npredicted phrases of a label that no gold phrase of that label overlaps")
    for k, n in spurious.most_common(25):
        print(f"  {n:6d}  {k}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "address")
    ap.add_argument("--limit", type=int, default=0, help="score only the first N dev addresses")
    ap.add_argument("--errors", action="store_true", help="print an error report")
    ap.add_argument("--examples", default="", help="print missed phrases of this label")
    ap.add_argument("--top", type=int, default=30, help="how many examples")
    args = ap.parse_args()

    dev = read_conll(args.data / "dev.txt")
    if args.limit:
        dev = dev[: args.limit]
    t0 = time.perf_counter()
    parse("杭州市文三路90号")  # trains the tagger on first use, or loads it
    ready_s = time.perf_counter() - t0
    print(f"model {model_path()} ready in {ready_s:.1f} s")

    pairs = []
    rejected = 0
    t = time.perf_counter()
    cpu = time.process_time()
    for a in dev:
        try:
            pred = [(c.label, c.start, c.end) for c in parse(a.text)]
        except InvalidAddress:
            pred, rejected = [], rejected + 1
        pairs.append((a.phrases, pred))
    zh_s = time.perf_counter() - t
    zh_cpu = time.process_time() - cpu
    s = score(pairs)
    table = s.table()
    print(f"{'label':<11}{'P':>8}{'R':>8}{'F1':>8}{'gold':>7}")
    for label, row in table.items():
        print(
            f"{label:<11}{row['precision']:>8.2f}{row['recall']:>8.2f}{row['f1']:>8.2f}{row['gold']:>7}"
        )
    zh_rate = len(dev) / zh_s
    zh_cpu_rate = len(dev) / zh_cpu
    if args.errors or args.examples:
        error_report([a.text for a in dev], pairs, args.examples, args.top)
    latin = _latin_samples(5000)
    t = time.perf_counter()
    cpu = time.process_time()
    for text in latin:
        parse(text)
    latin_rate = len(latin) / (time.perf_counter() - t)
    latin_cpu_rate = len(latin) / (time.process_time() - cpu)
    print(f"{len(dev)} Chinese dev addresses ({rejected} rejected as invalid input)")
    print(
        f"speed: Chinese {zh_rate:,.0f} addresses/s, Latin {latin_rate:,.0f} addresses/s "
        f"(wall clock, one thread); per CPU second: Chinese {zh_cpu_rate:,.0f}, "
        f"Latin {latin_cpu_rate:,.0f} (what one core does when other work shares the machine)"
    )
    print(
        f"target: F1 >= 90 -> {'met' if table['overall']['f1'] >= 90 else 'NOT met'}; "
        f"speed >= 5,000/s -> {'met' if min(zh_rate, latin_rate) >= 5000 else 'NOT met'}"
        f" (per CPU second: {'met' if min(zh_cpu_rate, latin_cpu_rate) >= 5000 else 'NOT met'})"
    )
    write_results(
        "address_parse",
        {
            "dev": str(args.data / "dev.txt"),
            "addresses": len(dev),
            "rejected": rejected,
            "scores": table,
            "speed_per_s": {"zh": round(zh_rate), "latin": round(latin_rate)},
            "speed_per_cpu_s": {"zh": round(zh_cpu_rate), "latin": round(latin_cpu_rate)},
            "model_ready_s": round(ready_s, 1),
            "model": model_path().name,
        },
    )


if __name__ == "__main__":
    main()
