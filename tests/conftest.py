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
