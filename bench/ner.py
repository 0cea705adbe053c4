"""Named-entity recognition on WNUT-17 (English) and Weibo NER (Chinese): Lepton's
families against a plain ``transformers.Trainer`` token classifier, in one process.

- **baseline**: ``AutoModelForTokenClassification`` from the built-in MiniLM folder,
  ``Trainer`` with batch 16, learning rate 5e-5, dynamic padding
  (``DataCollatorForTokenClassification``), labels on each word's first sub-word,
  everything else transformers' default;
- **Lepton MiniLM**: ``NerMiniLMModel()`` with the same number of epochs;
- **Lepton CRF**: ``NerCrfModel()`` with its defaults (on the whole training set);
- **Lepton spaCy** (English only): ``NerSpacyModel()``, spaCy's ready-made pipeline with
  its kinds matched to the data set's on the whole training set (no training).

Every side is scored on the test file by the same code (seqeval, strict spans, tags
read on each word's first sub-word). Wall time covers tokenising and training, not
loading the files or scoring; CPU seconds are the process's (with ``--threads 1`` they
measure the work itself on a loaded machine). The ratios are against the baseline of the
same data set.

Goal: at least the baseline's F1 in at most 0.6 of its time; on Weibo the CRF is
reported next to the published BERT-based systems (F1 about 0.68–0.70).

Run: ``nice -n 10 python bench/ner.py [--train-rows N] [--test-rows N] [--epochs 3]
[--threads 1] [--data wnut17_en,weibo_ner_zh] [--variant name:key=value,...]
[--minilm-only]``
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
FILES = {"wnut17_en": ("train.conll", "test.conll"), "weibo_ner_zh": ("train.bio", "test.bio")}


def baseline(train, test, labels: list[str], epochs: int, seed: int = 0):
    """Plain Trainer on AutoModelForTokenClassification: (report, seconds)."""
    import datasets
    import torch
    from transformers import (
        AutoModelForTokenClassification,
        AutoTokenizer,
        DataCollatorForTokenClassification,
        Trainer,
        TrainingArguments,
    )
    from transformers.utils import logging as hf_logging

    from lepton_core.ner import evaluate_ner, normalise_tags
    from lepton_core.text import resolve_base

    hf_logging.set_verbosity_error()
    datasets.disable_progress_bars()
    index = {label: i for i, label in enumerate(labels)}
    folder = resolve_base("minilm")
    start, cpu = time.perf_counter(), time.process_time()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForTokenClassification.from_pretrained(
        folder,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id=index,
    )

    def align(batch):
        encoded = tokenizer(batch["tokens"], is_split_into_words=True, truncation=True)
        encoded["labels"] = []
        for i, tags in enumerate(batch["tags"]):
            previous, row = None, []
            for word in encoded.word_ids(i):
                row.append(-100 if word is None or word == previous else index[tags[word]])
                previous = word
            encoded["labels"].append(row)
        return encoded

    data = datasets.Dataset.from_dict(
        {"tokens": [s.tokens for s in train], "tags": [s.tags for s in train]}
    ).map(align, batched=True, remove_columns=["tokens", "tags"])
    out = tempfile.mkdtemp(prefix="bench-ner-")
    try:
        args = TrainingArguments(
            output_dir=out,
            per_device_train_batch_size=16,
            learning_rate=5e-5,
            num_train_epochs=epochs,
            save_strategy="no",
            report_to="none",
            disable_tqdm=True,
            seed=seed,
        )
        Trainer(
            model=model,
            args=args,
            train_dataset=data,
            data_collator=DataCollatorForTokenClassification(tokenizer),
        ).train()
    finally:
        shutil.rmtree(out, ignore_errors=True)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    model.eval()
    predicted = []
    with torch.inference_mode():
        for s in test:
            encoded = tokenizer(
                s.tokens, is_split_into_words=True, truncation=True, return_tensors="pt"
            )
            best = model(**encoded).logits[0].argmax(-1).tolist()
            first: dict[int, int] = {}
            for position, word in enumerate(encoded.word_ids(0)):
                if word is not None:
                    first.setdefault(word, position)
            tags = [labels[best[first[w]]] if w in first else "O" for w in range(len(s.tokens))]
            predicted.append(normalise_tags(tags)[0])
    return evaluate_ner(test, predicted), seconds, cpu


def lepton(family: str, train, test, **params):
    """A Lepton NER family: (report, seconds, CPU seconds)."""
    from lepton_core.models import family_class

    model = family_class(family)(**params)
    start, cpu = time.perf_counter(), time.process_time()
    model.fit(train)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return model.evaluate(test), seconds, cpu


def _params(variant: str, args: argparse.Namespace) -> dict:
    params = {"epochs": args.epochs}
    for item in filter(None, variant.partition(":")[2].split(",")):
        key, _, value = item.partition("=")
        params[key] = ast.literal_eval(value)
    return params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="wnut17_en,weibo_ner_zh")
    parser.add_argument("--train-rows", type=int, help="the first N training sentences")
    parser.add_argument("--test-rows", type=int, help="the first N test sentences")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, help="torch threads for both sides")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument(
        "--minilm-only", action="store_true", help="skip the CRF and spaCy (MiniLM timings)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--variant", action="append", default=[], help="name:key=value,... another MiniLM run"
    )
    args = parser.parse_args()

    import torch

    from lepton_core.ner import read_conll

    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    for name in args.data.split(","):
        train_file, test_file = FILES[name]
        full = read_conll(DATA / name / train_file).sentences
        test = read_conll(DATA / name / test_file).sentences[: args.test_rows]
        train = full[: args.train_rows]
        labels = [
            "O",
            *(f"{p}-{t}" for t in sorted({e.type for s in full for e in s.entities}) for p in "BI"),
        ]
        print(
            f"{name}: {len(train)} training sentences (CRF: {len(full)}), {len(test)} test; "
            f"{args.epochs} epochs; torch threads {torch.get_num_threads()}, "
            f"load {os.getloadavg()[0]:.2f}",
            flush=True,
        )
        base = None
        if not args.no_baseline:
            report, base, cpu = baseline(train, test, labels, args.epochs, args.seed)
            rows.append((name, "baseline Trainer (batch 16, lr 5e-5)", report.f1, base, cpu))
            print(f"  baseline: F1 {report.f1:.4f} in {base:.1f} s ({cpu:.1f} CPU s)", flush=True)
        runs = [
            ("Lepton MiniLM (defaults)", "ner_minilm", train, {"epochs": args.epochs}),
            *(
                (f"Lepton MiniLM ({v.partition(':')[0]})", "ner_minilm", train, _params(v, args))
                for v in args.variant
            ),
            *(
                []
                if args.minilm_only
                else [("Lepton CRF (defaults, all training sentences)", "ner_crf", full, {})]
            ),
            # spaCy's ready-made English names: kinds matched on all training sentences.
            *(
                [("Lepton spaCy (ready-made, kinds matched)", "ner_spacy", full, {})]
                if name.endswith("_en") and not args.minilm_only
                else []
            ),
        ]
        for title, family, data, params in runs:
            report, seconds, cpu = lepton(family, data, test, seed=args.seed, **params)
            rows.append((name, title, report.f1, seconds, cpu))
            by_type = ", ".join(f"{t} {v['f1']:.2f}" for t, v in report.by_type.items())
            print(
                f"  {title}: F1 {report.f1:.4f} in {seconds:.1f} s ({cpu:.1f} CPU s; {by_type})",
                flush=True,
            )
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")
    # On a loaded machine wall time depends on the neighbours; with one torch thread, CPU
    # seconds compare the work itself.
    print("| data | run | test F1 | seconds | CPU s | × baseline F1 | × baseline time (CPU) |")
    print("|---|---|---|---|---|---|---|")
    base = {name: (f1, s, c) for name, title, f1, s, c in rows if title.startswith("baseline")}
    for name, title, f1, seconds, cpu in rows:
        b = base.get(name)
        f1_ratio = f"{f1 / b[0]:.2f}" if b and b[0] else "—"
        time_ratio = f"{seconds / b[1]:.2f} ({cpu / b[2]:.2f})" if b else "—"
        print(
            f"| {name} | {title} | {f1:.4f} | {seconds:.1f} | {cpu:.1f} "
            f"| {f1_ratio} | {time_ratio} |"
        )


if __name__ == "__main__":
    main()
