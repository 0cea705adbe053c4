"""How fast the team dashboard lists a large workspace: 2,000 model versions over 50 data sets.

The workspace is seeded straight through MLflow's client, as training would leave it but
without training: per version a finished run with the tags, parameters and metrics
:func:`lepton_core.runs.record_run` logs (accuracy or RMSE, per-attribute fairness gaps, ε
for one run in ten), a logged model whose folder holds a weights file of a realistic
size, and a registered version with Lepton's tags; one version in eight is published and
some have share links. One run in twenty is "older": it logged no fairness metrics, only
its ``fairness.json`` report, so the board must fall back to reading that report.

It then times

* :func:`lepton_core.runs.model_board` in a fresh process (``--repeats`` times: the first
  call reads the older runs' reports and sizes the model folders; later calls use the
  per-run cache), with and without a filter;
* the page's **first paint** in headless Chromium: the real app (``streamlit run
  server.py``) on the seeded workspace, from ``page.goto(.../dashboard)`` until its
  heading, then the table, is on screen, and until Streamlit shows no "Running…"
  indicator; a cold visit (the first after the server started) and warm visits (new
  browser pages). The baseline, in the same browser just before: the Data page's
  heading, a page that reads no runs (Streamlit's own start-up in the browser).

Goal (issue 16): 2,000 versions across 50 data sets render in under 2 s.

Run: ``python bench/dashboard.py [--versions 2000] [--datasets 50] [--repeats 3]
[--workspace DIR] [--no-browser]``
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ui import CHROMIUM, FLAGS, RUNNING, App  # noqa: E402  (bench/ is on the path)

FAMILIES = ("lightgbm", "logistic", "tree", "mlp")
ATTRIBUTES = (["sex", "race"], ["sex"], ["age", "sex", "race"], [])


# ------------------------------------------------------------------------- seeding
def _dataset_plan(n_datasets: int) -> list[dict]:
    """Data sets: mostly yes/no targets with 0–3 sensitive columns, some regression."""
    plans = []
    for i in range(n_datasets):
        task = "regression" if i % 10 == 9 else "multiclass" if i % 10 == 8 else "binary"
        plans.append(
            {
                "name": f"team-data-{i:02d}",
                "task": task,
                "sensitive": ATTRIBUTES[i % len(ATTRIBUTES)],
            }
        )
    return plans


def _metrics(rng: random.Random, task: str, sensitive: list[str]) -> dict[str, float]:
    if task == "regression":
        rmse = rng.uniform(20, 80)
        metrics = {"test_rmse": rmse, "test_mae": rmse * 0.8, "test_r2": rng.uniform(0.2, 0.7)}
    else:
        accuracy = rng.uniform(0.7, 0.9)
        metrics = {
            "test_accuracy": accuracy,
            "test_balanced_accuracy": accuracy - 0.05,
            "test_f1": accuracy - 0.1,
            "test_precision": accuracy - 0.08,
            "test_recall": accuracy - 0.12,
            "test_log_loss": 1 - accuracy,
        }
        if task == "binary":
            metrics["test_roc_auc"] = min(0.99, accuracy + rng.uniform(0.02, 0.1))
    for attribute in sensitive:
        if task == "binary":
            dpd = rng.uniform(0.0, 0.3)
            metrics[f"fairness_{attribute}_demographic_parity_difference"] = dpd
            metrics[f"fairness_{attribute}_demographic_parity_ratio"] = 1 - dpd
            metrics[f"fairness_{attribute}_equalized_odds_difference"] = rng.uniform(0.0, 0.3)
        metrics[f"fairness_{attribute}_worst_group_value"] = rng.uniform(0.6, 0.9)
        metrics[f"fairness_{attribute}_worst_group_gap"] = rng.uniform(0.0, 0.1)
    return metrics


def _fairness_report(attribute: str, metrics: dict[str, float], task: str) -> dict:
    """A stored fairness report carrying the figures of ``metrics`` (what training writes)."""
    dpd = metrics.pop(f"fairness_{attribute}_demographic_parity_difference", None)
    ratio = metrics.pop(f"fairness_{attribute}_demographic_parity_ratio", None)
    eod = metrics.pop(f"fairness_{attribute}_equalized_odds_difference", None)
    value = metrics.pop(f"fairness_{attribute}_worst_group_value", None)
    gap = metrics.pop(f"fairness_{attribute}_worst_group_gap", None)
    return {
        "attribute": attribute,
        "task": task,
        "positive_class": ">50K" if task == "binary" else None,
        "binned": False,
        "groups": ["a", "b"],
        "overall": {"count": 600.0, "accuracy": 0.8},
        "by_group": {"a": {"count": 300.0, "accuracy": 0.8}, "b": {"count": 300.0}},
        "demographic_parity_difference": dpd,
        "demographic_parity_ratio": ratio,
        "equalized_odds_difference": eod,
        "worst_group": {"metric": "accuracy", "group": "b", "value": value, "gap": gap},
        "small_groups": [],
        "min_group_rows": 30,
        "note": None,
    }


def seed(root: Path, *, versions: int = 2000, datasets: int = 50, seed: int = 0) -> dict:
    """Fill the workspace at ``root`` with ``versions`` model versions over ``datasets``."""
    import mlflow
    import pandas as pd
    from mlflow.entities import Metric, Param, RunTag

    from lepton_core.workspace import ShareLinks, Workspace

    rng = random.Random(seed)
    ws = Workspace(root)
    client = ws.client
    # The registry resolves a version's ``models:/`` source through the fluent client.
    mlflow.set_tracking_uri(ws.tracking_uri)
    links = ShareLinks(ws)
    table = pd.DataFrame({"x": [1, 2, 3, 4], "sex": list("abab"), "y": [0, 1, 0, 1]})
    infos = []
    for plan in _dataset_plan(datasets):
        info = ws.save_dataset(
            table,
            name=plan["name"],
            target="y",
            task=plan["task"],
            sensitive=plan["sensitive"],
            fingerprint=plan["name"],
        )
        client.create_registered_model(plan["name"])
        infos.append((info, plan))
    start = time.time() - versions * 60
    counts = {"published": 0, "links": 0, "older": 0, "private": 0}
    for i in range(versions):
        info, plan = infos[i % datasets]
        number = i // datasets + 1
        family = FAMILIES[rng.randrange(len(FAMILIES))]
        metrics = _metrics(rng, plan["task"], plan["sensitive"])
        private = family == "mlp" and rng.random() < 0.4
        if private:
            metrics["privacy_epsilon"] = rng.choice([1.0, 3.0, 8.0])
            metrics["privacy_delta"] = 1e-5
            counts["private"] += 1
        older = rng.random() < 0.05 and bool(plan["sensitive"])
        reports = None
        if older:  # recorded before the gaps were metrics: only the report has them
            reports = [_fairness_report(a, metrics, plan["task"]) for a in plan["sensitive"]]
            counts["older"] += 1
        began = int((start + i * 60) * 1000)
        tags = {
            "lepton.dataset_id": info.id,
            "lepton.dataset_name": info.name,
            "lepton.family": family,
            "lepton.task": plan["task"],
            "lepton.model_name": info.name,
            "lepton.model_version": str(number),
        }
        run = client.create_run(
            ws.experiment_id, start_time=began, run_name=f"{info.name}-{family}", tags=tags
        )
        run_id = run.info.run_id
        params = {
            "family": family,
            "task": plan["task"],
            "target": "y",
            "sensitive": ",".join(plan["sensitive"]),
            "seed": "0",
            "n_train": "21000",
            "n_valid": "3000",
            "n_test": "6000",
            "data_fingerprint": info.fingerprint,
            "model.learning_rate": "0.1",
            "model.n_estimators": "100",
            "model.num_leaves": "31",
        }
        history = [Metric("train_loss", 0.7 - 0.01 * s, began, s) for s in range(1, 21)] + [
            Metric("valid_loss", 0.72 - 0.01 * s, began, s) for s in range(1, 21)
        ]
        client.log_batch(
            run_id,
            metrics=[Metric(k, float(v), began, 0) for k, v in metrics.items()] + history,
            params=[Param(k, v) for k, v in params.items()],
            tags=[RunTag("lepton.process", "bench:0:0")],
        )
        if reports is not None:
            client.log_text(run_id, json.dumps(reports), "fairness.json")
        logged = client.create_logged_model(ws.experiment_id, name="model", source_run_id=run_id)
        folder = Path(logged.artifact_location.removeprefix("file://"))
        (folder / "artifacts" / "lepton_model").mkdir(parents=True, exist_ok=True)
        size = rng.randint(40_000, 4_000_000)
        with open(folder / "artifacts" / "lepton_model" / "model.bin", "wb") as f:
            f.truncate(size)  # a sparse file: its size, without writing it
        (folder / "MLmodel").write_text("flavors: {}\n", encoding="utf-8")
        client.finalize_logged_model(logged.model_id, "READY")
        mv = client.create_model_version(
            info.name,
            source=f"models:/{logged.model_id}",
            run_id=run_id,
            tags={
                "lepton.sha256": f"{i:064x}",
                "lepton.hashed": "folder",
                "lepton.run_id": run_id,
            },
            model_id=logged.model_id,
        )
        assert int(mv.version) == number, (mv.version, number)
        client.set_terminated(run_id, "FINISHED", end_time=began + 30_000)
        if rng.random() < 1 / 8:
            ws.set_published(info.name, number)
            counts["published"] += 1
            for _ in range(rng.randrange(0, 3)):
                links.create(info.name, number, expires_in=7 * 86_400.0)
                counts["links"] += 1
        if (i + 1) % 250 == 0:
            print(f"  seeded {i + 1} versions", flush=True)
    return counts


# ------------------------------------------------------------------------- timing
_TIMER = """
import json, sys, time
start = time.perf_counter()
from lepton_core.runs import model_board
from lepton_core.workspace import Workspace
imported = time.perf_counter() - start
ws = Workspace(sys.argv[1])
times, rows = [], 0
for _ in range(int(sys.argv[2])):
    t = time.perf_counter()
    rows = len(model_board(ws))
    times.append(time.perf_counter() - t)
t = time.perf_counter()
some = len(model_board(ws, dataset="team-data-04", max_gap=0.2, search="lightgbm"))
filtered = time.perf_counter() - t
print(json.dumps({"imported": imported, "times": times, "rows": rows, "filtered": filtered,
                  "some": some}))
"""


def time_board(root: Path, repeats: int) -> dict:
    """``model_board`` timed in a fresh process (a cold cache, as after a server start)."""
    out = subprocess.run(
        [sys.executable, "-c", _TIMER, str(root), str(repeats)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _settled(page) -> None:
    """Until Streamlit shows no running indicator for three polls in a row."""
    quiet = 0
    while quiet < 3:
        quiet = quiet + 1 if page.locator(RUNNING).count() == 0 else 0
        time.sleep(0.05)


def time_paint(root: Path, visits: int) -> list[dict]:
    """First paint of the dashboard in Chromium: a cold visit, then warm ones."""
    from playwright.sync_api import expect, sync_playwright

    app = App(str(root), env={"LEPTON_WARM_WORKER": "0"})
    url = app.url
    figures = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            for visit in range(visits):
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                figure = {"visit": visit}
                # The baseline: the Data page, which reads no runs, in the same browser.
                t = time.perf_counter()
                page.goto(f"{url}/")
                expect(page.get_by_role("heading", name="1 · Data")).to_be_visible(timeout=60_000)
                figure["baseline"] = time.perf_counter() - t
                _settled(page)
                page.close()
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                t = time.perf_counter()
                page.goto(f"{url}/dashboard")
                heading = page.get_by_role("heading", name="Team dashboard")
                expect(heading).to_be_visible(timeout=60_000)
                figure["heading"] = time.perf_counter() - t
                expect(page.get_by_test_id("stDataFrame").first).to_be_visible(timeout=60_000)
                figure["table"] = time.perf_counter() - t
                _settled(page)
                figure["settled"] = time.perf_counter() - t
                expect(page.get_by_test_id("stException")).to_have_count(0)
                figures.append(figure)
                page.close()
            browser.close()
    finally:
        app.stop()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--versions", type=int, default=2000)
    parser.add_argument("--datasets", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--visits", type=int, default=4)
    parser.add_argument("--workspace", type=Path, help="reuse (or seed once into) this folder")
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()

    root = args.workspace or Path(tempfile.mkdtemp(prefix="lepton-dashboard-"))
    if not (root / "mlflow.db").exists():
        t = time.perf_counter()
        counts = seed(root, versions=args.versions, datasets=args.datasets)
        print(
            f"seeded {args.versions} versions over {args.datasets} data sets in "
            f"{time.perf_counter() - t:.0f} s: {counts}"
        )
    print(f"workspace: {root}")
    board = time_board(root, args.repeats)
    first, *later = board["times"]
    print(
        f"model_board, {board['rows']} rows: first call {first:.3f} s"
        + (f", later calls median {statistics.median(later):.3f} s" if later else "")
        + f"; one data set + gap ≤ 0.2 + search: {board['filtered']:.3f} s "
        f"({board['some']} rows); import {board['imported']:.2f} s"
    )
    if args.no_browser:
        return
    for figure in time_paint(root, args.visits):
        kind = "cold" if figure["visit"] == 0 else "warm"
        print(
            f"dashboard ({kind} visit {figure['visit']}): heading {figure['heading']:.2f} s, "
            f"table on screen {figure['table']:.2f} s, settled {figure['settled']:.2f} s; "
            f"Data page heading (baseline) {figure['baseline']:.2f} s, "
            f"table/baseline {figure['table'] / figure['baseline']:.2f}"
        )


if __name__ == "__main__":
    main()
