"""Differentially private text models on the SST-2 sample: Quick head and Fine-tune.

One process: the built-in MiniLM's frozen embeddings are computed once (cached),
then the non-private Quick head (the baseline) and the DP-SGD head at each ε are
fitted on the 4,000 training sentences and scored on the 872 dev sentences. Then
the non-private fine-tune (1 epoch, the default) is the baseline of the DP
fine-tune at each of ``--finetune-epsilons`` (on the first ``--finetune-rows``
sentences; an empty list skips them: they take minutes).
Printed: accuracy, its gap to the baseline in points, ε spent, noise multiplier,
steps, fit wall time and its ratio to the baseline's.

Run: ``python bench/dp_text.py [--epsilons 1,3,8] [--finetune-epsilons 8] [--finetune-rows 4000]``
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from lepton_core.data import load_sample
    from lepton_core.dp import PrivacyOptions
    from lepton_core.text import DP_TEXT_MAX_LENGTH, TextModel

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epsilons", default="1,3,8")
    parser.add_argument("--finetune-epsilons", default="8")
    parser.add_argument("--finetune-rows", type=int, default=4000)
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    sample = load_sample("sst2")
    X, y = sample.train[["sentence"]], sample.train["sentiment"]
    X_test, y_test = sample.test[["sentence"]], sample.test["sentiment"].to_numpy()
    # Computes and caches the embeddings for every run (DP cuts texts at a fixed length).
    TextModel(mode="quick").fit(X, y)
    TextModel(mode="quick", max_length=DP_TEXT_MAX_LENGTH).fit(X, y)

    def run(model):
        start = time.perf_counter()
        model.fit(X, y)
        seconds = time.perf_counter() - start
        return float(np.mean(model.predict(X_test) == y_test)), seconds, model

    acc0, t0, _ = run(TextModel(mode="quick"))
    print(f"SST-2 sample: {len(X):,} training sentences, {len(X_test):,} dev sentences")
    print(
        f"{'model':<16}{'accuracy':>9}{'Δ pts':>8}{'ε spent':>9}{'σ':>7}{'steps':>7}"
        f"{'fit s':>7}{'× time':>8}"
    )
    print(f"{'quick':<16}{acc0:>9.4f}{'':>8}{'':>9}{'':>7}{'':>7}{t0:>7.1f}{1:>8.2f}")
    for eps in _floats(args.epsilons):
        private = TextModel(mode="quick").private(PrivacyOptions(epsilon=eps))
        acc, t, model = run(private)
        _row(f"DP ε={eps:g}", acc, acc0, t, t0, model.privacy_)
    if not _floats(args.finetune_epsilons):
        return
    X, y = X.iloc[: args.finetune_rows], y.iloc[: args.finetune_rows]
    acc0, t0, _ = run(TextModel(mode="finetune"))
    print(f"Fine-tune on the first {len(X):,} training sentences")
    print(f"{'finetune':<16}{acc0:>9.4f}{'':>8}{'':>9}{'':>7}{'':>7}{t0:>7.1f}{1:>8.2f}")
    for eps in _floats(args.finetune_epsilons):
        private = TextModel(mode="finetune").private(PrivacyOptions(epsilon=eps))
        acc, t, model = run(private)
        _row(f"DP-FT ε={eps:g}", acc, acc0, t, t0, model.privacy_)


def _floats(text: str) -> list[float]:
    return [float(e) for e in text.split(",") if e.strip()]


def _row(name: str, acc: float, acc0: float, t: float, t0: float, r) -> None:
    print(
        f"{name:<16}{acc:>9.4f}{100 * (acc - acc0):>+8.2f}{r.epsilon:>9.3f}"
        f"{r.noise_multiplier:>7.2f}{r.steps:>7}{t:>7.1f}{t / t0:>8.2f}",
        flush=True,
    )


if __name__ == "__main__":
    main()
