"""How far tuned LightGBM gets on Auto's Adult split when the search has far more than 60 s.

Auto picks its trials on 3,256 validation rows, whose ROC AUC cannot tell apart trials
whose test AUCs differ by 0.001. This bench asks what a much larger search finds: Optuna
(TPE) over a wider LightGBM space than Auto's, each trial scored by 5-fold cross-validation
on training + validation rows (all 32,561 rows of adult.data) for ``--minutes``; then the
five best configurations are refitted on those rows with 1.1 × their rounds and scored once
on adult.test, alone and averaged. LightGBM's defaults, trained in the same process on the
same rows, are the baseline the figures are divided by.

Run: ``python bench/auto_ceiling.py [--minutes 15] [--threads 2]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def adult_split():
    """Auto's Adult rows as LightGBM input: (training + validation X, y), (test X, y)."""
    import numpy as np
    import pandas as pd

    from lepton_core.runs import TrainConfig, prepare_data
    from lepton_core.workspace import Workspace

    data = prepare_data(TrainConfig(data="sample:adult"), Workspace(tempfile.mkdtemp()))
    target, split = data.info.target, data.split
    positive = sorted(split.train[target].unique())[-1]
    labels = [(p[target] == positive).to_numpy(int) for p in (split.train, split.valid, split.test)]
    known = pd.concat([data.x_train, data.x_valid], ignore_index=True)
    categories = {
        c: sorted(known[c].dropna().unique())
        for c in known.columns
        if not pd.api.types.is_numeric_dtype(known[c])
    }

    def encode(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(**{c: pd.Categorical(frame[c], v) for c, v in categories.items()})

    return (encode(known), np.r_[labels[0], labels[1]]), (encode(data.x_test), labels[2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import lightgbm as lgb
    import numpy as np
    import optuna
    from sklearn.metrics import roc_auc_score

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    (x, y), (x_test, y_test) = adult_split()
    fixed = {"objective": "binary", "verbose": -1, "num_threads": args.threads, "seed": 0}
    defaults = lgb.train(fixed, lgb.Dataset(x, y), 100)
    baseline = roc_auc_score(y_test, defaults.predict(x_test))
    rows = lgb.Dataset(x, y, free_raw_data=False, params={"feature_pre_filter": False})

    def objective(trial: optuna.Trial) -> float:
        params = {
            **fixed,
            "metric": "auc",
            "bagging_freq": 1,
            "learning_rate": trial.suggest_float("learning_rate", 0.005, 0.1, log=True),
            "num_leaves": trial.suggest_int("num_leaves", 4, 128, log=True),
            "min_child_samples": trial.suggest_int("min_child_samples", 5, 200, log=True),
            "feature_fraction": trial.suggest_float("feature_fraction", 0.2, 1.0),
            "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
            "lambda_l1": trial.suggest_float("lambda_l1", 1e-3, 10, log=True),
            "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 10, log=True),
            "cat_smooth": trial.suggest_float("cat_smooth", 1, 100, log=True),
            "min_data_per_group": trial.suggest_int("min_data_per_group", 10, 200, log=True),
        }
        scores = lgb.cv(
            params, rows, 5000, nfold=5, stratified=True, seed=0,
            callbacks=[lgb.early_stopping(100, verbose=False)],
        )["valid auc-mean"]  # fmt: skip
        trial.set_user_attr("rounds", len(scores))
        return scores[-1]

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
    start = time.perf_counter()
    study.optimize(objective, timeout=args.minutes * 60)
    print(f"{len(study.trials)} trials of 5-fold CV in {time.perf_counter() - start:.0f} s")
    best = sorted(study.trials, key=lambda t: t.value or 0.0, reverse=True)[:5]
    outputs = []
    for trial in best:
        params = {**fixed, "bagging_freq": 1, **trial.params}
        model = lgb.train(params, lgb.Dataset(x, y), int(trial.user_attrs["rounds"] * 1.1))
        outputs.append(model.predict(x_test))
        test = roc_auc_score(y_test, outputs[-1])
        settings = {k: round(v, 4) for k, v in trial.params.items()}
        rounds = trial.user_attrs["rounds"]
        print(f"  CV ROC AUC {trial.value:.4f}, test {test:.4f}, {rounds} rounds, {settings}")
    blend = roc_auc_score(y_test, np.mean(outputs, axis=0))
    top = roc_auc_score(y_test, outputs[0])
    print(f"test ROC AUC: best CV trial {top:.4f}, five best averaged {blend:.4f}")
    ratios = f"{top / baseline:.4f}, {blend / baseline:.4f}"
    print(f"  LightGBM defaults {baseline:.4f}; ratios {ratios}")


if __name__ == "__main__":
    main()
