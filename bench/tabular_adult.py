"""The whole tabular core flow on UCI Adult, against the same steps with the bare libraries.

Both sides, in one process, alternating over several repeats (the machine is
shared and noisy, so the ratio of medians is the figure that counts):

- load adult.data and adult.test, profile the table, train LightGBM with its
  defaults, evaluate (accuracy, ROC AUC) with fairness by ``sex`` (fairlearn),
  and compute TreeSHAP global importance on 2,000 test rows.

Lepton's side calls the public ``lepton_core`` functions a script would use;
the baseline is written with pandas, LightGBM, scikit-learn, fairlearn and shap
directly. ``train()`` (which also logs everything to MLflow and registers the
model) is timed once on its own for reference.

Run: ``python bench/tabular_adult.py [--repeats 5]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data" / "adult"
SHAP_ROWS = 2000


def _paths() -> tuple[Path, Path]:
    if (SHARED / "adult.data").is_file():
        return SHARED / "adult.data", SHARED / "adult.test"
    # Without ../shared, fall back to the shipped sample (same rows, stored as Parquet).
    samples = ROOT / "lepton_core" / "data" / "sample_files"
    return samples / "adult_train.parquet", samples / "adult_test.parquet"


def baseline(train_path: Path, test_path: Path) -> dict[str, float]:
    """The same steps with the bare libraries."""
    import lightgbm as lgb
    import shap
    from fairlearn.metrics import (
        MetricFrame,
        demographic_parity_difference,
        equalized_odds_difference,
        selection_rate,
    )
    from sklearn.metrics import accuracy_score, roc_auc_score

    def read(path: Path) -> pd.DataFrame:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, skipinitialspace=True, na_values="?")

    train, test = read(train_path), read(test_path)
    test["Y"] = test["Y"].str.rstrip(".")
    train.describe(include="all")  # the profile
    features = [c for c in train.columns if c != "Y"]
    cats = [c for c in features if not pd.api.types.is_numeric_dtype(train[c])]
    for c in cats:
        train[c] = train[c].astype("category")
        test[c] = pd.Categorical(test[c], categories=train[c].cat.categories)
    y_train, y_test = (train["Y"] == ">50K").astype(int), (test["Y"] == ">50K").astype(int)
    model = lgb.LGBMClassifier(verbose=-1).fit(train[features], y_train)
    proba = model.predict_proba(test[features])[:, 1]
    pred = (proba > 0.5).astype(int)
    MetricFrame(
        metrics={"accuracy": accuracy_score, "selection_rate": selection_rate},
        y_true=y_test,
        y_pred=pred,
        sensitive_features=test["sex"],
    )
    dpd = demographic_parity_difference(y_test, pred, sensitive_features=test["sex"])
    eod = equalized_odds_difference(y_test, pred, sensitive_features=test["sex"])
    rows = test[features].sample(SHAP_ROWS, random_state=0)
    values = shap.TreeExplainer(model).shap_values(rows)
    np.abs(values).mean(axis=0)
    return {
        "accuracy": accuracy_score(y_test, pred),
        "roc_auc": roc_auc_score(y_test, proba),
        "dpd": dpd,
        "eod": eod,
    }


def lepton(train_path: Path, test_path: Path) -> dict[str, float]:
    """The same steps through lepton_core's public functions."""
    from lepton_core.data import infer_schema, load_table, prepare_features, profile_table
    from lepton_core.evaluation import evaluate, fairness_report
    from lepton_core.explain import explain
    from lepton_core.models import make_model

    train, test = load_table(train_path), load_table(test_path)
    profile_table(train, target="Y")
    schema = infer_schema(train)
    test["Y"] = test["Y"].str.rstrip(".")
    x_train, x_test = prepare_features(train, schema, "Y"), prepare_features(test, schema, "Y")
    model = make_model("lightgbm", "binary").fit(x_train, train["Y"].to_numpy())
    y_test = test["Y"].to_numpy()
    pred = model.predict(x_test)
    report = evaluate(
        y_test,
        pred,
        task="binary",
        y_proba=model.predict_proba(x_test),
        classes=list(model.classes_),
    )
    fair = fairness_report(
        y_test, pred, sensitive_features=test["sex"], task="binary", positive_label=">50K"
    )
    expl = explain(model, x_test, max_rows=SHAP_ROWS, seed=0)
    expl.global_importance()
    return {
        "accuracy": report.metrics["accuracy"],
        "roc_auc": report.metrics["roc_auc"],
        "dpd": fair.demographic_parity_difference,
        "eod": fair.equalized_odds_difference,
    }


def _time(func, *args) -> tuple[float, dict[str, float]]:
    start = time.perf_counter()
    out = func(*args)
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    paths = _paths()
    # Warm both sides once (imports, first-call JIT in shap/numba), then alternate.
    _time(baseline, *paths)
    _time(lepton, *paths)
    base_times, lep_times = [], []
    for _ in range(args.repeats):
        t, base = _time(baseline, *paths)
        base_times.append(t)
        t, lep = _time(lepton, *paths)
        lep_times.append(t)
    b, lt = statistics.median(base_times), statistics.median(lep_times)
    print(f"data: {paths[0].name} + {paths[1].name}; {args.repeats} alternating repeats")
    print(f"{'':24}{'baseline':>12}{'lepton':>12}")
    for key in ("accuracy", "roc_auc", "dpd", "eod"):
        print(f"{key:24}{base[key]:12.4f}{lep[key]:12.4f}")
    print(f"{'median seconds':24}{b:12.3f}{lt:12.3f}")
    print(f"ratio lepton / baseline: {lt / b:.2f}  (goal <= 1.5)")

    from lepton_core.runs import TrainConfig, train
    from lepton_core.workspace import Workspace

    with tempfile.TemporaryDirectory() as tmp:
        t, result = _time(
            lambda: train(
                TrainConfig(data="sample:adult", sensitive=["sex"], explain_rows=SHAP_ROWS),
                workspace=Workspace(tmp),
            )
        )
    print(
        f"train() with MLflow logging and registration: {t:.2f} s "
        f"({t / b:.2f}x the bare flow); phases: {result.timings}"
    )


if __name__ == "__main__":
    main()
