"""Training as a background job versus in process, and Auto mode's AUC on UCI Adult.

1. Overhead: the same ``TrainConfig`` (LightGBM defaults on the Adult sample,
   scored on adult.test) trained by ``train()`` in this process and as a job
   (``start_job``), the job run once by a fresh worker process that imports the
   stack and once by a spare worker that imported it beforehand (as the Train
   page keeps one), alternating over ``--repeats``. Goal: ≤ 2 s extra or a
   ratio ≤ 1.3. ``--model text`` times a Quick text model on the SST-2 sample
   instead (its run explains 20 test texts with token SHAP, whose numba code a
   spare has compiled beforehand).
2. Auto: ``run_auto`` with a ``--budget`` (default 60 s) of Optuna search on
   validation data, then the winner (refitted on train + validation) scored once
   on adult.test, against LightGBM's defaults trained in the same run. Goal:
   test ROC AUC ≥ 0.929. ``--ray N`` runs the trials on Ray Tune instead, N at a
   time on a local Ray instance with N CPUs. ``--ensemble both`` (the default) runs
   Auto without, then with its weighted ensemble of trials (greedy ensemble selection;
   goal test ROC AUC ≥ 0.930).

Run: ``python bench/jobs.py [--repeats 3] [--budget 60] [--skip-auto | --only-auto] [--ray N]
[--model text]``
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


def _spare_ready(store) -> None:
    """Wait until the spare worker ``JobStore.warm`` started has imported the stack."""
    while not list((store.folder / "spares").glob("*.ready")):
        time.sleep(0.1)


def overhead(workspace, repeats: int, model: str = "lightgbm") -> None:
    import os

    from lepton_core.jobs import JobStore, start_job
    from lepton_core.runs import TrainConfig, train

    config = (
        TrainConfig(data="sample:sst2", model="text", params={"mode": "quick"})
        if model == "text"
        else TrainConfig(data="sample:adult", sensitive=["sex"])
    )
    store = JobStore(workspace)
    train(config, workspace=workspace)  # warm-up: imports, the stored data set, MLflow's schema
    times: dict[str, list[float]] = {"direct": [], "cold": [], "spare": []}
    for _ in range(repeats):
        for how in times:
            # A spare imports while nothing is timed, as it does while a user sets a job up.
            os.environ["LEPTON_WARM_WORKER"] = "1" if how == "spare" else "0"
            if how == "spare":
                store.warm()
                _spare_ready(store)
            start = time.perf_counter()
            if how == "direct":
                train(config, workspace=workspace)
            else:
                done = _wait(store, start_job(config, workspace=workspace).id)
                assert done.status == "succeeded", store.read_log(done.id)
            times[how].append(time.perf_counter() - start)
    d = statistics.median(times["direct"])
    print(f"train() in process     median {d:6.2f} s  {[round(x, 2) for x in times['direct']]}")
    for how, label in (("cold", "job, fresh worker"), ("spare", "job, spare worker")):
        j = statistics.median(times[how])
        print(f"{label:<22} median {j:6.2f} s  {[round(x, 2) for x in times[how]]}")
        print(f"  overhead: +{j - d:.2f} s, ratio {j / d:.2f} (goal ≤ 2 s extra or ≤ 1.3)")


def auto(
    workspace, budget: float, ray_cpus: int | None = None, ensemble: bool = True, defaults=None
) -> float:
    from lepton_core.runs import AutoConfig, TrainConfig, run_auto, train

    base = TrainConfig(data="sample:adult", sensitive=["sex", "race"], explain_rows=500)
    if defaults is None:
        defaults = train(base, workspace=workspace).evaluation.metrics["roc_auc"]
    config = AutoConfig(base=base, budget_s=budget, ensemble=ensemble)
    if ray_cpus:
        import ray

        ray.init(num_cpus=ray_cpus, include_dashboard=False, log_to_driver=False)
        config.ray_address, config.parallel_trials = "auto", ray_cpus
    start = time.perf_counter()
    try:
        result = run_auto(config, workspace=workspace)
    finally:
        if ray_cpus:
            ray.shutdown()
    total = time.perf_counter() - start
    won = result.winner.evaluation.metrics["roc_auc"]
    best = result.leaderboard[0]
    where = f"Ray Tune, {ray_cpus} at a time" if ray_cpus else "in process"
    print(
        f"Auto ({where}): {result.n_trials} trials in {result.search_seconds:.1f} s of search, "
        f"{total:.1f} s with the winner's training"
    )
    print(f"  best trial {best['model']} {best['params']} rounds {best['rounds']}")
    if result.ensemble:
        members = ", ".join(f"{m['family']} {m['weight']:.2f}" for m in result.ensemble["members"])
        print(f"  winner: ensemble of {members}; validation ROC AUC {result.ensemble['score']:.4f}")
    print(
        f"  validation ROC AUC {best['score']:.4f}; refitted on train + validation: "
        f"{result.refitted} ({result.winner.n_train} rows)"
    )
    print(f"test ROC AUC: Auto {won:.4f} vs LightGBM defaults {defaults:.4f} (goal ≥ 0.929)")
    print(f"  ratio {won / defaults:.4f}")
    energy = result.winner.energy
    if energy is not None:
        print(f"  {energy.sentence()}")
        search = energy.search
        if energy.measured and search is not None and search.measured:
            final_wh = (energy.energy_kwh - search.energy_kwh) * 1000
            final_s = energy.duration_s - search.duration_s
            print(
                f"  energy: search {search.energy_kwh * 1000:.3f} Wh in {search.duration_s:.1f} s, "
                f"final model {final_wh:.3f} Wh in {final_s:.1f} s"
            )
    return defaults


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--budget", type=float, default=60.0)
    parts = parser.add_mutually_exclusive_group()
    parts.add_argument("--skip-auto", action="store_true", help="measure the job overhead only")
    parts.add_argument("--only-auto", action="store_true", help="measure Auto mode only")
    parser.add_argument("--ray", type=int, metavar="N", help="Auto on Ray Tune, N trials at once")
    parser.add_argument(
        "--ensemble",
        choices=["both", "on", "off"],
        default="both",
        help="Auto's ensemble of trials: without it, then with it (both), or one of them",
    )
    parser.add_argument(
        "--model", choices=["lightgbm", "text"], default="lightgbm", help="the job's model"
    )
    args = parser.parse_args()
    from lepton_core.workspace import Workspace

    with tempfile.TemporaryDirectory() as tmp:
        workspace = Workspace(Path(tmp) / "ws")
        if not args.only_auto:
            overhead(workspace, args.repeats, args.model)
        if not args.skip_auto:
            defaults = None
            for ensemble in {"both": (False, True), "on": (True,), "off": (False,)}[args.ensemble]:
                print(f"-- Auto, ensemble of trials {'on' if ensemble else 'off'}")
                defaults = auto(workspace, args.budget, args.ray, ensemble, defaults)


if __name__ == "__main__":
    main()
