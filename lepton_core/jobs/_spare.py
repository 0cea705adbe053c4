"""A spare worker: Python with the training stack already imported, waiting for one job.

Started by :meth:`lepton_core.jobs._executors.LocalExecutor.warm`, so that a job does
not spend its first seconds starting Python and importing pandas, scikit-learn,
LightGBM, shap, MLflow, torch and transformers, nor compiling shap's numba code
(for text and model-agnostic SHAP). The handshake goes through files in the spares folder:

- the spare writes ``PID.ready`` (its environment's fingerprint) when it is warm;
- the executor claims it by renaming ``PID.ready`` to ``PID.claimed`` (a rename
  succeeds once, so one job gets one spare) and writes the job's CLI arguments
  to ``PID.job``;
- the spare sends its output to the job's log and runs the CLI as
  ``python -m lepton_core`` would.

An unclaimed spare exits when the process that started it ends or after
:data:`IDLE_S` seconds; it gives itself up with the same rename, so a spare is
never both claimed and gone. It also exits when that rename finds no file at
all: its folder was deleted with its workspace.

Run: ``python -m lepton_core.jobs._spare FOLDER CREATOR_PID``
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

#: How long an unclaimed spare waits before it exits.
IDLE_S = 600.0
_POLL_S = 0.05
#: How long a claimed spare waits for its order (the claimer writes it at once).
_ORDER_S = 30.0


#: Variables libraries set for themselves at run time (MLflow its tracking URI, torch's
#: OpenMP its flags); they differ between processes without meaning anything.
_RUNTIME_PREFIXES = ("MLFLOW_", "KMP_")


def env_fingerprint(env: dict[str, str]) -> str:
    """What a job's environment must match for a spare to run it (some settings, such as
    thread counts, are read once, when a library is imported)."""
    import hashlib

    kept = sorted((k, v) for k, v in env.items() if not k.startswith(_RUNTIME_PREFIXES))
    return hashlib.sha256(json.dumps(kept).encode()).hexdigest()


def main(folder: Path, creator: int) -> int:
    pid = os.getpid()
    ready, order = folder / f"{pid}.ready", folder / f"{pid}.job"
    tmp = folder / f"{pid}.ready.tmp"
    # The environment it was started with (imports below may add to it).
    fingerprint = env_fingerprint(dict(os.environ))
    # The point of a spare: import the stack while nobody waits (the MLflow client, the
    # explainers and fairness metrics are imported lazily by a job, so name them here).
    import fairlearn.metrics  # noqa: F401
    import lightgbm  # noqa: F401
    import mlflow.pyfunc  # noqa: F401
    import shap  # noqa: F401

    from lepton_core.explain import compile_shap

    # Text and model-agnostic SHAP would compile this in the job, about 5 s.
    compile_shap()
    tmp.write_text(fingerprint, encoding="utf-8")
    tmp.rename(ready)
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
    spec = json.loads(order.read_text(encoding="utf-8"))
    order.unlink()
    os.environ.clear()
    os.environ.update(spec["env"])  # exactly what a fresh worker would have had
    log = os.open(spec["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    from lepton_core.cli import main as cli

    # PID.claimed stays: it tells a reader that this process runs the job; once the
    # process is gone, the next warm-up sweeps it away.
    return cli(spec["argv"])


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), int(sys.argv[2])))
