"""Dynamic int8 quantisation of a fine-tuned text model against the float32 original.

One process: Lepton fine-tunes its default text model (MiniLM-L6) on the SST-2
sample (4,000 training sentences), then the same network with its encoder's Linear layers
quantised to int8 by torch (what ``lepton_core.export.compress(method="torch-int8")``
does) is compared with the original on the 872-sentence dev set: accuracy, weight
size, and predictions per second at batch 1 and batch 32 (median of repeats,
alternating the two models).

Goal (issue 5): ≥ 1.8× faster with accuracy within 1 point (PyTorch's published
BERT figure is 1.8× with no F1 loss).

Run: ``python bench/text_int8.py [--repeats 3] [--mode finetune]``
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
    from lepton_core.export import _state_size, _TorchQuantised
    from lepton_core.samples import load_sample
    from lepton_core.text.model import TextModel

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mode", default="finetune", choices=["finetune", "quick"])
    parser.add_argument("--single", type=int, default=200, help="texts scored one at a time")
    args = parser.parse_args()

    sample = load_sample("sst2")
    texts = sample.test["sentence"].tolist()
    truth = sample.test["sentiment"].to_numpy()
    start = time.perf_counter()
    model = TextModel(mode=args.mode).fit(sample.train[["sentence"]], sample.train["sentiment"])
    print(
        f"fine-tuned ({args.mode}) on {len(sample.train):,} sentences in "
        f"{time.perf_counter() - start:.1f} s"
    )

    quantised = _TorchQuantised(model).model  # exactly what compress(method="torch-int8") scores
    variants = {"float32": model, "int8": quantised}

    def accuracy(m) -> float:
        scores = m.logits(texts)
        return float(np.mean(m.classes_[scores.argmax(axis=1)] == truth))

    def per_second(m, batch: int) -> float:
        chosen = texts[: args.single] if batch == 1 else texts
        begin = time.perf_counter()
        for i in range(0, len(chosen), batch):
            m.logits(chosen[i : i + batch], batch_size=batch)
        return len(chosen) / (time.perf_counter() - begin)

    figures = {name: {"accuracy": accuracy(m)} for name, m in variants.items()}
    for batch in (1, 32):
        runs: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(args.repeats):
            for name, m in variants.items():  # alternate, so noise hits both
                runs[name].append(per_second(m, batch))
        for name in variants:
            figures[name][f"batch{batch}"] = statistics.median(runs[name])
    figures["float32"]["size"] = _state_size(model.final_estimator_)
    figures["int8"]["size"] = _state_size(quantised.final_estimator_)

    print(f"{'':<10}{'accuracy':>9}{'MB':>8}{'texts/s b1':>12}{'texts/s b32':>13}")
    for name, f in figures.items():
        print(
            f"{name:<10}{f['accuracy']:>9.4f}{f['size'] / 1e6:>8.1f}"
            f"{f['batch1']:>12.1f}{f['batch32']:>13.1f}"
        )
    base, q = figures["float32"], figures["int8"]
    print(
        f"speed-up: batch 1 ×{q['batch1'] / base['batch1']:.2f}, batch 32 "
        f"×{q['batch32'] / base['batch32']:.2f}; accuracy "
        f"{100 * (q['accuracy'] - base['accuracy']):+.2f} points; size "
        f"×{base['size'] / q['size']:.2f} smaller (goal ≥ 1.8× faster, within 1 point)"
    )


if __name__ == "__main__":
    main()
