"""Monitoring an entity model: the prediction log keeps each answer as the kinds of name
found (the API still answers with spans), the run keeps the same for its test sentences,
and the live report compares the two (what the model finds, over time), its input text
by length, and gives no accuracy; old runs and old logs still get a report."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from fastapi.testclient import TestClient
from streamlit.testing.v1 import AppTest

from lepton_core.monitoring import PREDICTION, TIME, analyse_log, live_from_log, live_report
from lepton_core.runs import NER_TASK, NO_NAMES, TrainConfig, found_kinds, publish, train
from lepton_core.serving import create_app
from lepton_core.workspace import (
    prediction_log,
)

ROOT = Path(__file__).resolve().parents[1]
PEOPLE = ["Alice", "Bob", "Carol", "Dan", "Eve"]
PLACES = ["Paris", "Rome", "Oslo", "Lima"]


def sentence(i: int) -> list[tuple[str, str]]:
    """The ``i``-th sentence, word and tag: a person and a place, a person alone, or no
    name, in turn (so a third of each)."""
    if i % 3 == 0:
        return [(PEOPLE[i % 5], "B-PER"), ("visited", "O"), (PLACES[i % 4], "B-LOC"), (".", "O")]
    if i % 3 == 1:
        return [(PEOPLE[i % 5], "B-PER"), ("slept", "O"), (".", "O")]
    return [("It", "O"), ("rained", "O"), ("again", "O"), (".", "O")]


def conll(indices: range) -> str:
    return "\n\n".join("\n".join(f"{w}\t{t}" for w, t in sentence(i)) for i in indices) + "\n"


def texts(indices: range) -> list[str]:
    return [" ".join(w for w, _ in sentence(i)) for i in indices]


@pytest.fixture(scope="module")
def ner_run(tmp_path_factory, workspace):
    """A CRF entity run on 60 sentences, tested on 30 others (ten of each mix), published."""
    folder = tmp_path_factory.mktemp("kinds")
    (folder / "kinds_watch.conll").write_text(conll(range(60)), encoding="utf-8")
    (folder / "kinds_test.conll").write_text(conll(range(1000, 1030)), encoding="utf-8")
    run = train(
        TrainConfig(
            data=str(folder / "kinds_watch.conll"),
            test=str(folder / "kinds_test.conll"),
            model="ner_crf",
        ),
        workspace=workspace,
    )
    publish(workspace, run.model_name, run.model_version)
    return run


def _predict(workspace, run, sentences: list[str]) -> list[dict]:
    client = TestClient(create_app(workspace, require_key=False))
    route = f"/models/{run.model_name}/versions/{run.model_version}/predict"
    response = client.post(route, json={"records": [{"text": t} for t in sentences]})
    assert response.status_code == 200, response.text
    return response.json()["predictions"]


def _logged(workspace, run, answers: list[dict]) -> pd.DataFrame:
    """The log table of ``answers`` (API predictions)."""
    ids = [a["prediction_id"] for a in answers]
    assert prediction_log(workspace).flush()
    table = prediction_log(workspace).read_predictions(run.model_name, run.model_version)
    return table[table["id"].isin(ids)].reset_index(drop=True)


def test_an_answer_is_kept_as_the_kinds_found_sorted_once_each():
    assert found_kinds(["person", "location", "person"]) == "location, person"
    assert found_kinds([]) == NO_NAMES


def test_the_run_keeps_what_it_found_in_its_test_sentences(ner_run, workspace):
    answers = workspace.load_report(ner_run.run_id, "ner_answers")
    assert ner_run.n_test == 30 and len(answers["y_pred"]) == 30
    assert Counter(answers["y_pred"]) == {"LOC, PER": 10, "PER": 10, NO_NAMES: 10}
    assert answers["y_true"] == answers["y_pred"]  # the sentences are easy
    assert ner_run.evaluation.metrics["f1"] > 0.9
    # Kept apart from a classifier's test predictions, whose readers score them as labels.
    assert workspace.find_report(ner_run.run_id, "test_predictions") is None


def test_the_api_answers_with_spans_and_logs_the_kinds_found(ner_run, workspace):
    sentences = ["Bob visited Rome .", "Eve slept .", "It rained again ."]
    answers = _predict(workspace, ner_run, sentences)
    assert [a["label"] for a in answers] == [None, None, None]
    assert [(e["text"], e["type"]) for e in answers[0]["entities"]] == [
        ("Bob", "PER"),
        ("Rome", "LOC"),
    ]
    assert answers[2]["entities"] == []
    table = _logged(workspace, ner_run, answers)
    assert table.set_index("id").loc[
        [a["prediction_id"] for a in answers], PREDICTION
    ].tolist() == [
        "LOC, PER",
        "PER",
        NO_NAMES,
    ]
    assert table["confidence"].isna().all()


def test_the_live_report_follows_what_the_model_finds(ner_run, workspace):
    ref = f"{ner_run.model_name}:{ner_run.model_version}"
    like_test = _logged(workspace, ner_run, _predict(workspace, ner_run, texts(range(2000, 2060))))
    calm = live_report(workspace, ref, like_test)
    assert calm.finds_names and calm.rows == 60
    assert calm.answers is not None and calm.answers.psi < 0.1 and calm.answers.level == "none"
    assert calm.drift is not None and calm.drift.features[0].kind == "text"
    # No accuracy for names in text, whatever comes back; nothing breaks a limit.
    assert calm.performance is None and calm.labelled == 0 and not calm.alerts
    # Sentences with a person alone: a third of the test answers, all of these.
    people = [f"{PEOPLE[i % 5]} slept ." for i in range(60)]
    moved = _logged(workspace, ner_run, _predict(workspace, ner_run, people))
    assert set(moved[PREDICTION]) == {"PER"}
    report = live_report(workspace, ref, moved)
    assert report.answers.level == "major" and report.answers.psi > 1.0
    assert report.answers.psi > 10 * calm.answers.psi + 0.5
    shares = dict(zip(report.answers.bins, report.answers.current_share, strict=True))
    assert shares["PER"] == pytest.approx(1.0) and shares[NO_NAMES] == 0


def test_an_old_entity_run_and_old_null_answers_still_get_a_report(ner_run, workspace, monkeypatch):
    ref = f"{ner_run.model_name}:{ner_run.model_version}"
    log = pd.DataFrame(
        {
            TIME: pd.Timestamp("2026-11-02", tz="UTC") + pd.to_timedelta(range(40), unit="min"),
            "text": texts(range(40)),
            # Answers logged before the kinds found were kept are null: left out.
            PREDICTION: [None] * 20 + [found_kinds([]) if i % 3 == 2 else "PER" for i in range(20)],
            "confidence": None,
            "label": ["PER"] * 40,  # feedback sent anyway is not scored
            "status": "ok",
        }
    )
    report = live_report(workspace, ref, log)
    assert report.rows == 40 and report.answers is not None and report.performance is None
    assert sum(report.answers.current_share) == pytest.approx(1.0)
    # A run recorded before its test answers were kept: no answer drift, the rest as usual.
    stored = workspace.find_report

    def without_answers(run_id: str, name: str):
        return None if name == "ner_answers" else stored(run_id, name)

    monkeypatch.setattr(workspace, "find_report", without_answers)
    old = live_report(workspace, ref, log)
    assert old.answers is None and old.drift is not None and old.finds_names
    # The pure part on its own: an entity task needs no reference figures at all.
    bare = analyse_log(log, model=ref, task=NER_TASK, reference=log[["text"]], texts=["text"])
    assert bare.answers is None and bare.performance is None and bare.drift is not None


def test_the_monitor_page_shows_what_an_entity_model_finds_and_no_accuracy(ner_run, workspace):
    _predict(workspace, ner_run, texts(range(3000, 3030)))
    assert prediction_log(workspace).flush()
    st.cache_data.clear()  # the page keeps a live report for 30 s
    at = AppTest.from_file(ROOT / "app.py", default_timeout=120).switch_page("app_pages/monitor.py")
    at.run()
    at.selectbox[0].set_value(f"{ner_run.model_name}:{ner_run.model_version}").run()
    assert not at.exception, [e.value for e in at.exception]
    live = at.tabs[0]
    assert any("no accuracy over time" in i.value for i in live.info)
    assert [m.label for m in live.metric] == ["Requests", "Failed", "Typical time, latest"]
    caption = next(c.value for c in live.caption if "kinds of name it finds" in c.value)
    assert f"({NO_NAMES} when it found no name)" in caption
    assert "The dashed line estimates accuracy" not in " ".join(c.value for c in live.caption)
    assert len(at.get("plotly_chart")) == 4  # traffic, the kinds found, text drift (two)


def test_live_from_log_reads_the_kinds_found(ner_run, workspace):
    # The log reader keeps answers without a confidence as text unless they are numbers.
    _predict(workspace, ner_run, texts(range(4000, 4030)))
    assert prediction_log(workspace).flush()
    report = live_from_log(workspace, f"{ner_run.model_name}:{ner_run.model_version}")
    # Every answer logged for the model so far (earlier tests' too), read as kinds found.
    assert report.answers is not None and report.rows >= 30
    assert {"PER", "LOC, PER", NO_NAMES} <= set(report.answers.bins)
    assert sum(report.answers.current_share) == pytest.approx(1.0)
