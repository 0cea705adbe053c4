"""Single-record predict latency and throughput of Lepton's API vs ``mlflow models serve``.

One run, on loopback, with bounded load: the Adult LightGBM model is trained once
into a throw-away workspace; then Lepton's API (``python -m lepton_core serve``,
uvicorn, one process, API key checked on every call; once predicting with the model
itself, once with its ONNX export in onnxruntime) and MLflow's scoring server
(``mlflow models serve --env-manager local`` on the same registered model folder)
each get the same warm-up and then the same number of one-record requests from a
fixed number of concurrent clients (each with a keep-alive connection).

Goals (issue 5): p50 ≤ 5 ms, p99 ≤ 20 ms, and at least 2× MLflow's throughput.

The prediction log (issue 17): the native server runs twice in the same run, once with
``LEPTON_PREDICTION_LOG=off`` and once logging (the default). Goal: ≤ 10 % added at
p50, and no prediction lost under the 8-client load: after the logging server stops
(SIGTERM, so it writes its queue), the log must hold one row per answered request.

Run: ``python bench/serve.py [--requests 2000] [--concurrency 8]``
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, proc: subprocess.Popen, timeout: float = 180) -> None:
    import httpx

    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not come up in {timeout:.0f} s")


def _load(
    url: str, body: dict, headers: dict, *, requests: int, concurrency: int, warmup: int
) -> dict[str, float]:
    """Latencies (ms) of ``requests`` POSTs from ``concurrency`` clients, and throughput."""
    import httpx

    per_client = requests // concurrency
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency
    answered = [0] * concurrency  # 200s, warm-up included: what the log must hold
    barrier = threading.Barrier(concurrency + 1)

    def client(i: int) -> None:
        with httpx.Client(headers=headers, timeout=30) as http:
            for _ in range(warmup // concurrency):
                answered[i] += http.post(url, json=body).status_code == 200
            barrier.wait()
            for _ in range(per_client):
                start = time.perf_counter()
                response = http.post(url, json=body)
                latencies[i].append((time.perf_counter() - start) * 1000)
                errors[i] += response.status_code != 200
                answered[i] += response.status_code == 200

    threads = [threading.Thread(target=client, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    flat = np.concatenate([np.asarray(x) for x in latencies])
    return {
        "p50_ms": float(np.percentile(flat, 50)),
        "p99_ms": float(np.percentile(flat, 99)),
        "throughput_rps": len(flat) / elapsed,
        "errors": float(sum(errors)),
        "answered": float(sum(answered)),
    }


def _logged(ws: Any, name: str) -> int:
    """Rows in the prediction log for model ``name``."""
    import sqlalchemy as sa

    from lepton_core.workspace import open_database, predictions_table

    t = predictions_table
    with open_database(ws.root).begin() as conn:
        return conn.execute(sa.select(sa.func.count()).where(t.c.model == name)).scalar() or 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()

    from lepton_core.runs import TrainConfig, train
    from lepton_core.workspace import ApiKeyStore, Workspace

    tmp = Path(tempfile.mkdtemp(prefix="lepton-bench-serve-"))
    ws = Workspace(tmp / "ws")
    print("training the Adult LightGBM model …", flush=True)
    result = train(TrainConfig(data="sample:adult", explain_rows=200), workspace=ws)
    name, version = result.model_name, result.model_version
    schema = ws.load_input_schema(result.run_id)
    record = schema.defaults()
    _, key = ApiKeyStore(ws).create("bench")
    model_dir = Path(urlparse(ws.model_location(name, version)).path)
    # MLflow's server gets the frame Lepton's schema makes of the same record.
    mlflow_record = schema.to_frame([record]).iloc[0].to_dict()
    mlflow_record = {k: (None if v != v else v) for k, v in mlflow_record.items()}  # NaN → null

    env = {**os.environ, "LEPTON_WORKSPACE": str(ws.root), "OMP_NUM_THREADS": "1"}
    procs: list[subprocess.Popen] = []
    rows = {}
    log_check: dict[str, int] = {}
    try:
        for runtime, logging in (("native", False), ("native", True), ("onnx", True)):
            port = _free_port()
            command = ["-m", "lepton_core", "serve", "--port", str(port), "--runtime", runtime]
            procs.append(
                subprocess.Popen(
                    [sys.executable, *command],
                    cwd=ROOT,
                    env={**env, "LEPTON_PREDICTION_LOG": "on" if logging else "off"},
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            _wait(f"http://127.0.0.1:{port}/health", procs[-1])
            ours_url = f"http://127.0.0.1:{port}/models/{name}/versions/{version}/predict"
            label = "lepton serve" + (" (onnx)" if runtime == "onnx" else "")
            label += "" if logging else ", no log"
            before = _logged(ws, name)
            print(f"loading {label} …", flush=True)
            for concurrency, total, suffix in (
                (1, args.requests // 4, ", 1 client"),
                (args.concurrency, args.requests, ""),
            ):
                rows[label + suffix] = _load(
                    ours_url,
                    {"records": [record]},
                    {"Authorization": f"Bearer {key}"},
                    requests=total,
                    concurrency=concurrency,
                    warmup=args.warmup,
                )
            server = procs.pop()
            server.terminate()  # SIGTERM: uvicorn stops cleanly and the log writes its queue
            server.wait(timeout=60)
            if logging and runtime == "native":
                log_check["answered"] = int(
                    rows[label]["answered"] + rows[label + ", 1 client"]["answered"]
                )
                log_check["logged"] = _logged(ws, name) - before

        port2 = _free_port()
        mlflow_bin = Path(sys.executable).with_name("mlflow")
        procs.append(
            subprocess.Popen(
                [
                    str(mlflow_bin),
                    "models",
                    "serve",
                    "-m",
                    str(model_dir),
                    "--env-manager",
                    "local",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port2),
                ],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        _wait(f"http://127.0.0.1:{port2}/ping", procs[-1])
        print("loading mlflow models serve …", flush=True)
        rows["mlflow serve, 1 client"] = _load(
            f"http://127.0.0.1:{port2}/invocations",
            {"dataframe_records": [mlflow_record]},
            {},
            requests=args.requests // 4,
            concurrency=1,
            warmup=args.warmup,
        )
        rows["mlflow models serve"] = _load(
            f"http://127.0.0.1:{port2}/invocations",
            {"dataframe_records": [mlflow_record]},
            {},
            requests=args.requests,
            concurrency=args.concurrency,
            warmup=args.warmup,
        )
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)

    print(
        f"\none-record predict on loopback: {args.requests:,} requests from {args.concurrency} "
        f"concurrent clients, and {args.requests // 4:,} from one client (pure latency)"
    )
    print(f"{'server':<32}{'p50 ms':>9}{'p99 ms':>9}{'req/s':>9}{'errors':>8}")
    for label, row in rows.items():
        print(
            f"{label:<32}{row['p50_ms']:>9.2f}{row['p99_ms']:>9.2f}"
            f"{row['throughput_rps']:>9.0f}{row['errors']:>8.0f}"
        )
    off, on = rows["lepton serve, no log"], rows["lepton serve"]
    off_alone, on_alone = rows["lepton serve, no log, 1 client"], rows["lepton serve, 1 client"]
    print("\nprediction log (native): added latency, logging on vs off in this run")
    for what, a, b in (("1 client", off_alone, on_alone), (f"{args.concurrency} clients", off, on)):
        print(
            f"  {what}: p50 {b['p50_ms'] / a['p50_ms'] - 1:+.1%} (goal ≤ +10%), "
            f"p99 {b['p99_ms'] / a['p99_ms'] - 1:+.1%}, throughput "
            f"{b['throughput_rps'] / a['throughput_rps'] - 1:+.1%}"
        )
    lost = log_check["answered"] - log_check["logged"]
    print(
        f"  rows logged after the run: {log_check['logged']:,} of {log_check['answered']:,} "
        f"answered requests ({lost:,} lost; goal 0)"
    )
    theirs, mlflow_alone = rows["mlflow models serve"], rows["mlflow serve, 1 client"]
    for label in ("lepton serve", "lepton serve (onnx)"):
        ours, alone = rows[label], rows[label + ", 1 client"]
        print(f"\n{label}")
        print(
            f"  throughput at {args.concurrency} clients: "
            f"{ours['throughput_rps'] / theirs['throughput_rps']:.2f}× mlflow's (goal ≥ 2×)"
        )
        print(
            f"  one client: p50 {alone['p50_ms']:.2f} ms (goal ≤ 5), p99 {alone['p99_ms']:.2f} ms "
            f"(goal ≤ 20); mlflow's p50 is {mlflow_alone['p50_ms'] / alone['p50_ms']:.2f}× "
            "this"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
