"""Every page under AppTest: seeded state, no exception, the key outputs present."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app_pages._common import Keys
from lepton_core.runs import TrainConfig, train

TIMEOUT = 120
ROOT = Path(__file__).resolve().parents[1]


def _page(name: str) -> AppTest:
    """The app opened on one page, as the router runs it (so page links resolve)."""
    at = AppTest.from_file(ROOT / "app.py", default_timeout=TIMEOUT)
    return at.switch_page(f"app_pages/{name}.py")


def _ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def _text(at: AppTest) -> str:
    parts = (
        [m.value for m in at.markdown] + [i.value for i in at.info] + [e.value for e in at.error]
    )
    parts += [s.value for s in at.success] + [t.value for t in at.title]
    return "\n".join(str(p) for p in parts)


@pytest.mark.parametrize("name", ["train", "evaluate", "explain", "deploy"])
def test_pages_before_their_prerequisite_say_which_step_first(name, tmp_path, monkeypatch):
    monkeypatch.setenv("LEPTON_WORKSPACE", str(tmp_path / "empty"))
    at = _page(name)
    # A fresh workspace for this test only: bypass the cached one.
    from app_pages import _common

    _common._workspace.clear()
    _ok(at.run())
    assert at.info and ("Data" in at.info[0].value or "Train" in at.info[0].value)
    _common._workspace.clear()


def test_data_page_sample_profile_and_confirm(workspace):
    at = _ok(_page("data").run())
    assert "Pick a sample" in at.info[0].value
    at.button[0].click()  # Load sample (adult)
    _ok(at.run())
    assert at.metric[0].value == "32,561"
    target = next(s for s in at.selectbox if s.label == "Target column")
    assert target.value == "Y"
    sensitive = next(m for m in at.multiselect if m.label.startswith("Sensitive"))
    assert set(sensitive.value) >= {"sex", "race", "age"}
    next(b for b in at.button if b.label == "Use this data").click()
    _ok(at.run())
    assert "is ready" in at.success[0].value
    assert at.session_state[Keys.DATASET_ID] in {d.id for d in workspace.list_datasets()}


def _upload(at: AppTest, filename: str, content: bytes) -> None:
    """Choose "Upload a file" on the Data page, upload ``content`` and press Load file."""
    at.radio[0].set_value("Upload a file")
    _ok(at.run())
    at.file_uploader[0].upload(filename, content, "text/csv")
    _ok(at.run())
    next(b for b in at.button if b.label == "Load file").click()
    _ok(at.run())


BAD_UPLOADS = [
    ("empty.csv", b"", "empty"),
    ("header.csv", b"a,b,c\n", "no data rows"),
    ("binary.csv", bytes(range(256)) * 20, "binary"),
    ("zipped.csv", gzip.compress(b"a,b\n1,2\n" * 100), "compressed"),
    ("ragged.csv", b"a,b\n1,2\n3,4,5,6\n7,8\n", "line"),
]


@pytest.mark.parametrize(("filename", "content", "message"), BAD_UPLOADS)
def test_bad_uploads_show_one_sentence_and_keep_the_loaded_table(filename, content, message):
    at = _page("data").run()
    at.button[0].click()
    _ok(at.run())  # the Adult sample is loaded first: it must survive the bad upload
    _upload(at, filename, content)
    assert len(at.error) == 1 and message in at.error[0].value.lower()
    assert at.session_state[Keys.DRAFT]["name"] == "adult"


BAD_CHOICES = [
    ({"x": range(50), "y": ["a"] * 50}, "y", [], "one class"),
    ({"x": range(50), "y": [None] * 50}, "y", [], "is empty"),
    ({"x": range(3000), "y": [f"c{i}" for i in range(3000)]}, "y", [], "too many classes"),
    ({"x": range(50), "y": ["a", "b"] * 25, "g": ["same"] * 50}, "y", ["g"], "single group"),
]


@pytest.mark.parametrize(("columns", "target", "sensitive", "message"), BAD_CHOICES)
def test_unusable_choices_are_refused_on_the_page(columns, target, sensitive, message, workspace):
    import pandas as pd

    before = len(workspace.list_datasets())
    at = _page("data")
    at.session_state[Keys.DRAFT] = {
        "name": "bad",
        "df": pd.DataFrame(columns),
        "test": None,
        "source": "bad.csv",
        "target": target,
        "sensitive": sensitive,
        "about": "",
    }
    _ok(at.run())
    if not at.error:  # the target itself is fine: the error comes on confirming
        next(b for b in at.button if b.label == "Use this data").click()
        _ok(at.run())
    assert len(at.error) == 1 and message in at.error[0].value
    assert len(workspace.list_datasets()) == before


GOOD_UPLOADS = [
    ("semicolon.csv", b"name;price;y\na;1,5;x\nb;2,25;z\n", "price", 1.5),
    ("latin.csv", "städt,n,y\nZürich,1,a\nGenève,2,b\n".encode("cp1252"), "städt", "Zürich"),
]


@pytest.mark.parametrize(("filename", "content", "column", "first"), GOOD_UPLOADS)
def test_awkward_but_valid_files_load(filename, content, column, first):
    at = _page("data").run()
    _upload(at, filename, content)
    assert at.session_state[Keys.DRAFT]["df"][column].iloc[0] == first


def test_file_over_the_upload_limit_is_refused():
    from streamlit import config

    limit = config.get_option("server.maxUploadSize")
    config.set_option("server.maxUploadSize", 1)
    try:
        at = _page("data").run()
        _upload(at, "big.csv", b"a,b\n" + b"1,2\n" * 400_000)
        assert "upload limit" in at.error[0].value
    finally:
        config.set_option("server.maxUploadSize", limit)


def test_train_page_job_outlives_the_session(adult_csv, workspace):
    from lepton_core.runs import TrainConfig, resolve_dataset

    info, _, _ = resolve_dataset(
        TrainConfig(data=str(adult_csv), target="Y", sensitive=["sex"]), workspace
    )
    at = _page("train")
    at.session_state[Keys.DATASET_ID] = info.id
    _ok(at.run())
    assert "adult-small" in _text(at)
    next(b for b in at.button if b.label == "Start training").click()
    _ok(at.run())
    job_id = at.session_state[Keys.JOB_ID]
    del at  # the session that started the job is gone
    from lepton_core.jobs import JobStore

    store = JobStore(workspace)
    deadline = time.time() + TIMEOUT
    while store.get(job_id).active and time.time() < deadline:
        time.sleep(0.5)
    fresh = _page("train")
    fresh.session_state[Keys.JOB_ID] = job_id
    _ok(fresh.run())
    assert "trained in" in fresh.success[0].value
    assert {m.label for m in fresh.metric} >= {"Accuracy", "ROC AUC", "Parity gap (DPD)"}


def test_evaluate_page_shows_accuracy_and_fairness_side_by_side(adult_run):
    at = _page("evaluate")
    at.session_state[Keys.RUN_ID] = adult_run.run_id
    _ok(at.run())
    labels = [m.label for m in at.metric]
    assert labels[:4] == ["Accuracy", "ROC AUC", "Parity gap (DPD)", "Odds gap (EOD)"]
    assert labels[4] == "Worst group by accuracy"
    dpd = next(m for m in at.metric if m.label == "Parity gap (DPD)")
    assert float(dpd.value) == pytest.approx(
        adult_run.fairness[0].demographic_parity_difference, abs=5e-4
    )
    next(s for s in at.selectbox if s.label == "Fairness by").set_value("age")
    _ok(at.run())
    assert at.dataframe[0].value.index.name == "age"


def test_explain_page_renders_every_view(adult_run):
    at = _page("explain")
    at.session_state[Keys.RUN_ID] = adult_run.run_id
    _ok(at.run())
    assert "Additivity check" in at.caption[0].value
    at.number_input[0].set_value(7)
    _ok(at.run())
    assert at.metric[0].label.startswith("Model output")


def test_deploy_publish_and_demo_page(adult_run, workspace):
    workspace.set_published(adult_run.model_name, adult_run.model_version, False)
    at = _page("deploy")
    at.session_state[Keys.RUN_ID] = adult_run.run_id
    _ok(at.run())
    demo = _page("demo")
    demo.query_params = {"model": adult_run.model_name, "version": str(adult_run.model_version)}
    _ok(demo.run())
    assert demo.title[0].value == "This link is not valid"
    next(b for b in at.button if b.label == "Publish").click()
    _ok(at.run())
    link = next(c.value for c in at.code if "/demo?token=" in c.value)
    demo = _page("demo")
    demo.query_params = {"model": adult_run.model_name, "version": str(adult_run.model_version)}
    _ok(demo.run())
    assert demo.title[0].value == "This link is not valid"  # unsigned links never work
    demo = _page("demo")
    demo.query_params = {"token": link.split("token=", 1)[1]}
    _ok(demo.run())
    assert [m.label for m in demo.metric][:3] == ["Accuracy", "ROC AUC", "Parity gap (DPD)"]
    demo.button[0].click()  # the form's Predict button
    _ok(demo.run())
    prediction = next(m for m in demo.metric if m.label == "Prediction")
    assert prediction.value in {"<=50K", ">50K"}


def test_deploy_compresses_into_a_new_version_and_explains_a_refusal(
    adult_csv, adult_run, workspace
):
    at = _page("deploy")
    at.session_state[Keys.RUN_ID] = adult_run.run_id
    _ok(at.run())
    next(b for b in at.button if b.label == "Compress into a new version").click()
    _ok(at.run())
    assert "applies to the neural network (MLP) and text models" in at.error[0].value
    mlp = train(
        TrainConfig(
            data=str(adult_csv),
            target="Y",
            sensitive=["sex"],
            model="mlp",
            params={"max_epochs": 3},
            model_name="deploy-mlp",
            explain_rows=10,
        ),
        workspace=workspace,
    )
    at = _page("deploy")
    at.session_state[Keys.RUN_ID] = mlp.run_id
    _ok(at.run())
    next(b for b in at.button if b.label == "Compress into a new version").click()
    _ok(at.run())
    new_ref = f"deploy-mlp:{mlp.model_version + 1}"
    assert new_ref in at.success[0].value
    table = next(d.value for d in at.dataframe if "original" in d.value.columns)
    assert list(table.columns) == ["original", "PyTorch int8"]
    assert table.loc["accuracy", "original"] == pytest.approx(mlp.evaluation.metrics["accuracy"])
    _ok(at.run())
    assert any(o.startswith(new_ref) for o in at.selectbox[0].options)
