"""Counterfactuals and the fairness of recourse, next to DiCE used directly.

For each data set: LightGBM with Lepton's defaults on the training rows; then, for a
seeded sample of test rows the model turns down, alternating row by row,

* baseline: DiCE's random method used as its documentation shows (public-data interface
  over the training table, ``features_to_vary`` without the immutable features, three
  counterfactuals, DiCE's own sparsity pass), the model read through ``predict_proba``;
* Lepton: :func:`lepton_core.recourse.counterfactuals` (three, 10 s budget), which starts
  from DiCE's proposals, makes them smaller and checks each one again.

Printed: seconds per row (median) and the ratio, the share of rows with at least one
counterfactual, validity (every returned counterfactual re-scored by the model and
checked against every constraint: 100 % is the goal), and the median cost of the
cheapest one (normalised distance, features changed). Then
:func:`lepton_core.recourse.recourse_fairness` by the sensitive attribute: per group the
median cost and the share with no counterfactual, and the gap.

Data: ``adult`` (by ``sex``; immutable sex, race, age, native-country, fnlwgt;
education-num only up) and ``credit`` (``/work/shared/data/credit_default_taiwan``, by
``SEX``; wanted answer 0, no default; immutable SEX, AGE, MARRIAGE, EDUCATION and the
past payment statuses PAY_*; ID dropped).

Run: ``nice -n 10 python bench/recourse.py [--rows 30] [--fair-rows 60] [--data adult,credit]
[--baseline-rows N]``
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("LEPTON_SHARED", "/work/shared")) / "data"


def _adult():
    from lepton_core.recourse import RecourseConstraints

    train = pd.read_parquet(ROOT / "lepton_core/data/sample_files/adult_train.parquet")
    test = pd.read_parquet(ROOT / "lepton_core/data/sample_files/adult_test.parquet")
    rules = RecourseConstraints(
        immutable=["sex", "race", "age", "native-country", "fnlwgt"],
        only_up=["education-num"],
        desired=">50K",
    )
    return train, test, "Y", "sex", rules


def _credit():
    from lepton_core.recourse import RecourseConstraints

    df = pd.read_csv(SHARED / "credit_default_taiwan/UCI_Credit_Card.csv").drop(columns="ID")
    df = df.sample(frac=1.0, random_state=0).reset_index(drop=True)
    cut = int(len(df) * 0.8)
    past = [c for c in df.columns if c.startswith("PAY_") and not c.startswith("PAY_AMT")]
    rules = RecourseConstraints(
        immutable=["SEX", "AGE", "MARRIAGE", "EDUCATION", *past], desired="0"
    )
    return df.iloc[:cut], df.iloc[cut:], "default.payment.next.month", "SEX", rules


class _Proba:
    """The model as DiCE reads it: predict_proba on DiCE's frames (their dtypes restored)."""

    def __init__(self, model, schema):
        self.model, self.schema = model, schema

    def predict_proba(self, frame):
        return self.model.predict_proba(self.schema.prepare(frame))


def _dice_explainer(model, schema, train, target, rules):
    """DiCE's random method over the training table, made once per data set."""
    import dice_ml

    data = train.copy()
    data[target] = (data[target].astype(str) == str(rules.desired)).astype(int)
    numbers = [f.name for f in schema.fields if f.kind == "numeric"]
    d = dice_ml.Data(dataframe=data, continuous_features=numbers, outcome_name=target)
    m = dice_ml.Model(model=_Proba(model, schema), backend="sklearn")
    return dice_ml.Dice(d, m, method="random")


def _dice_baseline(explainer, schema, target, rules, row, index):
    free = [n for n in schema.names if n not in rules.immutable]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        out = explainer.generate_counterfactuals(
            row, total_CFs=3, desired_class=index, features_to_vary=free, random_seed=0
        )
    frame = out.cf_examples_list[0].final_cfs_df_sparse
    return [] if frame is None else frame.drop(columns=target).to_dict("records")


def _cost(schema, before, after):
    fields = {f.name: f for f in schema.fields}
    total, changed = 0.0, 0
    for name, f in fields.items():
        a, b = before[name], after[name]
        if pd.isna(a) and pd.isna(b):
            continue
        if f.kind == "numeric":
            if float(a) != float(b):
                changed += 1
                total += abs(float(b) - float(a)) / ((f.maximum - f.minimum) or 1.0)
        elif str(a) != str(b):
            changed += 1
            total += 1.0
    return total, changed


def run(name, loader, rows, fair_rows, baseline_rows):
    from lepton_core.data import InputSchema, infer_schema
    from lepton_core.models import make_model
    from lepton_core.recourse import counterfactuals, recourse_fairness, violations

    train, test, target, attribute, rules = loader()
    features = [c for c in train.columns if c != target]
    X, y = train[features], train[target]
    start = time.perf_counter()
    model = make_model("lightgbm", task="binary").fit(X, y)
    schema = InputSchema.from_frame(X, infer_schema(X), features)
    rules.check(schema)
    Xt = schema.prepare(test[features]).reset_index(drop=True)
    desired = next(c for c in model.classes_ if str(c) == str(rules.desired))
    index = list(model.classes_).index(desired)
    denied = np.flatnonzero(model.predict(Xt) != desired)
    # DiCE refuses a record with a missing value; the comparison uses complete rows.
    complete = np.flatnonzero(Xt.notna().all(axis=1).to_numpy())
    gaps = np.setdiff1d(denied, complete)
    denied = np.intersect1d(denied, complete)
    explainer = _dice_explainer(model, schema, train, target, rules)
    sample = np.random.default_rng(0).choice(denied, size=min(rows, len(denied)), replace=False)
    print(
        f"\n== {name}: {len(X):,} training rows, fit {time.perf_counter() - start:.1f} s; "
        f"{len(denied) + len(gaps):,} of {len(Xt):,} test rows turned down, {len(gaps):,} of "
        f"them with a missing value (DiCE refuses those); {len(sample)} complete ones searched"
    )
    times = {"DiCE": [], "Lepton": []}
    found = {"DiCE": 0, "Lepton": 0}
    valid = {"DiCE": [0, 0], "Lepton": [0, 0]}
    best = {"DiCE": [], "Lepton": []}
    for n, i in enumerate(sample):
        row = Xt.iloc[[i]]
        before = row.iloc[0].to_dict()
        order = ("DiCE", "Lepton") if i % 2 else ("Lepton", "DiCE")
        for who in [w for w in order if w == "Lepton" or n < baseline_rows]:
            t = time.perf_counter()
            if who == "Lepton":
                records = [
                    cf.record for cf in counterfactuals(model, schema, row, rules).counterfactuals
                ]
            else:
                records = _dice_baseline(explainer, schema, target, rules, row, index)
            times[who].append(time.perf_counter() - t)
            if not records:
                continue
            found[who] += 1
            frame = schema.prepare(pd.DataFrame(records))
            ok = model.predict(frame) == desired
            for k, after in enumerate(frame.to_dict("records")):
                valid[who][1] += 1
                valid[who][0] += bool(ok[k]) and not violations(before, after, rules, schema)
            best[who].append(min(_cost(schema, before, a) for a in frame.to_dict("records")))
    print(f"{'':<8}{'s/row':>8}{'found':>8}{'valid':>9}{'distance':>10}{'changes':>9}")
    for who in ("DiCE", "Lepton"):
        if not times[who]:
            continue
        med = statistics.median(times[who])
        v = valid[who][0] / valid[who][1] if valid[who][1] else float("nan")
        dist = statistics.median(b[0] for b in best[who]) if best[who] else float("nan")
        ch = statistics.median(b[1] for b in best[who]) if best[who] else float("nan")
        share = found[who] / len(times[who])
        print(f"{who:<8}{med:>8.2f}{share:>8.0%}{v:>9.1%}{dist:>10.3f}{ch:>9.1f}")
    paired = len(times["DiCE"])  # the rows both searched
    ratio = statistics.median(times["Lepton"][:paired]) / statistics.median(times["DiCE"])
    print(f"ratio Lepton / DiCE (median s per row, {paired} rows both searched): {ratio:.2f}")
    report = recourse_fairness(
        model,
        schema,
        Xt,
        test[[attribute]].reset_index(drop=True),
        rules,
        max_rows=fair_rows,
        seconds=600,
    )
    print(
        f"recourse by {attribute} ({report.searched} of {report.denied:,} turned-down rows, "
        f"{report.seconds:.0f} s):"
    )
    for g in report.by_attribute[attribute]:
        print(
            f"  {g.group:<8} searched {g.searched:>3}  median distance {g.median_distance:.3f}  "
            f"median changes {g.median_changes:g}  none found {g.no_recourse_share:.0%}"
        )
    print(f"  gap in median distance: {report.gaps[attribute]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=30)
    parser.add_argument("--fair-rows", type=int, default=60)
    parser.add_argument(
        "--baseline-rows",
        type=int,
        default=10**9,
        help="DiCE on the first N rows only (its sparsity pass is slow on wide ranges)",
    )
    parser.add_argument("--data", default="adult,credit")
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # DiCE's pandas 4 deprecation notes, once per call
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    for name in args.data.split(","):
        loader = {"adult": _adult, "credit": _credit}[name]
        run(name, loader, args.rows, args.fair_rows, args.baseline_rows)
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
