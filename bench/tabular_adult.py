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

``--phases`` instead times what a training job does after the click (issue 15): the
spare worker's warm-up (imports, then shap's numba code), ``train()`` phase by phase
(wall and CPU seconds, three runs in one process on a confirmed data set, as a job
runs it), and the steps changed for speed against the way they were done before, in
this process: fairness by group (counted, against fairlearn's ``MetricFrame`` per
metric), the bootstrap's weighted sums (``einsum``, against BLAS's ``@``) and MLflow's
first requirements check (now done by the spare).

Run: ``python bench/tabular_adult.py [--repeats 5] [--phases]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
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


def _spare_warmup() -> dict[str, float]:
    """CPU seconds of a spare worker's imports and of its shap compilation, in a new Python."""
    code = (
        "import time; c = time.process_time()\n"
        "from lepton_core.explain import compile_shap\n"
        "from lepton_core.jobs import env_fingerprint\n"
        "from lepton_core.workspace import quiet_mlflow\n"
        "quiet_mlflow()\n"
        "import fairlearn.metrics, lightgbm, mlflow.pyfunc, shap\n"
        "from mlflow.utils.requirements_utils import warn_dependency_requirement_mismatches\n"
        "i = time.process_time(); warn_dependency_requirement_mismatches(['mlflow'])\n"
        "r = time.process_time(); compile_shap()\n"
        "print(i - c, r - i, time.process_time() - r)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.split()
    imports, requirements, numba = (float(v) for v in out[-3:])
    return {"imports": imports, "requirements": requirements, "numba": numba}


class _PhaseClock:
    """A callback noting wall and CPU time at every phase change of ``train()``."""

    def __init__(self) -> None:
        from lepton_core.core import TrainerCallback

        clock = self

        class Callback(TrainerCallback):
            def on_phase(self, state, control) -> None:
                clock.marks.append((state.phase, time.perf_counter(), time.process_time()))

            def on_train_end(self, state, control) -> None:
                clock.marks.append(("end", time.perf_counter(), time.process_time()))

        self.callback = Callback()
        self.marks: list[tuple[str, float, float]] = []

    def phases(self) -> dict[str, tuple[float, float]]:
        pairs = zip(self.marks, self.marks[1:], strict=False)
        return {a[0]: (b[1] - a[1], b[2] - a[2]) for a, b in pairs}


def _alternate(repeats: int, before, after) -> tuple[float, float]:
    """Median seconds of ``before()`` and ``after()``, called alternately."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for side, func in zip(times, (before, after), strict=True):
            start = time.perf_counter()
            func()
            side.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def phases(repeats: int) -> None:
    """Where a training job's time goes, and the changed steps before/after (see the top)."""
    from fairlearn.metrics import (
        MetricFrame,
        count,
        false_negative_rate,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score

    from lepton_core.data import load_sample
    from lepton_core.evaluation import fairness_reports
    from lepton_core.evaluation._intervals import _weights, _wsum
    from lepton_core.runs import TrainConfig, train
    from lepton_core.workspace import Workspace, confirm_dataset

    print(f"load average at the start: {os.getloadavg()[0]:.1f}")
    warm = _spare_warmup()
    print(
        "spare worker, CPU s: imports {imports:.2f}, MLflow's requirements map "
        "{requirements:.2f}, shap's numba code {numba:.2f} (it is ready after the imports; "
        "it was ready after all three)".format(**warm)
    )
    sample = load_sample("adult")
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Workspace(tmp)
        info = confirm_dataset(
            workspace,
            sample.train,
            name=sample.name,
            target=sample.target,
            sensitive=list(sample.sensitive),
            test=sample.test,
            source="sample:adult",
        )
        for run in (1, 2, 3):
            clock = _PhaseClock()
            result = train(
                TrainConfig(data=f"dataset:{info.id}"),
                workspace=workspace,
                callbacks=[clock.callback],
            )
            cells = ", ".join(
                f"{name} {wall:.2f}/{cpu:.2f}" for name, (wall, cpu) in clock.phases().items()
            )
            print(f"train() run {run}, wall/CPU s per phase: {cells}")
        accuracy = result.evaluation.metrics["accuracy"]
        print(f"  (accuracy {accuracy:.4f}, {result.n_test} test rows)")

    test = sample.test
    y = test[sample.target].to_numpy()
    rng = np.random.default_rng(0)
    pred = np.where(rng.random(len(y)) < 0.85, y, np.where(y == ">50K", "<=50K", ">50K"))
    groups = test[list(sample.sensitive)].reset_index(drop=True)
    truth, guess = (y == ">50K").astype(int), (pred == ">50K").astype(int)
    metrics = {
        "count": count,
        "selection_rate": selection_rate,
        "accuracy": accuracy_score,
        "tpr": true_positive_rate,
        "fpr": false_positive_rate,
        "fnr": false_negative_rate,
    }

    def metric_frames() -> None:  # how fairness_report computed its rows before
        for column in groups.columns:
            sf = groups[column].astype(str).to_numpy()
            MetricFrame(metrics=metrics, y_true=truth, y_pred=guess, sensitive_features=sf)

    def counted() -> None:
        fairness_reports(y, pred, sensitive_features=groups, task="binary", positive_label=">50K")

    old, new = _alternate(repeats, metric_frames, counted)
    print(f"fairness, 3 attributes: MetricFrame {old:.3f} s, counted {new:.3f} s ({new / old:.3f})")

    values = rng.random(len(y))
    weights = list(_weights(len(y), 200, 0))
    old, new = _alternate(
        repeats,
        lambda: [float(w @ values) for w in weights],
        lambda: [_wsum(w, values) for w in weights],
    )
    print(
        f"bootstrap weighted sums, 200 resamples: BLAS @ {old:.4f} s, einsum {new:.4f} s "
        f"({new / old:.3f}; an evaluation does about 5 of these)"
    )
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--phases", action="store_true", help="a training job's phases")
    args = parser.parse_args()
    if args.phases:
        # As a job's worker runs (lepton_core.jobs): read by OpenMP when LightGBM loads.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        phases(args.repeats)
        return
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
