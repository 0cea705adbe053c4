"""The privacy parts of the pages under AppTest: findings, actions, k-anonymity, new version."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
from streamlit.testing.v1 import AppTest

from app_pages._common import Keys

ROOT = Path(__file__).resolve().parents[1]


def _people(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "email": [f"user{i}@example.com" for i in range(n)],
            "age": rng.integers(18, 90, n),
            "zip": [
                f"{p}{z:02d}"
                for p, z in zip(rng.choice(["100", "941"], n), rng.integers(0, 99, n), strict=True)
            ],
            "sex": rng.choice(["F", "M"], n),
            "hours": rng.integers(10, 60, n),
            "approved": rng.choice(["yes", "no"], n),
        }
    )


def test_data_page_flags_hashes_and_saves_a_new_version(workspace):
    at = AppTest.from_file(ROOT / "app.py", default_timeout=120).switch_page("app_pages/data.py")
    df = _people()
    at.session_state[Keys.DRAFT] = {
        "name": "people",
        "df": df,
        "test": None,
        "source": "people.csv",
        "target": "approved",
        "sensitive": ["sex"],
        "about": "Uploaded file people.csv.",
    }
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    captions = "\n".join(c.value for c in at.caption)
    assert "advisory, not a compliance guarantee" in captions
    before = {m.label: m.value for m in at.metric}
    assert before["Rows in groups below 5 (before)"] == "100.0%"  # exact age × zip × sex
    next(b for b in at.button if b.label == "Apply actions").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    applied = at.success[0].value
    assert "email → hash" in applied and "age → generalise" in applied
    draft = at.session_state[Keys.DRAFT]
    assert not draft["df"]["email"].str.contains("@").any()
    assert draft["original"]["email"].str.contains("@").all()
    after = {m.label: m.value for m in at.metric}
    assert float(after["Rows in groups below 5 (after)"].rstrip("%")) < 100.0
    next(b for b in at.button if b.label == "Use this data").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    info = workspace.get_dataset(at.session_state[Keys.DATASET_ID])
    assert info.parent and workspace.get_dataset(info.parent).name == "people"
    assert {s["column"]: s["action"] for s in info.anonymisation} == {
        "email": "hash",
        "age": "generalise",
        "zip": "generalise",
    }
    stored, _ = workspace.load_dataset(info.id)
    original, _ = workspace.load_dataset(info.parent)
    assert not stored["email"].str.contains("@").any()
    assert original["email"].str.contains("@").all()


def test_evaluate_page_mitigates_and_shows_the_tradeoff(workspace, adult_csv):
    from lepton_core.runs import TrainConfig, train

    run = train(
        TrainConfig(data=str(adult_csv), sensitive=["sex"], explain_rows=20, model_name="pg"),
        workspace=workspace,
    )
    at = AppTest.from_file(ROOT / "app.py", default_timeout=180).switch_page(
        "app_pages/evaluate.py"
    )
    at.session_state[Keys.RUN_ID] = run.run_id
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Mitigate" in [h.value for h in at.subheader]
    assert "Trade-off across runs" in [h.value for h in at.subheader]
    method = next(s for s in at.selectbox if s.label == "Method")
    method.set_value("threshold_dp")
    next(b for b in at.button if b.label == "Mitigate").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    # It runs as a background job; the panel shows it until it is done.
    from lepton_core.jobs import JobStore

    store = JobStore(workspace)
    job_id = at.session_state[Keys.MITIGATION_JOB]
    deadline = time.time() + 180
    while store.get(job_id).active and time.time() < deadline:
        time.sleep(0.5)
    assert store.get(job_id).status == "succeeded", store.read_log(job_id)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Registered **pg:2**" in s.value for s in at.success)
    assert any("Energy used" in m.value for m in at.markdown)  # what the mitigation used
    next(b for b in at.button if b.label == "Show the new version").click()
    at.run()
    mitigated = at.session_state[Keys.RUN_ID]
    assert mitigated != run.run_id and workspace.get_run(mitigated).family == "mitigated"
    # The new version opens with its stored before/after table; the front lists both runs.
    assert not at.exception, [e.value for e in at.exception]
    assert any("Cut-off per group" in m.value for m in at.markdown)
    from lepton_core.evaluation import tradeoff

    trade = tradeoff(workspace, run.dataset_id, attribute="sex")
    assert {p.run_id for p in trade.points} >= {run.run_id, mitigated}
    assert any(p.pareto for p in trade.points)
