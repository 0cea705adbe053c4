"""Fine-tuning the default text model on SST-2, against a plain ``transformers.Trainer`` run.

4,000 seeded rows of SST-2's training set (``../shared/data/sst2/train.tsv``),
scored on the whole dev set (872 rows). In one process:

- **baseline**: ``AutoModelForSequenceClassification`` from the built-in MiniLM
  folder, ``Trainer`` with batch 32, learning rate 5e-5, 1 epoch, dynamic
  padding (``DataCollatorWithPadding``), everything else transformers' default;
- **Lepton fine-tune**: ``TextModel()`` with its defaults (which hold out 10%
  of the rows for early stopping);
- **Lepton quick**: ``TextModel(mode="quick")``.

Wall time covers tokenising, training and (for Lepton) the hold-out
evaluations, not loading the tables or scoring dev. Each side starts with an
empty cache folder, so Lepton's caches do not help it.

Goal: dev accuracy ≥ 0.85 in no more time than the baseline, or the baseline's
accuracy in ≤ 0.6 of its time.

Run: ``python bench/text_sst2.py [--rows 4000] [--threads N] [--variant name:key=value,...]``
(each ``--variant`` adds a fine-tune with those parameters, for tuning).
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SST2 = ROOT.parent / "shared" / "data" / "sst2"


def load_sst2(rows: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``rows`` seeded training rows and the whole dev set, both as columns ``text, label``."""
    train = pd.read_csv(SST2 / "train.tsv", sep="\t")  # CRLF: pandas strips the \r
    train.columns = [c.strip() for c in train.columns]
    train = train.rename(columns={"sentence": "text"})
    train["text"] = train["text"].astype(str).str.rstrip("\r")
    dev = pd.read_csv(SST2 / "dev.tsv", sep="\t").rename(columns={"content": "text"})
    sample = train.sample(rows, random_state=seed).reset_index(drop=True)
    return sample[["text", "label"]], dev[["text", "label"]]


def baseline(train: pd.DataFrame, dev: pd.DataFrame, seed: int = 0) -> tuple[float, float]:
    """Plain Trainer on AutoModelForSequenceClassification: (dev accuracy, seconds)."""
    import datasets
    import torch
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
    )
    from transformers.utils import logging as hf_logging

    from lepton_core.text import resolve_base

    hf_logging.set_verbosity_error()
    datasets.disable_progress_bars()
    folder = resolve_base("minilm")
    start = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=2)
    data = datasets.Dataset.from_dict(
        {"text": train["text"].tolist(), "labels": train["label"].tolist()}
    ).map(lambda b: tokenizer(b["text"], truncation=True), batched=True, remove_columns=["text"])
    out = tempfile.mkdtemp(prefix="bench-baseline-")
    try:
        args = TrainingArguments(
            output_dir=out,
            per_device_train_batch_size=32,
            learning_rate=5e-5,
            num_train_epochs=1,
            save_strategy="no",
            report_to="none",
            disable_tqdm=True,
            seed=seed,
        )
        Trainer(
            model=model,
            args=args,
            train_dataset=data,
            data_collator=DataCollatorWithPadding(tokenizer),
        ).train()
    finally:
        shutil.rmtree(out, ignore_errors=True)
    seconds = time.perf_counter() - start
    model.eval()
    correct = 0
    with torch.inference_mode():
        for i in range(0, len(dev), 64):
            batch = tokenizer(
                dev["text"][i : i + 64].tolist(), padding=True, truncation=True, return_tensors="pt"
            )
            pred = model(**batch).logits.argmax(-1).numpy()
            correct += int((pred == dev["label"][i : i + 64].to_numpy()).sum())
    return correct / len(dev), seconds


def lepton(train: pd.DataFrame, dev: pd.DataFrame, **params) -> tuple[float, float, object]:
    """Lepton's TextModel with ``params``: (dev accuracy, seconds, model)."""
    from lepton_core.text import TextModel

    cache = tempfile.mkdtemp(prefix="bench-cache-")
    try:
        model = TextModel(cache_dir=cache, **params)
        start = time.perf_counter()
        model.fit(train[["text"]], train["label"])
        seconds = time.perf_counter() - start
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    accuracy = float(np.mean(model.predict(dev[["text"]]) == dev["label"].to_numpy()))
    return accuracy, seconds, model


def _parse_variant(text: str) -> tuple[str, dict]:
    name, _, spec = text.partition(":")
    params = {}
    for item in filter(None, spec.split(",")):
        key, _, value = item.partition("=")
        params[key] = ast.literal_eval(value)
    return name, params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--no-quick", action="store_true")
    parser.add_argument("--variant", action="append", default=[])
    parser.add_argument("--threads", type=int, help="torch threads for both sides")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    train, dev = load_sst2(args.rows, args.seed)
    print(
        f"SST-2: {len(train)} training rows, {len(dev)} dev rows; torch threads "
        f"{torch.get_num_threads()}, load {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    results: list[tuple[str, float, float]] = []
    base_seconds = None
    if not args.no_baseline:
        accuracy, base_seconds = baseline(train, dev, args.seed)
        results.append(("baseline Trainer (batch 32, lr 5e-5, 1 epoch)", accuracy, base_seconds))
        print(f"baseline: accuracy {accuracy:.4f} in {base_seconds:.1f} s", flush=True)
    runs = [("Lepton fine-tune (defaults)", {})]
    if not args.no_quick:
        runs.append(("Lepton quick (defaults)", {"mode": "quick"}))
    runs += [_parse_variant(v) for v in args.variant]
    for name, params in runs:
        accuracy, seconds, model = lepton(train, dev, seed=args.seed, **params)
        results.append((name, accuracy, seconds))
        print(
            f"{name}: accuracy {accuracy:.4f} in {seconds:.1f} s "
            f"(max_length {model.max_length_}, best step {model.best_iteration_})",
            flush=True,
        )
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")
    print("| run | dev accuracy | seconds | × baseline time |")
    print("|---|---|---|---|")
    for name, accuracy, seconds in results:
        ratio = f"{seconds / base_seconds:.2f}" if base_seconds else "—"
        print(f"| {name} | {accuracy:.4f} | {seconds:.1f} | {ratio} |")


if __name__ == "__main__":
    main()
