"""The ``ngram`` text family on Chinese reviews, against TF-IDF + logistic regression by hand.

Both sides, in one process, alternating over several repeats (the machine is
shared and noisy, so the ratio of medians is the figure that counts), on the
same 80/20 split (stratified by label, seed 0):

- baseline: character 1–2-gram TF-IDF and ``LogisticRegression(max_iter=1000)``,
  written with bare scikit-learn (the recipe of ``../shared/data/README.md``);
- Lepton: ``make_model("ngram", "binary")`` with its defaults, fitted on the
  review column (the fit includes what a run needs besides the classifier: the
  tokenizer's vocabulary for explanations and the training loss).

Accuracy is on the test part; the goal is at least the baseline's accuracy in at
most its fit time. Token SHAP of a few test reviews is timed once on its own.

Then, once, **Text Auto** as the Train page runs it (``run_auto`` on a stored data
set with a text column, in a temporary workspace): the training part as the data
set, the same test part as its separate test file, so Auto's validation rows (10%)
come out of the training part; the search within ``--auto-budget`` seconds, then the
winner refitted on training and validation rows, tested and registered (explaining
only a few test rows, so that the time is the model's). Reported: the winner's test
accuracy, the search's and the whole call's seconds, and the leaderboard.

Run: ``python bench/text_zh.py [--data waimai10k|online_shopping|FILE.csv] [--repeats 3]
[--auto-budget 30]`` (``--auto-budget 0`` skips Text Auto)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"
DATA = {
    "waimai10k": SHARED / "zh_sentiment_waimai10k" / "waimai_10k.csv",
    "online_shopping": SHARED
    / "zh_sentiment_online_shopping"
    / "online_shopping_9_cats_no_hotel.csv",
}
SHAP_ROWS = 20


def load(name: str) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    """Reviews and labels (``label,review`` columns), split 80/20 stratified with seed 0."""
    from sklearn.model_selection import train_test_split

    path = DATA.get(name, Path(name))
    if not path.is_file():
        sys.exit(f"No data at {path}; pass --data with a CSV that has label and review columns.")
    df = pd.read_csv(path).dropna(subset=["label", "review"])
    # Some reviews start with a byte-order mark; both sides read the same texts.
    texts, labels = df["review"].astype(str), df["label"]
    return train_test_split(texts, labels, test_size=0.2, random_state=0, stratify=labels)


def baseline(x_train: pd.Series, y_train: pd.Series, x_test: pd.Series) -> tuple[float, np.ndarray]:
    """Character 1–2-gram TF-IDF + logistic regression, bare scikit-learn."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    start = time.perf_counter()
    model = make_pipeline(
        TfidfVectorizer(analyzer="char", ngram_range=(1, 2)), LogisticRegression(max_iter=1000)
    ).fit(x_train, y_train)
    return time.perf_counter() - start, model.predict(x_test)


def lepton(x_train: pd.Series, y_train: pd.Series, x_test: pd.Series) -> tuple[float, Any]:
    """The ngram family with its defaults."""
    from lepton_core.models import make_model

    start = time.perf_counter()
    model = make_model("ngram", "binary").fit(x_train.to_frame("review"), y_train)
    return time.perf_counter() - start, model


def text_auto(
    x_train: pd.Series, y_train: pd.Series, x_test: pd.Series, y_test: pd.Series, budget: float
) -> None:
    """Text Auto on the training part, tested on the test part; prints its figures."""
    import tempfile

    from lepton_core.runs import AutoConfig, TrainConfig, leaderboard_table, run_auto
    from lepton_core.workspace import Workspace

    with tempfile.TemporaryDirectory(prefix="lepton-bench-") as folder:
        train_csv, test_csv = Path(folder) / "train.csv", Path(folder) / "test.csv"
        pd.DataFrame({"review": x_train, "label": y_train}).to_csv(train_csv, index=False)
        pd.DataFrame({"review": x_test, "label": y_test}).to_csv(test_csv, index=False)
        base = TrainConfig(
            data=str(train_csv),
            test=str(test_csv),
            target="label",
            sensitive=[],
            model="ngram",  # a text data set, as the Data page stores it
            text_column="review",
            explain_rows=20,
        )
        start = time.perf_counter()
        result = run_auto(
            AutoConfig(base=base, budget_s=budget), workspace=Workspace(Path(folder) / "ws")
        )
        seconds = time.perf_counter() - start
    winner = result.winner
    print(
        f"Text Auto ({budget:g} s budget, ranked by validation {result.metric}): "
        f"language {result.language.name if result.language else '-'}, "
        f"families {result.config.families}, {result.n_trials} trials"
    )
    print(
        f"  winner {winner.family} {winner.config.params}: test accuracy "
        f"{winner.evaluation.metrics['accuracy']:.4f}; search {result.search_seconds:.1f} s, "
        f"whole call {seconds:.1f} s (winner's fit {winner.timings.get('fit', 0):.2f} s)"
    )
    for note in result.notes:
        print(f"  note: {note}")
    table = leaderboard_table(result.leaderboard, metric=result.metric)
    columns = ["rank", "model", f"validation {result.metric}", "seconds", "params"]
    print(table[columns].head(8).to_string(index=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="waimai10k", help="waimai10k, online_shopping or a CSV")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--auto-budget", type=float, default=30.0, help="0 skips Text Auto")
    args = parser.parse_args()
    x_train, x_test, y_train, y_test = load(args.data)
    frame = x_test.to_frame("review")
    # Warm both sides once (imports, the token pattern), then alternate.
    baseline(x_train, y_train, x_test)
    lepton(x_train, y_train, x_test)
    base_times, lep_times = [], []
    for _ in range(args.repeats):
        t, base_pred = baseline(x_train, y_train, x_test)
        base_times.append(t)
        t, model = lepton(x_train, y_train, x_test)
        lep_times.append(t)
    base_acc = float(np.mean(base_pred == y_test.to_numpy()))
    lep_acc = float(np.mean(model.predict(frame) == y_test.to_numpy()))
    b, lt = statistics.median(base_times), statistics.median(lep_times)
    print(
        f"data: {args.data}; {len(x_train):,} train / {len(x_test):,} test texts; "
        f"{args.repeats} alternating repeats"
    )
    print(f"{'':24}{'baseline':>12}{'lepton':>12}")
    print(f"{'test accuracy':24}{base_acc:12.4f}{lep_acc:12.4f}")
    print(f"{'median fit seconds':24}{b:12.3f}{lt:12.3f}")
    print(
        f"time ratio lepton / baseline: {lt / b:.2f} (goal <= 1); "
        f"accuracy difference: {lep_acc - base_acc:+.4f} (goal >= 0)"
    )
    print(f"lepton model: {model._estimator_meta()}")

    from lepton_core.explain import explain

    explain(model, frame.iloc[:2])  # shap's first call compiles; not what is timed
    start = time.perf_counter()
    expl = explain(model, frame, max_rows=SHAP_ROWS, seed=0)
    seconds = time.perf_counter() - start
    tokens = sum(len(t) for t in expl.tokens or [])
    print(f"token SHAP: {SHAP_ROWS} test reviews ({tokens} tokens) in {seconds:.2f} s")
    if args.auto_budget > 0:
        text_auto(x_train, y_train, x_test, y_test, args.auto_budget)


if __name__ == "__main__":
    main()
