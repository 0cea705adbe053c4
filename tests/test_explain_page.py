"""The Explain page in the reader's terms: chances, labels beside each row, reasons in words."""

from __future__ import annotations

import json
import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

from app_pages._common import Keys

ROOT = Path(__file__).resolve().parents[1]


def _ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def _explain_page(run_id: str) -> AppTest:
    at = AppTest.from_file(ROOT / "app.py", default_timeout=120)
    at = at.switch_page("app_pages/explain.py")
    at.session_state[Keys.RUN_ID] = run_id
    return _ok(at.run())


def _chart(at: AppTest, title_start: str) -> dict:
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        if spec["layout"]["title"]["text"].startswith(title_start):
            return spec
    raise AssertionError(f"no chart titled {title_start!r}")


def test_explain_page_shows_chances_labels_and_reasons(adult_run, workspace):
    at = _explain_page(adult_run.run_id)
    at.number_input[0].set_value(7)
    _ok(at.run())
    stored = workspace.load_report(adult_run.run_id, "test_predictions")
    i = workspace.load_report(adult_run.run_id, "explanation")["positions"][7]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Predicted"] == stored["y_pred"][i]
    assert metrics["Actually"] == stored["y_true"][i]
    chance = metrics[f"Chance of {stored['y_pred'][i]}"]
    p = max(stored["proba"][i])
    assert chance == f"{p:.0%}"
    reasons = next(m.value for m in at.markdown if m.value.startswith("**Top reasons**"))
    assert len(re.findall(r"pushed the chance of >50K (?:up|down) by [\d.]+ points?", reasons)) == 3
    waterfall = _chart(at, "Row 7: chance of >50K")
    low, high = waterfall["layout"]["xaxis"]["range"]
    assert low <= 0 < high
    # Log-odds only behind the expert switch and in the expert details.
    words = "\n".join(m.value for m in at.markdown)
    assert "log-odds" not in words and "percentage points" in words
    assert "log-odds" not in json.dumps(waterfall)
    (expert,) = [e for e in at.expander if e.label == "Expert details"]
    assert "Additivity check" in expert.caption[0].value

    at.toggle[0].set_value(True)
    _ok(at.run())
    assert "(log-odds)" in _chart(at, "Row 7: >50K")["layout"]["title"]["text"]
