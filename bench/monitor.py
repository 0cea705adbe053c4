"""Does monitoring see a model go wrong, soon enough, without crying wolf?

The default LightGBM is trained on UCI Adult (fairness by ``sex``). Its test rows are then
replayed through Lepton's prediction log as ``--windows`` days of ``--rows`` requests
each, answered by the model, with the true answers sent back, twice:

* **steady**: every day a fresh random draw of test rows, nothing changed;
* **drifted**: from the middle day on, callers are 10 years older, 70 % of the women no
  longer come, and the true answers of a third of the women flip (the world changed
  for one group; the model did not).

After each day the monitor's alerts are checked as a scheduler would (``lepton monitor
--live --check``): on the log up to that day, with the default limits. Reported: for
each kind of alert (a column drifted, accuracy fell, the gap between the sexes widened)
how many days after the change it first fired, and its false alarms: the share of days
it fired when nothing had changed (all steady days, and drifted days before the change).
Then the cost: the live report on the whole log, and, with ``--rows-total``, on a log
of that many predictions (the Monitor page's wait: traffic counted in SQL, the rest on
a 100,000-row sample).

Run: ``python bench/monitor.py [--windows 20] [--rows 800] [--rows-total 1000000]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
KINDS = {
    "drift": "a column drifted",
    "accuracy": "accuracy fell",
    "odds": "error-rate gap",
    "parity": "selection-rate gap",
}


def _replay(log, bundle, test, *, windows, rows, drifted, start, seed=0):
    """Log ``windows`` days of answered requests (with true answers) and return their ids."""
    rng = np.random.default_rng(seed)
    name, version = bundle.version.name, bundle.version.version
    fields = bundle.input_schema.names
    for day in range(windows):
        batch = test.sample(rows, replace=True, random_state=int(rng.integers(1 << 31)))
        truth = batch["Y"].to_numpy().copy()
        if drifted and day >= windows // 2:
            batch = batch.copy()
            women = batch["sex"].str.strip().eq("Female")
            keep = ~women | (rng.random(len(batch)) < 0.3)
            batch = batch[keep]
            batch = batch.sample(rows, replace=True, random_state=int(rng.integers(1 << 31)))
            batch["age"] = batch["age"] + 10
            truth = batch["Y"].to_numpy().copy()
            flip = batch["sex"].str.strip().eq("Female").to_numpy() & (rng.random(rows) < 1 / 3)
            truth[flip] = np.where(truth[flip] == ">50K", "<=50K", ">50K")
        features = batch[fields]
        labels, proba = bundle.model.predict_scored(bundle.input_schema.prepare(features))
        ids = log.record(
            name, version, features.to_dict("records"), [str(v) for v in labels],
            proba.max(axis=1).tolist(), source="batch", latency_ms=2.0, wait=True,
            at=start + timedelta(days=day, hours=12),
        )  # fmt: skip
        log.add_labels(name, dict(zip(ids, truth, strict=True)), version=version)


def _first_alerts(workspace, model, table, *, windows, start):
    """Per day: the set of alert kinds the log up to that day raises."""
    from lepton_core.monitoring import live_report

    fired = []
    for day in range(windows):
        upto = table[table["time"] < pd.Timestamp(start + timedelta(days=day + 1))]
        report = live_report(workspace, model, upto, every="1D")
        fired.append({a.kind for a in report.alerts})  # sex is the only sensitive column
    return fired


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--windows", type=int, default=20, help="days replayed per scenario")
    parser.add_argument("--rows", type=int, default=800, help="requests per day")
    parser.add_argument("--rows-total", type=int, default=0, help="also time a log this big")
    args = parser.parse_args()

    from lepton_core.data import load_sample
    from lepton_core.monitoring import live_from_log
    from lepton_core.runs import TrainConfig, load_bundle, train
    from lepton_core.workspace import Workspace, prediction_log

    test = load_sample("adult").test
    test = test.assign(Y=test["Y"].astype(str).str.strip().str.rstrip("."))
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for scenario in ("steady", "drifted"):
            workspace = Workspace(Path(tmp) / scenario)
            run = train(
                TrainConfig(data="sample:adult", sensitive=["sex"], explain_rows=200),
                workspace=workspace,
            )
            model = f"{run.model_name}:{run.model_version}"
            bundle = load_bundle(workspace, run.model_name, run.model_version)
            log = prediction_log(workspace)
            start = datetime(2026, 11, 1, tzinfo=UTC)
            clock = time.perf_counter()
            _replay(
                log, bundle, test, windows=args.windows, rows=args.rows,
                drifted=scenario == "drifted", start=start,
            )  # fmt: skip
            log.flush()
            logged = time.perf_counter() - clock
            table = log.read_predictions(run.model_name, run.model_version)
            clock = time.perf_counter()
            fired = _first_alerts(workspace, model, table, windows=args.windows, start=start)
            checks = (time.perf_counter() - clock) / args.windows
            clock = time.perf_counter()
            live_from_log(workspace, model)
            whole = time.perf_counter() - clock
            results[scenario] = (fired, logged, checks, whole, len(table))
            if scenario == "drifted" and args.rows_total:
                _time_big(workspace, log, bundle, test, model, args.rows_total, start)
            log.close()

    change = args.windows // 2
    print(f"{args.windows} days × {args.rows} requests per scenario; change on day {change}")
    print(f"{'alert':<22}{'fires after change':>20}{'false alarms':>16}")
    steady, drifted = results["steady"][0], results["drifted"][0]
    for kind, title in KINDS.items():
        after = [d - change for d in range(change, args.windows) if kind in drifted[d]]
        quiet = [kind in days for days in steady] + [kind in d for d in drifted[:change]]
        delay = f"day {after[0]} ({len(after)}/{args.windows - change})" if after else "never"
        print(f"{title:<22}{delay:>20}{sum(quiet) / len(quiet):>15.0%}")
    for scenario, (_, logged, checks, whole, rows) in results.items():
        print(
            f"{scenario}: {rows:,} predictions logged in {logged:.1f} s; one day's check "
            f"{checks:.2f} s; the live report on the whole log {whole:.2f} s"
        )


def _time_big(workspace, log, bundle, test, model, total, start) -> None:
    """The live report and the traffic count on a log of ``total`` predictions."""
    from lepton_core.monitoring import live_from_log

    name, version = bundle.version.name, bundle.version.version
    fields = bundle.input_schema.names
    rows = test.sample(10_000, replace=True, random_state=0)
    labels, proba = bundle.model.predict_scored(bundle.input_schema.prepare(rows[fields]))
    records = rows[fields].to_dict("records")
    clock = time.perf_counter()
    have = len(log.read_predictions(name, version, status=None))
    for i, done in enumerate(range(have, total, len(records))):
        n = min(len(records), total - done)
        log.record(
            name, version, records[:n], [str(v) for v in labels[:n]],
            proba.max(axis=1)[:n].tolist(), source="api", latency_ms=3.0, wait=True,
            at=start + timedelta(minutes=7 * i),
        )  # fmt: skip
    log.flush(timeout=3600)
    print(f"{total:,} predictions logged in {time.perf_counter() - clock:.0f} s")
    for every in ("1D", "1h"):
        clock = time.perf_counter()
        report = live_from_log(workspace, model, every=every)
        print(
            f"live report on {total:,} predictions, one point per {every}: "
            f"{time.perf_counter() - clock:.2f} s ({len(report.traffic)} windows, "
            f"{report.rows:,} rows read)"
        )


if __name__ == "__main__":
    main()
