"""Federated training as a background job, from the CLI and from the Train page."""

from __future__ import annotations

import time

import pytest

from lepton_core.cli import main
from lepton_core.dp import PrivacyOptions, load_privacy
from lepton_core.jobs import JobStore, start_job
from lepton_core.runs import FederatedConfig, TrainConfig, resolve_dataset

ROWS, CLIENTS, ROUNDS, EPSILON = 400, 2, 2, 3.0


@pytest.fixture(scope="module")
def fed_ws(tmp_path_factory):
    """A workspace of its own, so no other test's job holds a slot of the queue."""
    from lepton_core.workspace import Workspace

    return Workspace(tmp_path_factory.mktemp("fed_job") / "ws")


@pytest.fixture(scope="module")
def tiny(adult_small, tmp_path_factory):
    path = tmp_path_factory.mktemp("fed_data") / "adult.csv"
    adult_small.head(ROWS).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def dataset(tiny, fed_ws):
    info, _, _ = resolve_dataset(TrainConfig(data=str(tiny), target="Y"), fed_ws)
    return info


def _config(dataset, **values):
    values = {"clients": CLIENTS, "rounds": ROUNDS, "split_by": "sex", **values}
    return FederatedConfig(data=f"dataset:{dataset.id}", **values)


def _wait(store: JobStore, job_id: str, timeout: float = 300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = store.get(job_id)
        if not job.active:
            return job
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} did not end in time: {store.get(job_id)}")


@pytest.fixture(scope="module")
def fed_job(dataset, fed_ws):
    """One federated job, DP-SGD in every client, run to its end by a detached worker."""
    config = _config(dataset, privacy=PrivacyOptions(epsilon=EPSILON))
    job = start_job(config, workspace=fed_ws, max_jobs=1)
    assert job.kind == "federated" and job.command[3] == "federated"
    return _wait(JobStore(fed_ws), job.id)


def test_a_federated_job_succeeds_with_one_curve_point_per_round(fed_job, fed_ws):
    assert fed_job.status == "succeeded", JobStore(fed_ws).read_log(fed_job.id)
    rounds = [h for h in fed_job.progress.history if "train_loss" in h]
    assert [int(h["step"]) for h in rounds] == list(range(1, ROUNDS + 1))
    assert all(h["valid_loss"] > 0 for h in rounds)
    # The federated global model is a registered version, scored as the federation scored it.
    report = fed_ws.load_report(fed_job.run_id, "federated")
    assert fed_job.model_name and fed_job.model_version
    assert [c["name"] for c in report["clients"]] == ["Male", "Female"]
    assert "rows" not in report["clients"][0]  # row ids stay out of the stored report
    run = fed_ws.get_run(fed_job.run_id)
    assert run.metrics["test_accuracy"] == pytest.approx(report["federated"]["accuracy"])
    # Its privacy report is stored as a DP run's: the largest ε a client spent, each client's.
    privacy = load_privacy(fed_ws, fed_job.run_id)
    assert privacy is not None and 0 < privacy.epsilon <= EPSILON + 1e-6
    assert [c["name"] for c in privacy.clients] == ["Male", "Female"]
    assert privacy.epsilon == pytest.approx(max(c["epsilon"] for c in report["clients"]))
    assert run.metrics["privacy_epsilon"] == pytest.approx(privacy.epsilon)


def test_job_lists_say_a_job_is_federated_and_which_model():
    from lepton_core.jobs import Job

    def job(kind, model):
        return Job(
            id="j", status="queued", owner="", config={"model": model}, command=[], created=0.0,
            kind=kind,
        )  # fmt: skip

    assert job("federated", "logistic").family == "federated · logistic"
    assert job("federated", "mlp").family == "federated · mlp"
    assert job("train", "mlp").family == "mlp"  # a plain training keeps its family's name


def test_a_bad_split_column_fails_in_one_sentence_and_keeps_earlier_work(
    fed_job, dataset, fed_ws, capsys
):
    store = JobStore(fed_ws)
    bad = _wait(store, start_job(_config(dataset, split_by="nope"), workspace=fed_ws).id)
    assert bad.status == "failed"
    assert str(bad.error) == (
        "There is no column 'nope' to split the rows into clients by; pick one of the data "
        "set's columns, or split at random."
    )
    assert store.get(fed_job.id).status == "succeeded"  # the earlier job and model stay
    assert fed_ws.model_version(fed_job.model_name, str(fed_job.model_version))
    # The CLI says the same in one line, without a traceback.
    code = main(
        ["--workspace", str(fed_ws.root), "federated", "--data", f"dataset:{dataset.id}",
         "--split-by", "nope"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: There is no column 'nope'")
    assert "Traceback" not in err and err.count("\n") == 1


def test_the_cli_prints_centralised_next_to_federated_per_client(
    fed_job, tiny, fed_ws, capsys, monkeypatch
):
    from lepton_core import runs
    from lepton_core.runs import FederatedResult

    # The job's worker ran `federated --job ID` for real; here the options and the summary.
    asked = []
    done = FederatedResult.from_dict(fed_ws.load_report(fed_job.run_id, "federated"))
    done.run_id, done.model_name = fed_job.run_id, fed_job.model_name
    done.model_version = fed_job.model_version
    done.privacy = load_privacy(fed_ws, fed_job.run_id)

    def fake_run(config, **_):
        asked.append(config)
        return done

    monkeypatch.setattr(runs, "run_federated", fake_run)
    code = main(
        ["--workspace", str(fed_ws.root), "federated", "--data", str(tiny), "--target", "Y",
         "--split-by", "sex", "--clients", str(CLIENTS), "--rounds", str(ROUNDS),
         "--model", "logistic", "--strategy", "fedprox", "--no-register"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    config = asked[0]
    assert (config.split_by, config.clients, config.rounds) == ("sex", CLIENTS, ROUNDS)
    assert (config.model, config.strategy, config.register) == ("logistic", "fedprox", False)
    assert "federated logistic (fedavg): 2 clients by sex, 2 rounds" in out  # the job's
    assert f"model {fed_job.model_name}:{fed_job.model_version}" in out
    assert "KB exchanged" in out
    assert "centralised" in out and "accuracy" in out
    lines = out.splitlines()
    assert any(line.strip().startswith("Male") for line in lines)
    assert any(line.strip().startswith("Female") for line in lines)
    each = ", ".join(f"{c['name']} {c['epsilon']:.2f}" for c in done.privacy.clients)
    assert f"DP-SGD in every client: ε {done.privacy.epsilon:.2f} (the largest; {each})" in out


def test_the_train_page_section_starts_a_job_and_shows_its_results(
    fed_job, dataset, fed_ws, monkeypatch
):
    from streamlit.testing.v1 import AppTest

    from app_pages import _common, _federated
    from app_pages._common import Keys
    from tests.test_pages import ROOT

    started = []

    def fake_start(config, **_):  # the real job ran in the fixture: show that one
        started.append(config)
        return fed_job

    monkeypatch.setattr(_federated, "start_job", fake_start)
    monkeypatch.setenv("LEPTON_WORKSPACE", str(fed_ws.root))
    _common._workspace.clear()
    try:
        at = AppTest.from_file(ROOT / "app.py", default_timeout=120).switch_page(
            "app_pages/train.py"
        )
        at.session_state[Keys.DATASET_ID] = dataset.id
        at.session_state[Keys.JOBS] = {}  # no training job of this session
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert any(e.label == "Train without pooling the data (federated)" for e in at.expander)
        at.selectbox(key="federated_split").set_value("sex")
        at.number_input(key="federated_rounds").set_value(ROUNDS)
        at.selectbox(key="federated_model_table").set_value("mlp")
        at.toggle(key="federated_private").set_value(True).run()
        at.number_input(key="federated_epsilon").set_value(2.5)
        next(b for b in at.button if b.label == "Start federated training").click().run()
        assert not at.exception, [e.value for e in at.exception]
        assert started and started[0].split_by == "sex" and started[0].model == "mlp"
        assert started[0].privacy.epsilon == 2.5
        assert started[0].rounds == ROUNDS and started[0].data == f"dataset:{dataset.id}"
        text = "\n".join(str(m.value) for m in at.markdown)
        assert f"Federated job {fed_job.id}" in text
        assert "data exchanged:" in text and "rounds (the best, round" in text
        assert any(s.value.startswith("Federated model") for s in at.success)
        assert any(m.label == "Privacy budget spent (ε)" for m in at.metric)  # the job's DP
        tables = [d.value for d in at.dataframe]
        versus = next(t for t in tables if "model" in t.columns and len(t) == 2)
        assert versus.iloc[0, 0].startswith("centralised")
        clients = next(t for t in tables if "group" in t.columns)
        assert list(clients["group"]) == ["Male", "Female"]
        recent = next(t for t in tables if "job" in t.columns)  # Recent jobs on the data set
        listed = dict(zip(recent["job"], recent["model"], strict=True))
        assert listed[fed_job.id] == "federated · logistic"
    finally:
        _common._workspace.clear()
