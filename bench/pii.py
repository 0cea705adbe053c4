"""Personal-data scanner: precision and recall per kind on the labelled corpus, and scan time.

The corpus is the one of ``tests/test_pii_corpus.py`` (six locales, decoys included,
values from Faker's locale providers); each column is scanned alone, as a table of
one column. Also timed: a scan of UCI Adult (32,561 rows, no free text, so the fast
path alone) and the first free-text scan, which imports Presidio and loads spaCy.

Run: ``python bench/pii.py [--seeds 0,1,2]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def main() -> None:
    import pandas as pd
    from test_pii_corpus import corpus, predicted, scores

    from lepton_core.data import load_sample, scan_table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    args = parser.parse_args()

    adult = load_sample("adult").train
    scan_table(adult)
    times = []
    for _ in range(7):
        start = time.perf_counter()
        scan_table(adult)
        times.append(time.perf_counter() - start)
    print(f"Adult ({len(adult):,} rows × {adult.shape[1]}): median scan "
          f"{statistics.median(times):.3f} s of 7; presidio loaded: "
          f"{'presidio_analyzer' in sys.modules}")  # fmt: skip

    start = time.perf_counter()
    scan_table(pd.DataFrame({"notes": ["Spoke to John Smith about the delivery today"] * 20}))
    print(f"first free-text scan (imports Presidio, verifies and loads spaCy): "
          f"{time.perf_counter() - start:.1f} s")  # fmt: skip

    totals: dict[str, list[int]] = {}
    misses = []
    for seed in (int(s) for s in args.seeds.split(",")):
        cols = corpus(seed)
        start = time.perf_counter()
        found = predicted(cols)
        elapsed = time.perf_counter() - start
        decoys = [f"{loc}/{h}" for loc, h, _, k in cols if k is None]
        flagged = sum(1 for d in decoys if found[d])
        locales = len({c[0] for c in cols})
        print(f"seed {seed}: {len(cols)} columns, {locales} locales, {len(decoys)} decoys "
              f"({flagged} flagged), scanned in {elapsed:.1f} s")  # fmt: skip
        for label, (_p, r, n, m) in scores(cols, found).items():
            tp = round(r * n)
            t = totals.setdefault(label, [0, 0, 0])
            t[0], t[1], t[2] = t[0] + tp, t[1] + n, t[2] + m
        misses += [
            f"seed {seed} {loc}/{h}: expected {k}, got {found[f'{loc}/{h}']}"
            for loc, h, _, k in cols
            if found[f"{loc}/{h}"] != k
        ]
    print("\n| kind | columns | flagged | precision | recall |\n|---|---|---|---|---|")
    for label, (tp, n, m) in totals.items():
        precision = tp / m if m else 1.0
        recall = tp / n if n else 1.0
        print(f"| {label} | {n} | {m} | {precision:.2f} | {recall:.2f} |")
    print("\nMisses and false alarms:" if misses else "\nNo miss, no false alarm.")
    for line in misses:
        print("-", line)


if __name__ == "__main__":
    main()
