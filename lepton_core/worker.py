"""A spare worker: Python with the training stack already imported, waiting for one job.

Started by :meth:`lepton_core.jobs.LocalExecutor.warm`, so that a job does
not spend its first seconds starting Python and importing pandas, scikit-learn,
LightGBM, shap, MLflow, torch and transformers, nor compiling shap's numba code
(for text and model-agnostic SHAP). The handshake goes through files in the spares folder:

- the spare writes ``PID.ready`` (its environment's fingerprint) once it has imported
  the stack every job needs (what only some need comes after, while no job has come);
- the executor claims it by renaming ``PID.ready`` to ``PID.claimed`` (a rename
  succeeds once, so one job gets one spare) and writes the job's CLI arguments
  to ``PID.job``;
- the spare sends its output to the job's log and runs ``python -m lepton_core``
  in its own process, as a fresh worker would.

An unclaimed spare exits when the process that started it ends or after
:data:`IDLE_S` seconds; it gives itself up with the same rename, so a spare is
never both claimed and gone. It also exits when that rename finds no file at
all: its folder was deleted with its workspace.

Run: ``python -m lepton_core.worker FOLDER CREATOR_PID``

The libraries a job imports only when it needs them (fairlearn's metrics, LightGBM,
MLflow's pyfunc, shap) are imported inside :func:`main`, after the environment's
fingerprint is taken: importing them is the spare's work, and some change the
environment as they load.
"""

from __future__ import annotations

import contextlib
import json
import os
import runpy
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from lepton_core.explain import compile_shap
from lepton_core.jobs import env_fingerprint
from lepton_core.runs import EnergyMeter
from lepton_core.workspace import Workspace, quiet_mlflow

__all__ = ["IDLE_S", "main"]

#: How long an unclaimed spare waits before it exits.
IDLE_S = 600.0
_POLL_S = 0.05
#: How long a claimed spare waits for its order (the claimer writes it at once).
_ORDER_S = 30.0


def main(folder: Path, creator: int) -> int:
    pid = os.getpid()
    ready, order = folder / f"{pid}.ready", folder / f"{pid}.job"
    tmp = folder / f"{pid}.ready.tmp"
    # The environment it was started with (the imports below may add to it).
    fingerprint = env_fingerprint(dict(os.environ))
    # The point of a spare: import the stack while nobody waits (the MLflow client, the
    # explainers and fairness metrics are imported lazily by a job, so name them here).
    quiet_mlflow()
    import fairlearn.metrics  # noqa: F401
    import lightgbm  # noqa: F401
    import mlflow.pyfunc  # noqa: F401
    import shap  # noqa: F401
    from mlflow.utils.requirements_utils import warn_dependency_requirement_mismatches

    # Logging a model checks its requirements against every installed package's file list,
    # read once per process (over a second): read it here, not in the job.
    warn_dependency_requirement_mismatches(["mlflow"])
    # Every job opens its workspace's MLflow store first (MLflow keeps it per process): the
    # spares folder is <workspace>/jobs/spares. A store that cannot open now fails the job
    # later, with the job's own message.
    root = folder.parent.parent
    if (root / "datasets").is_dir():  # a workspace (never make one where there is none)
        with contextlib.suppress(Exception):
            Workspace(root).list_runs(max_results=1)

    tmp.write_text(fingerprint, encoding="utf-8")
    tmp.rename(ready)
    # The rest of the warm-up runs beside the wait, so that the spare still answers at once
    # (a job, its starter's end); a job waits for the step under way, never runs beside it.
    stop = threading.Event()
    warming = threading.Thread(target=_warm_up, args=(stop.is_set,), daemon=True)
    warming.start()
    deadline = time.monotonic() + IDLE_S
    while not order.exists():
        time.sleep(_POLL_S)
        if time.monotonic() < deadline and os.getppid() == creator:
            continue
        try:
            ready.rename(folder / f"{pid}.gone")  # fails once a job has claimed us
        except FileNotFoundError:
            claimed = (folder / f"{pid}.claimed").exists()
            if claimed and time.monotonic() < deadline + _ORDER_S:
                continue  # the order is on its way
            return 0  # the folder went with its workspace, or the claimer never wrote
        (folder / f"{pid}.gone").unlink(missing_ok=True)
        return 0
    stop.set()
    warming.join()
    spec = json.loads(order.read_text(encoding="utf-8"))
    order.unlink()
    os.environ.clear()
    os.environ.update(spec["env"])  # exactly what a fresh worker would have had
    log = os.open(spec["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    # PID.claimed stays: it tells a reader that this process runs the job; once the
    # process is gone, the next warm-up sweeps it away. What runs is exactly what
    # ``python -m lepton_core ARGV`` runs (the entry point, not the CLI's functions):
    # it exits with the command's status.
    sys.argv[1:] = spec["argv"]
    runpy.run_module("lepton_core", run_name="__main__", alter_sys=True)
    return 0


def _warm_up(stop: Callable[[], bool]) -> None:
    """What a job would otherwise do first, once the spare is ready: CodeCarbon's hardware
    detection, which every job's energy meter needs (about 1.2 s, then cached for the
    process), the text models' torch and transformers (about 2.5 s of imports), and
    shap's numba code (text and model-agnostic SHAP, 5–10 s). A job that comes meanwhile
    waits for the step under way at most and does the rest itself if it needs them."""
    EnergyMeter().start().stop()
    with contextlib.suppress(ImportError):  # an installation without the text models
        if not stop():
            import torch  # noqa: F401
        if not stop():
            from transformers import AutoModel, AutoTokenizer  # noqa: F401
    compile_shap(stop=stop)


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), int(sys.argv[2])))
