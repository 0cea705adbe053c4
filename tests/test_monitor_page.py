"""The Monitor page under AppTest: a new file compared with a model's training data."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]


def _monitor(adult_run, records) -> AppTest:
    at = AppTest.from_file(ROOT / "app.py", default_timeout=120).switch_page("app_pages/monitor.py")
    at.run()
    at.selectbox[0].set_value(f"{adult_run.model_name}:{adult_run.model_version}").run()
    at.file_uploader[0].upload("new.csv", records.to_csv(index=False).encode(), "text/csv")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_records_like_the_training_data_get_a_calm_verdict(adult_run, adult_test):
    at = _monitor(adult_run, adult_test.sample(2000, random_state=0))
    assert "No column changed markedly since training" in at.success[0].value
    assert not at.warning
    assert len(at.get("plotly_chart")) == 2


def test_older_people_and_a_new_category_are_flagged(adult_run, adult_test):
    records = adult_test.sample(2000, random_state=0)
    records = records.assign(age=records["age"] + 20, workclass="Gig economy")
    at = _monitor(adult_run, records)
    warning = at.warning[0].value
    assert "changed markedly since training" in warning and "age" in warning
    assert "workclass" in warning
    assert at.metric[1].value == "2"


def test_a_file_without_the_models_columns_is_one_sentence(adult_run, adult_test):
    at = _monitor(adult_run, adult_test[["age", "sex"]].head(200))
    assert len(at.error) == 1 and "send the same columns" in at.error[0].value
