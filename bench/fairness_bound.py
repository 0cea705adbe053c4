"""What demographic parity by ``sex`` costs on UCI Adult, whatever the base model.

For each base model, fitted on adult.data with the plain library, the bound of
``fairness_adult.py``: the best adult.test accuracy of two group thresholds whose
positive shares differ by at most the allowed DPD, chosen with the test labels
themselves. No method that post-processes that model's scores can do better.
Printed as points against the model's own accuracy at threshold 0.5.

The models: LightGBM with its defaults (Lepton's default), a stronger LightGBM
(more, smaller steps), a weaker one (20 rounds), logistic regression (the model
of fairlearn's published Adult example) and the labels themselves (perfect
scores), which shows what parity costs when no error is left to trade.

Run: ``python bench/fairness_bound.py``
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ADULT = ROOT.parent / "shared" / "data" / "adult"


def load(name: str):
    """``adult.data`` or ``adult.test`` as features and a 0/1 target (income > 50K)."""
    import pandas as pd

    frame = pd.read_csv(ADULT / name, skipinitialspace=True, na_values="?")
    frame.columns = [c.strip() for c in frame.columns]
    target = frame.pop("Y").astype(str).str.startswith(">50K").astype(int)
    return frame, target.to_numpy()


def main() -> None:
    import lightgbm as lgb
    import pandas as pd
    from fairness_adult import TOLERANCES, threshold_bound
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    X, y = load("adult.data")
    X_test, truth = load("adult.test")
    categorical = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    numeric = [c for c in X.columns if c not in categorical]
    for frame in (X, X_test):
        for column in categorical:
            frame[column] = pd.Categorical(
                frame[column], categories=sorted(X[column].dropna().unique())
            )
    groups = X_test["sex"].astype(str).to_numpy()

    linear = make_pipeline(
        ColumnTransformer(
            [
                (
                    "categories",
                    make_pipeline(
                        SimpleImputer(strategy="constant", fill_value="missing"),
                        OneHotEncoder(handle_unknown="ignore"),
                    ),
                    categorical,
                ),
                ("numbers", StandardScaler(), numeric),
            ]
        ),
        LogisticRegression(max_iter=2000),
    )
    models = {
        "LightGBM, defaults": lgb.LGBMClassifier(verbose=-1),
        "LightGBM, 600 rounds at 0.03": lgb.LGBMClassifier(
            n_estimators=600,
            learning_rate=0.03,
            min_child_samples=40,
            colsample_bytree=0.8,
            verbose=-1,
        ),
        "LightGBM, 20 rounds": lgb.LGBMClassifier(n_estimators=20, verbose=-1),
        "logistic regression": linear,
    }
    header = f"{'base model':<32}{'accuracy':>9}{'ROC AUC':>9}{'DPD':>7}" + "".join(
        f"{'≤ ' + str(t):>9}" for t in TOLERANCES
    )
    print(f"adult.test rows: {len(truth):,}; points of accuracy at the best allowed DPD")
    print(header)
    print("-" * len(header))
    scored = {name: model.fit(X, y).predict_proba(X_test)[:, 1] for name, model in models.items()}
    scored["perfect scores (the labels)"] = truth.astype(float)
    for name, scores in scored.items():
        predicted = scores >= 0.5
        accuracy = float((predicted == truth).mean())
        dpd = abs(predicted[groups == "Male"].mean() - predicted[groups == "Female"].mean())
        costs = [(threshold_bound(scores, truth, groups, t) - accuracy) * 100 for t in TOLERANCES]
        print(
            f"{name:<32}{accuracy:>9.4f}{roc_auc_score(truth, scores):>9.4f}{dpd:>7.3f}"
            + "".join(f"{c:>+9.2f}" for c in costs)
        )


if __name__ == "__main__":
    main()
