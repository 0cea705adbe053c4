"""Training as a background job versus in process, and Auto mode's AUC on UCI Adult.

1. Overhead: the same ``TrainConfig`` (LightGBM defaults on the Adult sample,
   scored on adult.test) trained by ``train()`` in this process and as a job
   (``start_job``: a fresh worker process that imports the stack, trains and
   writes progress to the jobs table), alternating over ``--repeats``. Goal:
   ≤ 2 s extra or a ratio ≤ 1.3.
2. Auto: ``run_auto`` with a ``--budget`` (default 60 s) of Optuna search on
   validation data, then the winner scored once on adult.test, against
   LightGBM's defaults trained in the same run. Goal: test ROC AUC ≥ 0.929.

Run: ``python bench/jobs.py [--repeats 3] [--budget 60] [--skip-auto]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _wait(store, job_id: str) -> object:
    while (job := store.get(job_id)).active:
        time.sleep(0.1)
    return job


def overhead(workspace, repeats: int) -> None:
    from lepton_core.jobs import JobStore, start_job
    from lepton_core.training import TrainConfig, train

    config = TrainConfig(data="sample:adult", sensitive=["sex"])
    store = JobStore(workspace)
    train(config, workspace=workspace)  # warm-up: imports, the stored data set, MLflow's schema
    direct, job = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        train(config, workspace=workspace)
        direct.append(time.perf_counter() - start)
        start = time.perf_counter()
        done = _wait(store, start_job(config, workspace=workspace).id)
        job.append(time.perf_counter() - start)
        assert done.status == "succeeded", store.read_log(done.id)
    d, j = statistics.median(direct), statistics.median(job)
    print(f"train() in process   median {d:6.2f} s  {[round(x, 2) for x in direct]}")
    print(f"as a job (start→end) median {j:6.2f} s  {[round(x, 2) for x in job]}")
    print(f"job overhead: +{j - d:.2f} s, ratio {j / d:.2f} (goal ≤ 2 s extra or ≤ 1.3)")


def auto(workspace, budget: float) -> None:
    from lepton_core.auto import AutoConfig, run_auto
    from lepton_core.training import TrainConfig, train

    base = TrainConfig(data="sample:adult", sensitive=["sex", "race"], explain_rows=500)
    defaults = train(base, workspace=workspace).evaluation.metrics["roc_auc"]
    start = time.perf_counter()
    result = run_auto(AutoConfig(base=base, budget_s=budget), workspace=workspace)
    total = time.perf_counter() - start
    won = result.winner.evaluation.metrics["roc_auc"]
    best = result.leaderboard[0]
    print(
        f"Auto: {result.n_trials} trials in {result.search_seconds:.1f} s of search, "
        f"{total:.1f} s with the winner's training"
    )
    print(f"  winner {best['model']} {best['params']}")
    print(f"  validation ROC AUC {best['score']:.4f}")
    print(f"test ROC AUC: Auto {won:.4f} vs LightGBM defaults {defaults:.4f} (goal ≥ 0.929)")
    print(f"  ratio {won / defaults:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--skip-auto", action="store_true")
    args = parser.parse_args()
    from lepton_core.workspace import Workspace

    with tempfile.TemporaryDirectory() as tmp:
        workspace = Workspace(Path(tmp) / "ws")
        overhead(workspace, args.repeats)
        if not args.skip_auto:
            auto(workspace, args.budget)


if __name__ == "__main__":
    main()
