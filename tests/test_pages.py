"""Every page under AppTest: seeded state, no exception, the key outputs present."""

from __future__ import annotations

import gzip
import json
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
    fresh.query_params = {"job": job_id}  # a reload: the address names the job
    _ok(fresh.run())
    assert fresh.session_state[Keys.DATASET_ID] == info.id  # and brings back its data set
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
    # The group table at full width; its charts, the confusion matrix and a curve two to a row.
    assert not any(column.dataframe for column in at.columns)
    layouts = [json.loads(c.proto.spec)["layout"] for c in at.get("plotly_chart")]
    titles = [layout.get("title", {}).get("text") for layout in layouts]
    assert titles[:2] == ["Selection rate by age", "Error rates by age"], titles
    assert titles[2:4] == ["Confusion matrix", "Calibration"], titles


def test_explain_page_renders_every_view(adult_run):
    at = _page("explain")
    at.session_state[Keys.RUN_ID] = adult_run.run_id
    _ok(at.run())
    assert "Additivity check" in at.caption[0].value
    at.number_input[0].set_value(7)
    _ok(at.run())
    assert at.metric[0].label == "Predicted"


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
    # A visitor sees how often the model is right, not the owner's fairness figures.
    assert [m.label for m in demo.metric][:2] == ["Accuracy", "ROC AUC"]
    assert not any("gap" in m.label.lower() for m in demo.metric)
    demo.button[0].click()  # the form's Predict button
    _ok(demo.run())
    prediction = next(m for m in demo.metric if m.label == "Prediction")
    assert prediction.value in {"<=50K", ">50K"}


def test_deploy_compresses_into_a_new_version_and_offers_it_only_where_it_works(
    adult_csv, adult_run, workspace
):
    at = _page("deploy")
    at.session_state[Keys.RUN_ID] = adult_run.run_id
    _ok(at.run())
    # A LightGBM model has no int8 compression: no button to press and be refused.
    assert not any(b.label == "Compress into a new version" for b in at.button)
    assert any("has no int8 compression" in c.value for c in at.caption)
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


# ------------------------------------------------------------- Data page: clean-ups and types


def _loans_draft() -> dict:
    """A draft of the loans table of issue 15: incomes typed as text, spelling variants."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    incomes = ["$78,693", "34k", "n/a", "1.2M", "52000", "$41,250.50", "61K", None, "73,100", "-"]
    jobs = ["Full-time", "full time ", "Full time", "Part-time", "part time", "Full-time"]
    df = pd.DataFrame(
        {
            "income": incomes * 30,
            "employment": (jobs * 50)[:300],
            "approved": rng.choice(["yes", "no"], 300),
        }
    )
    return {
        "name": "loans",
        "df": df,
        "test": df.iloc[:20].copy(),
        "source": "loans.csv",
        "target": "approved",
        "sensitive": [],
        "about": "The loans table.",
    }


def test_data_page_proposes_clean_ups_applies_and_undoes_them(workspace):
    at = _page("data")
    at.session_state[Keys.DRAFT] = _loans_draft()
    _ok(at.run())
    income = next(c for c in at.checkbox if c.label.startswith("income:"))
    employment = next(c for c in at.checkbox if c.label.startswith("employment:"))
    assert income.value and employment.value  # proposed, ticked, nothing applied yet
    assert "210 of 270 values read as numbers" in income.label
    assert at.session_state[Keys.DRAFT]["df"]["income"].dtype != "float64"
    employment.uncheck()
    next(b for b in at.button if b.label == "Apply the ticked clean-ups").click()
    _ok(at.run())
    draft = at.session_state[Keys.DRAFT]
    assert draft["df"]["income"].dtype == "float64"
    assert draft["df"]["income"].iloc[3] == 1.2e6
    assert draft["test"]["income"].dtype == "float64"  # the test table is cleaned alike
    assert draft["df"]["employment"].nunique() == 5  # not ticked, not changed
    assert any("income: 210 of 270" in m.value for m in at.markdown)  # listed as applied
    types = next(d.value for d in at.dataframe if "type" in d.value.columns)
    assert types.set_index("column").loc["income", "type"] == "number"
    # Set a type by hand, then undo the income clean-up: the rest is applied again.
    next(s for s in at.selectbox if s.label == "Column").set_value("employment")
    next(s for s in at.selectbox if s.label == "Use as").set_value("text")
    next(b for b in at.button if b.label == "Set type").click()
    _ok(at.run())
    assert [(s.column, s.action) for s in draft["cleanups"]] == [
        ("income", "numbers"),
        ("employment", "type"),
    ]
    types = next(d.value for d in at.dataframe if "type" in d.value.columns)
    assert types.set_index("column").loc["employment", "type"] == "text"
    next(b for b in at.button if b.label == "Undo").click()  # the first: income
    _ok(at.run())
    draft = at.session_state[Keys.DRAFT]
    assert [s.column for s in draft["cleanups"]] == ["employment"]
    assert draft["df"]["income"].tolist()[:2] == ["$78,693", "34k"]
    assert any(c.label.startswith("income:") for c in at.checkbox)  # proposed again


def test_data_page_confirms_the_cleaned_table(workspace):
    at = _page("data")
    at.session_state[Keys.DRAFT] = _loans_draft()
    _ok(at.run())
    warnings = [w.value for w in at.warning]
    assert any("are exact copies of other rows" in w for w in warnings)
    assert any("but have a different 'approved'" in w for w in warnings)  # label noise hint
    next(b for b in at.button if b.label == "Apply the ticked clean-ups").click()
    _ok(at.run())
    assert not [c for c in at.checkbox if c.label.startswith(("income:", "employment:"))]
    next(b for b in at.button if b.label == "Use this data").click()
    _ok(at.run())
    assert "is ready" in at.success[0].value
    stored, test = workspace.load_dataset(at.session_state[Keys.DATASET_ID])
    assert stored["income"].dtype == "float64"
    assert sorted(stored["employment"].unique()) == ["Full-time", "Part-time"]
    assert test["income"].dtype == "float64"


# -- Train page: state that belongs to the data set, progress, plain words (issue 15) -------


@pytest.fixture
def train_ws(tmp_path, monkeypatch):
    """A workspace of its own (no other test's jobs or data sets), as the app's workspace."""
    from app_pages import _common
    from lepton_core.workspace import Workspace

    monkeypatch.setenv("LEPTON_WORKSPACE", str(tmp_path / "ws"))
    _common._workspace.clear()
    yield Workspace(tmp_path / "ws")
    _common._workspace.clear()


def _loans(train_ws, tmp_path):
    """A second, small data set of the user's own."""
    import numpy as np
    import pandas as pd

    from lepton_core.runs import resolve_dataset

    rng = np.random.default_rng(0)
    path = tmp_path / "loans.csv"
    pd.DataFrame(
        {
            "income": rng.integers(10_000, 90_000, 300),
            "age": rng.integers(18, 80, 300),
            "approved": rng.choice(["yes", "no"], 300),
        }
    ).to_csv(path, index=False)
    info, _, _ = resolve_dataset(TrainConfig(data=str(path), target="approved"), train_ws)
    return info


def _job(store, dataset_id: str, *, auto: bool = False, sleep: float = 0) -> str:
    """A job of ``dataset_id`` whose worker only sleeps (no training)."""
    import sys

    from lepton_core.runs import AutoConfig

    base = TrainConfig(data=f"dataset:{dataset_id}")
    config = AutoConfig(base=base, budget_s=10.0) if auto else base
    command = [sys.executable, "-c", f"import time; time.sleep({sleep})"]
    return store.create(config, command, kind="auto" if auto else "train").id


_BOARD_ROW = {
    "rank": 1,
    "trial": 0,
    "model": "lightgbm",
    "params": {"n_estimators": 50},
    "score": 0.91,
    "gap": None,
    "fairness": {},
    "meets_limit": None,
    "rounds": 50,
    "seconds": 1.2,
}


def _subheaders(at: AppTest) -> str:
    return "\n".join(s.value for s in at.subheader)


def test_train_page_shows_only_the_chosen_data_sets_job_and_leaderboard(
    adult_csv, train_ws, tmp_path
):
    from lepton_core.jobs import AutoProgress, JobStore
    from lepton_core.runs import resolve_dataset

    adult, _, _ = resolve_dataset(TrainConfig(data=str(adult_csv), target="Y"), train_ws)
    loans = _loans(train_ws, tmp_path)
    store = JobStore(train_ws)
    adult_job = _job(store, adult.id, auto=True)
    board = AutoProgress(phase="searching", leaderboard=[_BOARD_ROW], metric="roc_auc", trials=3)
    store.update(adult_job, status="cancelled", progress=board)

    at = _page("train")
    at.session_state[Keys.DATASET_ID] = adult.id
    at.query_params = {"job": adult_job}  # as after starting it, or a reload
    _ok(at.run())
    assert adult_job in _subheaders(at)
    assert "Leaderboard" in _text(at)

    at.session_state[Keys.DATASET_ID] = loans.id  # the Data page confirms another data set
    _ok(at.run())
    assert adult_job not in _subheaders(at) + _text(at)
    assert "Leaderboard" not in _text(at)
    assert not at.dataframe or all("validation" not in str(d.value.columns) for d in at.dataframe)

    loans_job = _job(store, loans.id)
    store.update(loans_job, status="failed", error="A loans job.")
    _ok(at.run())
    assert loans_job in _subheaders(at) and adult_job not in _subheaders(at)

    at.session_state[Keys.DATASET_ID] = adult.id  # and back: its own job and leaderboard
    _ok(at.run())
    assert adult_job in _subheaders(at) and loans_job not in _subheaders(at)
    assert "Leaderboard" in _text(at)

    # A fresh session on loans given the Adult job's address still shows loans' own job.
    other = _page("train")
    other.session_state[Keys.DATASET_ID] = loans.id
    other.query_params = {"job": adult_job}
    _ok(other.run())
    assert loans_job in _subheaders(other) and adult_job not in _subheaders(other)


def test_run_pages_open_on_the_chosen_data_sets_run(adult_csv, train_ws, tmp_path, monkeypatch):
    from app_pages import _common

    adult = train(
        TrainConfig(data=str(adult_csv), target="Y", model="tree", explain_rows=10),
        workspace=train_ws,
    )
    loans = _loans(train_ws, tmp_path)
    loans_run = train(
        TrainConfig(data=f"dataset:{loans.id}", model="tree", explain_rows=10),
        workspace=train_ws,
    )
    train(  # the newest run of all is Adult's again
        TrainConfig(data=str(adult_csv), target="Y", model="logistic", explain_rows=10),
        workspace=train_ws,
    )
    at = _page("evaluate")
    at.session_state[Keys.DATASET_ID] = adult.dataset_id
    at.session_state[Keys.RUN_ID] = adult.run_id  # as the Train page leaves it
    _ok(at.run())
    assert at.selectbox[0].value == adult.run_id
    # Another data set with no run picked: its newest run, not the newest of all.
    at.session_state[Keys.DATASET_ID] = loans.id
    del at.session_state[Keys.RUN_ID]
    _ok(at.run())
    assert at.selectbox[0].value == loans_run.run_id

    # Confirming another data set forgets the runs picked for the one before.
    state = {Keys.DATASET_ID: adult.dataset_id, Keys.RUN_ID: adult.run_id, "other": 1}
    monkeypatch.setattr(_common.st, "session_state", state)
    _common.choose_dataset(loans.id)
    assert state == {Keys.DATASET_ID: loans.id, "other": 1}
    _common.choose_dataset(loans.id)  # the same one again keeps what was picked
    state[Keys.RUN_ID] = loans_run.run_id
    _common.choose_dataset(loans.id)
    assert state[Keys.RUN_ID] == loans_run.run_id


@pytest.mark.parametrize(
    "started_in",
    [None, 5.0, -600.0],  # first trial not reported yet; a clock set back; past the budget
)
def test_train_page_draws_an_auto_search_at_any_clock(adult_csv, train_ws, started_in):
    from lepton_core.jobs import AutoProgress, JobStore, cancel_job
    from lepton_core.runs import resolve_dataset

    adult, _, _ = resolve_dataset(TrainConfig(data=str(adult_csv), target="Y"), train_ws)
    store = JobStore(train_ws)
    job_id = _job(store, adult.id, auto=True, sleep=60)
    store.promote()  # running: its worker sleeps
    started = None if started_in is None else time.time() + started_in
    progress = AutoProgress(phase="searching", budget_s=10.0, search_started=started)
    store.update(job_id, progress=progress)
    try:
        at = _page("train")
        at.session_state[Keys.DATASET_ID] = adult.id
        at.session_state[Keys.JOBS] = {adult.id: job_id}
        _ok(at.run())
        assert _subheaders(at).endswith("running")
        (bar,) = at.get("progress")
        assert 0 <= bar.proto.value <= 100
        assert "trying models" in bar.proto.text
        cancel = next(b for b in at.button if b.label == "Cancel")
        assert not cancel.disabled
    finally:
        cancel_job(job_id, workspace=train_ws)


# Words a spreadsheet user should not have to know to use the Train page's inputs.
_JARGON = (
    "boosting",
    "regularisation",
    "(c)",
    "epoch",
    "(seconds)",
    "frozen",
    "linear head",
    "pareto",
    "bfloat16",
    "opacus",
    "clipping",
)


def _widgets(at: AppTest):
    return [*at.number_input, *at.radio, *at.selectbox, *at.toggle]


def _plain(at: AppTest) -> None:
    for widget in _widgets(at):
        # The families' names (LightGBM, …) are names, not settings; the picker explains them.
        options = [] if widget.label == "Model family" else getattr(widget, "options", [])
        words = " ".join([widget.label, *map(str, options or [])])
        assert not any(j in words.lower() for j in _JARGON), words
    for widget in at.number_input:
        assert widget.help, f"{widget.label!r} has no one-line help"


def test_train_page_settings_are_in_plain_words_with_help(adult_csv, train_ws, tmp_path):
    import pandas as pd

    from lepton_core.models import family_names
    from lepton_core.runs import resolve_dataset

    adult, _, _ = resolve_dataset(TrainConfig(data=str(adult_csv), target="Y"), train_ws)
    words = ["good", "bad", "fine", "dull", "great", "poor"]
    texts = pd.DataFrame(
        {
            "review": [
                f"a {words[i % 6]} film number {i} with {words[(i * 7) % 6]} acting"
                for i in range(60)
            ],
            "sentiment": ["positive" if i % 6 in (0, 2, 4) else "negative" for i in range(60)],
        }
    )
    path = tmp_path / "reviews.csv"
    texts.to_csv(path, index=False)
    reviews, _, _ = resolve_dataset(
        TrainConfig(data=str(path), target="sentiment", text_column="review"), train_ws
    )
    for dataset, reads in ((adult, "table"), (reviews, "text")):
        at = _page("train")
        at.session_state[Keys.DATASET_ID] = dataset.id
        _ok(at.run())
        auto = ["auto"] if family_names(reads=reads, searchable=True) else []
        for family in [*family_names(reads=reads), *auto]:
            next(s for s in at.selectbox if s.label == "Model family").set_value(family)
            _ok(at.run())
            _plain(at)
            if family != "auto":
                expert = [e for e in at.expander if e.label == "Expert details"]
                assert expert, f"{family} has no expert details"
            if family == "mlp":
                next(
                    t for t in at.toggle if t.label == "Train with differential privacy"
                ).set_value(True)
                _ok(at.run())
                _plain(at)
                labels = [n.label for n in at.number_input]
                assert "Privacy budget ε (lower is more private)" in labels
            if family == "text":  # modes named by what they do, not by a time promise
                modes = next(r for r in at.radio if r.label == "Training")
                assert modes.help
                assert not any("second" in o or "minute" in o for o in modes.options)


@pytest.mark.parametrize(
    ("family", "offered"),
    [("logistic", {}), ("lightgbm", {}), ("tree", {}), ("mlp", {"torch-int8", "onnx-int8"})],
)
def test_compress_is_offered_only_for_families_that_support_it(family, offered):
    from app_pages._common import compression_methods

    assert set(compression_methods(family)) == set(offered)


def test_data_page_keeps_personal_data_actions_when_a_clean_up_changes(workspace):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(1)
    n = 200
    at = _page("data")
    at.session_state[Keys.DRAFT] = {
        "name": "people-pay",
        "df": pd.DataFrame(
            {
                "email": [f"user{i}@example.com" for i in range(n)],
                "pay": [f"${v:,}" for v in rng.integers(20, 90, n) * 1000],
                "approved": rng.choice(["yes", "no"], n),
            }
        ),
        "test": None,
        "source": "people.csv",
        "target": "approved",
        "sensitive": [],
        "about": "Uploaded file people.csv.",
    }
    _ok(at.run())
    next(b for b in at.button if b.label == "Apply actions").click()  # hash the e-mails
    _ok(at.run())
    next(b for b in at.button if b.label == "Apply the ticked clean-ups").click()
    _ok(at.run())
    draft = at.session_state[Keys.DRAFT]
    assert draft["df"]["pay"].dtype == "float64"
    assert not draft["df"]["email"].str.contains("@").any()  # still hashed
    assert draft["original"]["pay"].dtype == "float64"  # the version before hashing, cleaned
    assert draft["original"]["email"].str.contains("@").all()
    next(b for b in at.button if b.label == "Undo").click()
    _ok(at.run())
    draft = at.session_state[Keys.DRAFT]
    assert draft["df"]["pay"].iloc[0].startswith("$")
    assert not draft["df"]["email"].str.contains("@").any()


def test_cached_run_and_version_lists_show_a_new_run_at_once(adult_run, adult_csv, workspace):
    """The pickers read cached lists (pages rerun on every click), yet a run or version
    recorded after they were cached appears on the next rerun."""
    from app_pages import _common

    evaluate = _page("evaluate")
    evaluate.session_state[Keys.RUN_ID] = adult_run.run_id
    _ok(evaluate.run())
    deploy = _page("deploy")
    _ok(deploy.run())
    runs = next(s for s in evaluate.selectbox if s.label == "Run").options
    versions = next(s for s in deploy.selectbox if s.label == "Model version").options
    stamp = _common.store_stamp()
    new = train(TrainConfig(data=str(adult_csv), target="Y", model="tree"), workspace=workspace)
    assert _common.store_stamp() != stamp
    _ok(evaluate.run())
    _ok(deploy.run())
    after = next(s for s in evaluate.selectbox if s.label == "Run").options
    assert len(after) == len(runs) + 1
    assert any(f"{new.model_name}:{new.model_version}" in label for label in after)
    after = next(s for s in deploy.selectbox if s.label == "Model version").options
    assert len(after) == len(versions) + 1


def test_every_page_cache_with_arguments_is_bounded():
    """A cache keyed on arguments grows with every key: each one has max_entries."""
    import ast

    for path in [*sorted((ROOT / "app_pages").glob("*.py")), ROOT / "app.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef) or not node.args.args:
                continue
            for deco in node.decorator_list:
                name = ast.unparse(deco.func if isinstance(deco, ast.Call) else deco)
                if name in ("st.cache_data", "st.cache_resource"):
                    keywords = {k.arg for k in getattr(deco, "keywords", [])}
                    assert "max_entries" in keywords, f"{path.name}: {node.name} is unbounded"
