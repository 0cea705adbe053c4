"""Predictions per second of a fine-tuned text model on CPU, batch 1 and batch 32.

The model is Lepton's default fine-tune of MiniLM on SST-2 training rows (or a
saved model given with ``--model``); the texts are SST-2's dev set. In one
process, alternating over repeats:

- **Lepton**: ``TextModel.predict`` on a one-row table per text (batch 1) and
  on 32-row tables (batch 32; each batch is sorted by length to cut padding);
- **baseline**: ``transformers.pipeline("text-classification")`` over the same
  network and tokenizer, one text per call, and ``batch_size=32``.

Run: ``python bench/text_infer.py [--rows 1000] [--single 200] [--repeats 3] [--threads N]``
(``--model PATH`` scores a saved text model instead of training one).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def _rate(fn, n: int) -> float:
    start = time.perf_counter()
    fn()
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000, help="training rows for the model")
    parser.add_argument("--single", type=int, default=200, help="texts scored one at a time")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", help="a saved text model folder instead of training one")
    parser.add_argument("--threads", type=int, help="torch threads for both sides")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from text_sst2 import load_sst2
    from transformers import pipeline

    from lepton_core.models import load_model
    from lepton_core.text import TextModel

    train, dev = load_sst2(args.rows)
    if args.model:
        model = load_model(args.model)
    else:
        model = TextModel().fit(train[["text"]], train["label"])
    column = model.feature_names_in_[0]
    table = dev[["text"]].rename(columns={"text": column})
    texts = table[column].tolist()
    single = table.iloc[: args.single]
    classify = pipeline(
        "text-classification",
        model=model.final_estimator_,
        tokenizer=model.tokenizer_,
        device="cpu",
    )
    # The two sides must agree before their speed is compared.
    ours = model.predict(table).astype(str)
    theirs = np.asarray([o["label"] for o in classify(texts, batch_size=32)])
    agreement = float(np.mean(ours == theirs))

    def lepton_1():
        for i in range(len(single)):
            model.predict(single.iloc[[i]])

    def lepton_32():
        for i in range(0, len(table), 32):
            model.predict(table.iloc[i : i + 32])

    def pipe_1():
        for text in single[column]:
            classify(text)

    def pipe_32():
        classify(texts, batch_size=32)

    rates: dict[str, list[float]] = {k: [] for k in ("l1", "p1", "l32", "p32")}
    for _ in range(args.repeats):
        rates["l1"].append(_rate(lepton_1, len(single)))
        rates["p1"].append(_rate(pipe_1, len(single)))
        rates["l32"].append(_rate(lepton_32, len(table)))
        rates["p32"].append(_rate(pipe_32, len(table)))
    med = {k: statistics.median(v) for k, v in rates.items()}
    print(
        f"torch threads {torch.get_num_threads()}, load {os.getloadavg()[0]:.2f}; "
        f"labels agree on {agreement:.4f} of dev"
    )
    print("| batch | Lepton predict (texts/s) | pipeline (texts/s) | Lepton ÷ pipeline |")
    print("|---|---|---|---|")
    for size, ours_key, theirs_key in ((1, "l1", "p1"), (32, "l32", "p32")):
        print(
            f"| {size} | {med[ours_key]:.1f} | {med[theirs_key]:.1f} | "
            f"{med[ours_key] / med[theirs_key]:.2f} |"
        )


if __name__ == "__main__":
    main()
