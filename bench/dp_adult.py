"""Differentially private MLP on UCI Adult at ε = 1, 3, 8 against the non-private MLP.

One process, same features, same test rows (adult.test): the non-private MLP with
Lepton's defaults is the baseline; each DP model is the MLP trained by Opacus
(Poisson sampling, per-sample clipping at 1.0, noise calibrated to the target ε,
δ = 1/n rounded down to a power of ten). Printed: accuracy, its gap to the baseline
in points, ε spent (larger of PRV and RDP), noise multiplier, steps, fit wall time
and its ratio to the baseline's.

Goals: at ε = 8 within 2 points of the non-private MLP, at ε = 1 within 5 points;
time overhead ≤ 2× (Opacus's published MNIST figure is about 1.6×).

Run: ``python bench/dp_adult.py [--epsilons 1,3,8] [--repeats 1]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from lepton_core.data import infer_schema, load_sample, prepare_features, split_table
    from lepton_core.dp import PrivacyOptions, make_private_model
    from lepton_core.models import make_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epsilons", default="1,3,8")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()

    sample = load_sample("adult")
    schema = infer_schema(sample.train)
    split = split_table(sample.train, "Y", task="binary", test=sample.test, seed=0)
    X, Xv, Xt = (prepare_features(p, schema, "Y") for p in (split.train, split.valid, split.test))
    y, yv, yt = (p["Y"].to_numpy() for p in (split.train, split.valid, split.test))

    def run(make) -> tuple[float, float, object]:
        times, model = [], None
        for _ in range(args.repeats):
            model = make()
            start = time.perf_counter()
            model.fit(X, y, X_valid=Xv, y_valid=yv)
            times.append(time.perf_counter() - start)
        accuracy = float(np.mean(model.predict(Xt) == yt))
        return accuracy, statistics.median(times), model

    acc0, t0, base = run(lambda: make_model("mlp", "binary"))
    print(f"Adult: {len(X):,} training rows, {len(Xt):,} test rows (adult.test)")
    head = (
        f"{'model':<18}{'accuracy':>9}{'Δ pts':>8}{'ε spent':>9}{'σ':>7}{'steps':>7}"
        f"{'fit s':>8}{'time ×':>8}"
    )
    print(head)
    print("-" * len(head))
    print(f"{'MLP (non-private)':<18}{acc0:>9.4f}{0:>8.2f}{'—':>9}{'—':>7}"
          f"{len(base.history_):>7}{t0:>8.1f}{1:>8.2f}")  # fmt: skip
    rows = []
    for eps in (float(e) for e in args.epsilons.split(",")):
        acc, t, model = run(
            lambda eps=eps: make_private_model(
                make_model("mlp", "binary"), PrivacyOptions(epsilon=eps)
            )
        )
        p = model.privacy_
        gap = (acc - acc0) * 100
        rows.append((eps, gap, t / t0))
        print(
            f"{f'DP MLP ε={eps:g}':<18}{acc:>9.4f}{gap:>8.2f}{p.epsilon:>9.3f}"
            f"{p.noise_multiplier:>7.2f}{p.steps:>7}{t:>8.1f}{t / t0:>8.2f}"
        )
    print("\n(steps: epochs for the non-private MLP, DP-SGD steps for the private ones)")
    for eps, gap, ratio in rows:
        limit = 2.0 if eps >= 8 else 5.0 if eps <= 1 else None
        verdict = "" if limit is None else (" met" if gap >= -limit else " NOT met")
        goal = f"within {limit:g} points:{verdict}; " if limit else ""
        print(f"ε={eps:g}: {goal}time ×{ratio:.2f} ({'met' if ratio <= 2 else 'NOT met'} ≤ 2×)")


if __name__ == "__main__":
    main()
