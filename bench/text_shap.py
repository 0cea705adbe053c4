"""Token SHAP for one 34-token SST-2 sentence: Lepton against ``shap.Explainer(pipeline)``.

One process, one fine-tuned network (``TextModel`` fine-tuned briefly on a
seeded sample of SST-2 training rows), one dev sentence whose MiniLM
tokenisation is 34 tokens without the special ones:

- **baseline**: ``shap.Explainer(transformers.pipeline("text-classification",
  model=net, tokenizer=tok, top_k=None))`` with its defaults — shap wraps the
  pipeline in ``TransformersPipeline``, which explains the class
  **probabilities** (``rescale_to_logits=False``), with a Partition explainer,
  a ``Text`` masker, 500 evaluations and batches of 5 masked texts, which the
  pipeline scores one text at a time;
- **Lepton (probability)**: Lepton's token SHAP (same masker, same 500
  evaluations; masked texts handed over as token ids, never tokenised again,
  and batched straight through the network, repeats scored once, in bfloat16
  where the processor has it natively, as ``explain()`` does) on the positive
  class's probability, so that both explain the same function: the agreement
  (Spearman over the 34 tokens) is computed here;
- **Lepton, float32**: the same with every masked text in float32 (what
  ``LEPTON_TEXT_SHAP_PRECISION=float32`` gives), for comparison;
- **Lepton explain()**: the product path, ``explain(model, X)``, which explains
  the log-odds (the model's raw output); its agreement with the baseline's
  probabilities is shown for information (a monotone change of space, so ranks
  mostly agree but need not match).

Repeats alternate baseline and Lepton; the ratio is of medians. Both run with
the same number of torch threads (``--threads``, default 2).

Goal: ≥ 10× faster with Spearman ≥ 0.9 against the baseline's attributions.

Run: ``python bench/text_shap.py [--rows 400] [--repeats 3] [--threads 2]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SST2 = ROOT.parent / "shared" / "data" / "sst2"
N_TOKENS = 34


def load_train(rows: int, seed: int = 0) -> pd.DataFrame:
    """``rows`` seeded SST-2 training rows as columns ``text, label``."""
    train = pd.read_csv(SST2 / "train.tsv", sep="\t")  # CRLF: pandas strips the \r
    train.columns = [c.strip() for c in train.columns]
    train = train.rename(columns={"sentence": "text"})
    train["text"] = train["text"].astype(str).str.rstrip("\r")
    return train.sample(rows, random_state=seed).reset_index(drop=True)


def pick_sentence(tokenizer) -> str:
    """The first dev sentence whose tokenisation is ``N_TOKENS`` tokens without specials."""
    dev = pd.read_csv(SST2 / "dev.tsv", sep="\t")
    for text in dev["content"].astype(str):
        if len(tokenizer(text, add_special_tokens=False)["input_ids"]) == N_TOKENS:
            return text
    raise SystemExit(f"No dev sentence has {N_TOKENS} tokens.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=400, help="SST-2 rows to fine-tune on")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import scipy.special
    import scipy.stats
    import torch
    import transformers
    from transformers.utils import logging as hf_logging

    from lepton_core.explain import _text, explain
    from lepton_core.explain._base import import_shap
    from lepton_core.text import TextModel

    warnings.filterwarnings("ignore")
    # pipeline() logs an error that it does not know TextClassifier; it works regardless.
    hf_logging.set_verbosity(hf_logging.CRITICAL)
    torch.set_num_threads(args.threads)
    shap = import_shap()
    print(
        f"torch threads {torch.get_num_threads()}, cores {os.cpu_count()}, "
        f"load {os.getloadavg()[0]:.2f}"
    )

    train = load_train(args.rows)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as cache:
        model = TextModel(cache_dir=cache).fit(train[["text"]], train["label"].to_numpy())
    print(f"fine-tuned TextModel on {args.rows} SST-2 rows in {time.perf_counter() - start:.1f} s")
    net, tok = model.final_estimator_, model.tokenizer_
    net.eval()
    positive = int(net.config.label2id[str(model.classes_[1])])

    text = pick_sentence(tok)
    print(f"sentence ({N_TOKENS} tokens): {text!r}")
    X = pd.DataFrame({"text": [text]})

    pipe = transformers.pipeline("text-classification", model=net, tokenizer=tok, top_k=None)
    baseline = shap.Explainer(pipe)
    print(f"baseline: {type(baseline).__name__}, {type(baseline.model).__name__} (probabilities)")

    evaluations: list[int] = []
    twin = _text.bf16_twin(model)  # what explain() scores the masked texts with
    print(f"masked texts scored in {'float32' if twin is None else 'bfloat16'}")

    def probability_of(scorer, count: bool = True):
        def probability(batch: list[str]) -> np.ndarray:
            if count:
                evaluations.append(len(batch))
            logits = scorer.token_logits(batch, batch_size=_text.FORWARD_BATCH)
            return scipy.special.softmax(logits, axis=1)[:, positive]

        return probability

    def lepton_probability(fast: bool = True) -> np.ndarray:
        output = probability_of(model, count=False)(tok([text])["input_ids"])
        fast_score = probability_of(twin) if fast and twin is not None else None
        values, tokens, _ = _text.token_shap(
            model, [text], probability_of(model, fast), output, fast_score=fast_score
        )
        assert len(tokens[0]) == N_TOKENS
        return np.asarray(values[0])[:, 0]

    # Warm-up: first calls pay for lazy initialisation on both sides.
    pipe([text])
    model.logits([text])

    times: dict[str, list[float]] = {"baseline": [], "probability": [], "explain": [], "fp32": []}
    for _ in range(args.repeats):
        start = time.perf_counter()
        result = baseline([text])
        times["baseline"].append(time.perf_counter() - start)
        evaluations.clear()
        start = time.perf_counter()
        ours = lepton_probability()
        times["probability"].append(time.perf_counter() - start)
        start = time.perf_counter()
        expl = explain(model, X)
        times["explain"].append(time.perf_counter() - start)
        start = time.perf_counter()
        ours_fp32 = lepton_probability(fast=False)
        times["fp32"].append(time.perf_counter() - start)

    # The baseline keeps [CLS] and [SEP] (value 0, never masked); Lepton leaves them out.
    reference = np.asarray(result.values[0])[1:-1, positive]
    assert [t.strip() for t in result.data[0][1:-1]] == [t.strip() for t in expl.tokens[0]]
    log_odds = np.asarray(expl.values[0])[:, 0]
    rho = scipy.stats.spearmanr(ours, reference).statistic
    rho_log_odds = scipy.stats.spearmanr(log_odds, reference).statistic
    med = {k: statistics.median(v) for k, v in times.items() if v}

    print(f"\n{'':28s} {'median s':>9s} {'ratio':>7s} {'Spearman':>9s}")
    print(f"{'baseline (pipeline)':28s} {med['baseline']:9.3f} {1.0:7.1f} {1.0:9.3f}")
    print(
        f"{'Lepton, probability':28s} {med['probability']:9.3f} "
        f"{med['baseline'] / med['probability']:7.1f} {rho:9.3f}"
    )
    print(
        f"{'Lepton explain(), log-odds':28s} {med['explain']:9.3f} "
        f"{med['baseline'] / med['explain']:7.1f} {rho_log_odds:9.3f}"
    )
    rho_fp32 = scipy.stats.spearmanr(ours_fp32, reference).statistic
    print(
        f"{'Lepton, float32 throughout':28s} {med['fp32']:9.3f} "
        f"{med['baseline'] / med['fp32']:7.1f} {rho_fp32:9.3f}"
    )
    print(
        "Spearman, Lepton against Lepton float32: "
        f"{scipy.stats.spearmanr(ours, ours_fp32).statistic:.3f}"
    )
    print(f"all times: { {k: [round(t, 3) for t in v] for k, v in times.items()} }")
    print(
        f"Lepton scored {sum(evaluations)} distinct masked texts in {len(evaluations)}"
        " batched calls (shap asked for 500)"
    )
    print(f"additivity error of explain(): {expl.additivity_error():.2e}")
    top = sorted(zip(expl.tokens[0], log_odds, reference, strict=True), key=lambda r: -abs(r[1]))
    print("top tokens (log-odds, baseline probability):")
    for token, value, ref in top[:8]:
        print(f"  {token.strip():16s} {value:+.3f} {ref:+.4f}")
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
