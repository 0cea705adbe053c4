"""int8 quantisation of a fine-tuned text model, in torch and in ONNX, against float32 torch.

One process: Lepton fine-tunes its default text model (MiniLM-L6) on the SST-2
sample (4,000 training sentences); then four variants of the same network score
the 872-sentence dev set:

- torch float32: the model itself (``TextModel.logits``);
- torch int8: the encoder's Linear layers quantised by torch (what
  ``model.quantise("torch-int8")`` does);
- ONNX float32: ``lepton_core.text.text_to_onnx`` run by onnxruntime
  (``text_onnx_scorer``: the model's tokenizer and length-sorted batches);
- ONNX int8: the same graph through ``quantize_text_onnx``.

Figures: accuracy, labels agreeing with torch float32, weight size, and
predictions per second at batch 1 and batch 32 (median of repeats, alternating
the variants), both in wall time and in this process's CPU time. On a shared
machine, CPU time with ``--threads 1`` is the steadier measure: it does not count
the time the process waits for a core.

Goal (issue 5): ≥ 1.8× faster with accuracy within 1 point (PyTorch's published
BERT figure is 1.8× with no F1 loss).

Run: ``python bench/text_int8.py [--repeats 3] [--threads N] [--mode finetune]``
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    import torch

    from lepton_core.data import load_sample
    from lepton_core.text import TextModel, quantize_text_onnx, text_onnx_scorer, text_to_onnx

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mode", default="finetune", choices=["finetune", "quick"])
    parser.add_argument("--single", type=int, default=200, help="texts scored one at a time")
    parser.add_argument("--threads", type=int, help="torch and onnxruntime threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()

    sample = load_sample("sst2")
    texts = sample.test["sentence"].tolist()
    truth = sample.test["sentiment"].to_numpy()
    print(f"threads {threads}, load {os.getloadavg()[0]:.2f} at start")
    start = time.perf_counter()
    model = TextModel(mode=args.mode).fit(sample.train[["sentence"]], sample.train["sentiment"])
    print(
        f"fine-tuned ({args.mode}) on {len(sample.train):,} sentences in "
        f"{time.perf_counter() - start:.1f} s"
    )

    start = time.perf_counter()
    graph = text_to_onnx(model)
    exported = time.perf_counter() - start
    int8_graph = quantize_text_onnx(graph)
    print(
        f"ONNX export {exported:.1f} s, int8 quantisation "
        f"{time.perf_counter() - start - exported:.1f} s"
    )
    variants = {
        "torch float32": model,
        "torch int8": model.quantise("torch-int8"),
        "ONNX float32": text_onnx_scorer(model, graph, threads=threads),
        "ONNX int8": text_onnx_scorer(model, int8_graph, threads=threads),
    }
    sizes = {
        "torch float32": _state_size(model.final_estimator_),
        "torch int8": _state_size(variants["torch int8"].final_estimator_),
        "ONNX float32": len(graph),
        "ONNX int8": len(int8_graph),
    }

    reference = model.logits(texts).argmax(axis=1)
    figures: dict[str, dict[str, float]] = {}
    for name, m in variants.items():
        scores = m.logits(texts).argmax(axis=1)
        figures[name] = {
            "accuracy": float(np.mean(model.classes_[scores] == truth)),
            "agreement": float(np.mean(scores == reference)),
            "size": sizes[name],
        }

    def per_second(m, batch: int) -> tuple[float, float]:
        chosen = texts[: args.single] if batch == 1 else texts
        wall, cpu = time.perf_counter(), time.process_time()
        for i in range(0, len(chosen), batch):
            m.logits(chosen[i : i + batch], batch_size=batch)
        return len(chosen) / (time.perf_counter() - wall), len(chosen) / (time.process_time() - cpu)

    for batch in (1, 32):
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
        for _ in range(args.repeats):
            for name, m in variants.items():  # alternate, so noise hits all of them
                runs[name].append(per_second(m, batch))
        for name in variants:
            figures[name][f"wall{batch}"] = statistics.median(r[0] for r in runs[name])
            figures[name][f"cpu{batch}"] = statistics.median(r[1] for r in runs[name])

    base = figures["torch float32"]
    print(f"\nload {os.getloadavg()[0]:.2f} at end; texts/s (× torch float32)")
    print(
        f"{'':<15}{'accuracy':>9}{'Δ pts':>7}{'agree':>7}{'MB':>7}"
        f"{'wall b1':>16}{'wall b32':>16}{'CPU b1':>16}{'CPU b32':>16}"
    )
    for name, f in figures.items():
        cells = "".join(
            f"{f[k]:>8.1f} (×{f[k] / base[k]:.2f})" for k in ("wall1", "wall32", "cpu1", "cpu32")
        )
        print(
            f"{name:<15}{f['accuracy']:>9.4f}{100 * (f['accuracy'] - base['accuracy']):>+7.2f}"
            f"{f['agreement']:>7.3f}{f['size'] / 1e6:>7.1f}{cells}"
        )
    print("goal: ≥ 1.8× faster than torch float32, accuracy within 1 point")


def _state_size(network: Any) -> int:
    """Bytes of the network's weights as ``torch.save`` writes them."""
    import torch

    buffer = io.BytesIO()
    torch.save(network.state_dict(), buffer)
    return len(buffer.getvalue())


if __name__ == "__main__":
    main()
