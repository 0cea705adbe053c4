"""The demo page a visitor opens from a share link: plain words, the fields that matter,
chances rather than log-odds, and no fairness figures."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lepton_core.workspace import ShareLinks

ROOT = Path(__file__).resolve().parents[1]


def _ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def _everything(at: AppTest) -> str:
    """Every piece of text the page shows, labels and help included."""
    parts = [t.value for t in at.title] + [m.value for m in at.markdown]
    parts += [c.value for c in at.caption] + [e.label for e in at.expander]
    for metric in at.metric:
        parts += [metric.label, str(metric.value), metric.help or ""]
    for widget in [*at.number_input, *at.selectbox, *at.text_area]:
        parts += [widget.label, widget.help or ""]
    return "\n".join(parts)


@pytest.fixture
def demo(adult_run, workspace) -> AppTest:
    workspace.set_published(adult_run.model_name, adult_run.model_version, True)
    token = (
        ShareLinks(workspace)
        .create(adult_run.model_name, adult_run.model_version, expires_in=3600)
        .token
    )
    at = AppTest.from_file(ROOT / "app.py", default_timeout=120).switch_page("app_pages/demo.py")
    at.query_params = {"token": token}
    return _ok(at.run())


def test_the_title_says_what_the_model_predicts(demo, adult_run):
    (title,) = demo.title
    # Adult's target is called "Y", which says nothing: the classes say what it predicts.
    assert title.value == "Predicts whether the answer is >50K or <=50K"
    assert adult_run.model_name not in title.value and "version" not in title.value


def test_a_visitor_sees_no_fairness_figures(demo):
    text = _everything(demo).lower()
    for word in ("parity", "dpd", "eod", "odds gap", "fairness by group", "equalized"):
        assert word not in text, word
    assert [m.label for m in demo.metric] == ["Accuracy", "ROC AUC"]
    accuracy = demo.metric[0]
    assert re.fullmatch(r"\d{1,3}%", accuracy.value) and "test cases" in accuracy.help


def test_the_form_shows_the_fields_that_matter_with_friendly_labels_and_quartile_hints(
    demo, adult_run, workspace
):
    from lepton_core.runs import cached_model_card

    card = cached_model_card(workspace, adult_run.model_name, adult_run.model_version)
    top = [name for name, _ in card.top_features]
    (other,) = [e for e in demo.expander if e.label.startswith("Other details")]
    hidden = {w.label for w in [*other.number_input, *other.selectbox]}
    shown = [w for w in [*demo.number_input, *demo.selectbox] if w.label not in hidden]
    assert 3 <= len(shown) <= 6 and len(shown) + len(hidden) == 14
    # The first field shown is the most important one, under a friendly label.
    assert {w.label for w in shown} >= {top[0][:1].upper() + top[0][1:].replace("-", " ")}
    labels = [w.label for w in [*demo.number_input, *demo.selectbox]]
    assert "Education num" in labels and not any("-" in n or "_" in n for n in labels)
    for box in demo.number_input:
        assert box.help.startswith(("Usually", "Always")), box.help
        assert "Seen in training" not in box.help and ".00" not in box.help
    age = next(b for b in demo.number_input if b.label == "Age")
    low, high = map(int, re.match(r"Usually between (\d+) and (\d+)", age.help).groups())
    assert 20 <= low < 40 < high <= 60  # Adult's quartiles are about 28 and 48


def test_a_prediction_comes_with_its_chance_and_reasons_in_points(demo):
    demo.button[0].click()  # the form's Predict button
    _ok(demo.run())
    prediction = next(m for m in demo.metric if m.label == "Prediction")
    assert prediction.value in {"<=50K", ">50K"}
    chance = next(m for m in demo.metric if m.label == f"Chance of {prediction.value}")
    assert 50 <= int(chance.value.rstrip("%")) <= 100
    why = next(m.value for m in demo.markdown if m.value.startswith("**Why**"))
    assert re.search(r"pushed the chance of >50K (up|down) by [\d.]+ points?", why)
    # Log-odds appear in the "Expert details" expander only, not in the words or the chart.
    (expert,) = [e for e in demo.expander if e.label == "Expert details"]
    assert "log-odds" in expert.caption[0].value
    outside = _everything(demo).replace(expert.caption[0].value, "")
    assert "log-odds" not in outside
    (chart,) = demo.get("plotly_chart")
    spec = json.loads(chart.proto.spec)
    assert "log-odds" not in json.dumps(spec)
    assert spec["layout"]["xaxis"]["title"]["text"] == "chance of >50K (%)"


def test_a_regression_demo_predicts_a_number_in_plain_words(workspace):
    from lepton_core.runs import TrainConfig, train

    run = train(
        TrainConfig(data="sample:diabetes", model_name="diabetes_demo", explain_rows=50),
        workspace=workspace,
    )
    workspace.set_published(run.model_name, run.model_version, True)
    token = ShareLinks(workspace).create(run.model_name, run.model_version, expires_in=600).token
    at = AppTest.from_file(ROOT / "app.py", default_timeout=120).switch_page("app_pages/demo.py")
    at.query_params = {"token": token}
    _ok(at.run())
    assert at.title[0].value == "Predicts progression (a number)"
    assert [m.label for m in at.metric] == ["Typical error", "R²"]
    assert "parity" not in _everything(at).lower()
    at.button[0].click()
    _ok(at.run())
    float(next(m for m in at.metric if m.label == "Prediction").value)
    why = next(m.value for m in at.markdown if m.value.startswith("**Why**"))
    assert " pushed the prediction " in why
