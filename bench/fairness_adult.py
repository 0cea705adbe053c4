"""Fairness mitigation on UCI Adult by ``sex``: baseline LightGBM vs each fairlearn method.

One process: train LightGBM with Lepton's defaults (``train``), then run every
method of :func:`lepton_core.runs._mitigate.mitigate_run` on that run. Each mitigated
version is evaluated on the same adult.test rows as the baseline. Printed: accuracy,
its change in points, DPD and EOD by ``sex``, and the DPD ratio to the baseline.

Published anchor (fairlearn's Adult example, logistic regression):
ExponentiatedGradient took DPD from about 0.18 to about 0.00 at about 2 points of
accuracy. Our goal: the same DPD reduction at ≤ 1.5 points.

Also printed: a bound for any post-processing of the baseline's scores. For each
allowed DPD, the best test accuracy of group-specific thresholds chosen with the
test labels themselves (the top-scored share of each group is predicted
positive, shares at most that far apart). No deployable method sees the test
labels, so none of them can beat it without better scores than the baseline's.

Run: ``python bench/fairness_adult.py [--methods threshold_dp,expgrad_dp] [--max-iter 50]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from lepton_core.models import MITIGATION_METHODS
    from lepton_core.runs import TrainConfig, mitigate_run, train
    from lepton_core.workspace import Workspace

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default=",".join(MITIGATION_METHODS))
    parser.add_argument("--max-iter", type=int, default=50)
    parser.add_argument("--eps", type=float, default=0.01, help="ExponentiatedGradient's eps")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(tmp)
        start = time.perf_counter()
        base = train(
            TrainConfig(data="sample:adult", sensitive=["sex"], explain_rows=200), workspace=ws
        )
        base_s = time.perf_counter() - start
        report = base.fairness[0]
        acc0 = base.evaluation.metrics["accuracy"]
        dpd0 = report.demographic_parity_difference
        print(f"adult.test rows: {base.n_test:,}; baseline LightGBM trained in {base_s:.1f} s")
        header = (
            f"{'model':<40}{'accuracy':>9}{'Δ pts':>8}{'DPD':>8}{'EOD':>8}{'DPD/base':>10}{'s':>7}"
        )
        print(header)
        print("-" * len(header))
        print(
            f"{'LightGBM (baseline)':<40}{acc0:>9.4f}{0:>8.2f}{dpd0:>8.4f}"
            f"{report.equalized_odds_difference:>8.4f}{1:>10.2f}{base_s:>7.1f}"
        )
        outcomes = {}
        for method in args.methods.split(","):
            result = mitigate_run(
                ws,
                base.run_id,
                sensitive="sex",
                method=method,
                max_iter=args.max_iter,
                eps=args.eps,
            )
            rows = {r["metric"]: r for r in result.rows}
            acc = rows["accuracy"]["after"]
            dpd = rows["demographic_parity_difference"]["after"]
            eod = rows["equalized_odds_difference"]["after"]
            delta = (acc - acc0) * 100
            outcomes[method] = (delta, dpd)
            name = f"{MITIGATION_METHODS[method][0]} · {MITIGATION_METHODS[method][1]}"
            print(
                f"{name:<40}{acc:>9.4f}{delta:>8.2f}{dpd:>8.4f}{eod:>8.4f}"
                f"{dpd / dpd0:>10.2f}{result.seconds:>7.1f}"
            )
        print_threshold_bound(ws, base.run_id, acc0)
        if "expgrad_dp" in outcomes:
            delta, dpd = outcomes["expgrad_dp"]
            ok = dpd <= 0.02 and delta >= -1.5
            print(
                f"\ngoal (ExponentiatedGradient DP: DPD {dpd0:.2f} → ≤ 0.02 at ≤ 1.5 points): "
                f"DPD {dpd:.3f}, {delta:+.2f} points → {'met' if ok else 'NOT met'}"
            )


def print_threshold_bound(ws, run_id: str, acc0: float) -> None:
    """The best test accuracy of group thresholds picked on the test labels, per allowed DPD."""
    from dataclasses import replace

    from lepton_core.runs import TrainConfig, load_run_reports, prepare_data

    run = load_run_reports(ws, run_id).run
    config = TrainConfig.from_dict(ws.load_report(run_id, "config"))
    data = prepare_data(replace(config, data=f"dataset:{run.dataset_id}"), ws)
    model = ws.load_model(run.model_name, run.model_version)
    scores = model.predict_proba(data.x_test)[:, 1]
    truth = (data.split.test[data.info.target].to_numpy() == model.classes_[1]).astype(int)
    groups = data.split.test["sex"].astype(str).to_numpy()
    print(
        "\nbound for post-processing the baseline's scores (thresholds fitted on the test labels):"
    )
    for tolerance in TOLERANCES:
        accuracy = threshold_bound(scores, truth, groups, tolerance)
        print(
            f"  DPD ≤ {tolerance:<6} accuracy {accuracy:.4f} "
            f"({(accuracy - acc0) * 100:+.2f} points)"
        )


TOLERANCES = (0.005, 0.01, 0.02, 0.03)


def threshold_bound(scores, truth, groups, tolerance: float) -> float:
    """Best accuracy of two group thresholds whose positive shares differ by ≤ ``tolerance``.

    The thresholds are chosen with the labels ``truth`` themselves, so no method
    that post-processes ``scores`` can do better on these rows.
    """
    import numpy as np

    # Per group: correct predictions when its k top-scored rows are called positive, k = 0..n.
    shares, correct = [], []
    for group in np.unique(groups):
        ranked = truth[groups == group][np.argsort(-scores[groups == group], kind="stable")]
        hits = np.concatenate([[0], np.cumsum(ranked)])
        k = np.arange(len(ranked) + 1)
        shares.append(k / len(ranked))
        correct.append(hits + (len(ranked) - ranked.sum()) - (k - hits))
    if len(shares) != 2:
        raise ValueError("The bound is for two groups.")
    best = 0
    for j, share in enumerate(shares[1]):
        near = np.flatnonzero(np.abs(shares[0] - share) <= tolerance)
        if len(near):
            best = max(best, correct[0][near].max() + correct[1][j])
    return best / len(truth)


if __name__ == "__main__":
    main()
