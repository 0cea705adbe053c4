"""Shared fixtures: the Adult sample and a private workspace for every test session."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

SAMPLES = Path(__file__).resolve().parents[1] / "lepton_core" / "data" / "sample_files"
SENSITIVE = ["sex", "race", "age"]


@pytest.fixture(scope="session")
def adult_train() -> pd.DataFrame:
    """The full UCI Adult training table (32,561 rows, target ``Y``)."""
    return pd.read_parquet(SAMPLES / "adult_train.parquet")


@pytest.fixture(scope="session")
def adult_test() -> pd.DataFrame:
    """The full UCI Adult test table (16,281 rows, labels without the trailing dot)."""
    return pd.read_parquet(SAMPLES / "adult_test.parquet")


@pytest.fixture(scope="session")
def adult_small(adult_train: pd.DataFrame) -> pd.DataFrame:
    """A seeded 3,000-row sample of Adult for fast tests."""
    return adult_train.sample(3000, random_state=0).reset_index(drop=True)


@pytest.fixture(autouse=True, scope="session")
def _private_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Point every test at a throw-away workspace, never the user's."""
    path = tmp_path_factory.mktemp("workspace")
    mp = pytest.MonkeyPatch()
    mp.setenv("LEPTON_WORKSPACE", str(path))
    mp.delenv("LEPTON_TRACKING_URI", raising=False)
    mp.delenv("LEPTON_DATABASE_URL", raising=False)  # Lepton's tables in the workspace
    # Spare workers live as long as the process that started them; only the tests of
    # spares (test_jobs.py) start any.
    mp.setenv("LEPTON_WARM_WORKER", "0")
    yield path
    mp.undo()


@pytest.fixture(scope="session")
def workspace(_private_workspace: Path):
    """The session's workspace object."""
    from lepton_core.workspace import Workspace

    return Workspace(_private_workspace)


@pytest.fixture(scope="session")
def adult_run(workspace):
    """LightGBM defaults trained on the Adult sample and scored on adult.test (a TrainResult)."""
    from lepton_core.runs import TrainConfig, train

    return train(
        TrainConfig(data="sample:adult", sensitive=["sex", "race", "age"], explain_rows=500),
        workspace=workspace,
    )


@pytest.fixture(scope="session")
def adult_csv(adult_small: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 3,000-row Adult sample written as a CSV file, as a user would upload it."""
    path = tmp_path_factory.mktemp("data") / "adult_small.csv"
    adult_small.to_csv(path, index=False)
    return path


# -- a throw-away PostgreSQL server (Debian's postgresql package) --------------------------
_PG_HINT = (
    "PostgreSQL's server programs (initdb, pg_ctl) are not installed; install Debian's "
    "postgresql package (apt-get install -y postgresql) to run the PostgreSQL tests."
)


def _pg_bin(name: str) -> str:
    import glob
    import shutil

    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if found is None:
        pytest.fail(_PG_HINT, pytrace=False)
    return found


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL cluster on 127.0.0.1 and a free port for this session; yields its base URL.

    initdb refuses to run as root, so as root the cluster belongs to ``nobody``. The
    server stops (``pg_ctl stop -m fast``) and its folder is removed at the end.
    """
    import os
    import shutil
    import socket
    import subprocess
    import tempfile

    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    # Not under pytest's tmp folder: as root that is mode 0700, which nobody cannot enter.
    folder = Path(tempfile.mkdtemp(prefix="lepton-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "nobody", "--"]
        shutil.chown(folder, "nobody")
    data, sockets, log = folder / "data", folder / "sockets", folder / "server.log"

    def run(*args: str) -> None:
        done = subprocess.run([*as_user, *args], capture_output=True, text=True, timeout=120)
        if done.returncode:
            pytest.fail(f"{args[0]} failed: {done.stderr or done.stdout}", pytrace=False)

    run(initdb, "-D", str(data), "-U", "lepton", "-A", "trust", "-E", "UTF8", "--no-sync")
    run("mkdir", "-m", "700", str(sockets))
    with socket.socket() as s:  # a free port; the server takes it a moment later
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -k {sockets} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    try:
        run(pg_ctl, "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start")
        yield f"postgresql+psycopg://lepton@127.0.0.1:{port}"
    finally:
        subprocess.run(
            [*as_user, pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"],
            capture_output=True,
            timeout=120,
        )
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: str):
    """A new, empty database on the session's PostgreSQL server; dropped after the test."""
    import uuid

    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    admin = postgres_server.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = f"{postgres_server}/{name}"
    yield url
    from lepton_core.workspace import close_databases

    close_databases(url)  # the cached engine's pooled connections would block the drop
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")
