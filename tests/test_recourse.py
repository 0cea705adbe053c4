"""Counterfactuals and the fairness of recourse: validity, constraints, costs, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lepton_core.core import DataError, ModelError
from lepton_core.data import InputSchema, infer_schema
from lepton_core.models import make_model
from lepton_core.recourse import (
    RecourseConstraints,
    counterfactuals,
    load_constraints,
    recourse_fairness,
    save_constraints,
)

ROOT = Path(__file__).resolve().parents[1]
RULES = RecourseConstraints(
    immutable=["sex", "race", "age", "fnlwgt"],
    only_up=["education-num"],
    ranges={"hours-per-week": [1, 60]},
    steps={"hours-per-week": 5},
)


@pytest.fixture(scope="module")
def fitted(adult_small):
    X = adult_small.drop(columns="Y")
    model = make_model("lightgbm", task="binary").fit(X, adult_small["Y"])
    schema = InputSchema.from_frame(X, infer_schema(X), list(X.columns))
    denied = X[model.predict(X) == "<=50K"].reset_index(drop=True)
    return model, schema, denied


def _same(a, b) -> bool:
    if pd.isna(a) or pd.isna(b):
        return pd.isna(a) and pd.isna(b)
    return str(a) == str(b) if isinstance(a, str) or isinstance(b, str) else float(a) == float(b)


def _distance(schema: InputSchema, changes) -> float:
    """The normalised distance, computed from the changes and the training ranges."""
    fields = {f.name: f for f in schema.fields}
    total = 0.0
    for c in changes:
        f = fields[c.feature]
        if f.kind == "numeric":
            total += abs(c.after - c.before) / ((f.maximum - f.minimum) or 1.0)
        else:
            total += 1.0
    return total


def test_every_counterfactual_flips_and_keeps_every_constraint(fitted):
    model, schema, denied = fitted
    rng = np.random.default_rng(7)
    seen = 0
    for i in rng.choice(len(denied), size=4, replace=False):
        row = denied.iloc[[i]]
        before = schema.prepare(row).iloc[0]
        found = counterfactuals(model, schema, row, RULES, count=3, seed=int(i))
        assert found.label == "<=50K" and found.desired == ">50K"
        assert len(found.counterfactuals) <= 3
        for cf in found.counterfactuals:
            seen += 1
            after = pd.DataFrame([cf.record])
            # Scored again here, by the model itself: the answer turns.
            assert model.predict(schema.prepare(after))[0] == ">50K"
            changed = {n for n in schema.names if not _same(before[n], cf.record[n])}
            assert changed == {c.feature for c in cf.changes} and changed
            assert not changed & set(RULES.immutable)
            for c in cf.changes:
                if c.feature == "education-num":
                    assert c.after > c.before
                if c.feature == "hours-per-week":
                    assert 1 <= c.after <= 60 and (c.after - c.before) % 5 == 0
            assert cf.distance == pytest.approx(_distance(schema, cf.changes))
            assert "the model would predict >50K" in cf.sentence
            assert "模型会预测 >50K" in cf.sentence.render("zh")
    assert seen >= 3  # the search finds some: a broken search would pass vacuously


def test_per_group_cost_equals_a_direct_computation(fitted, adult_small):
    model, schema, _ = fitted
    X = adult_small.drop(columns="Y").head(400)
    # Budgets far above need, so a loaded machine cuts no search short.
    report = recourse_fairness(
        model, schema, X, X[["sex"]], RULES, max_rows=6, min_rows=2, seconds_per_row=120
    )
    assert report.searched == len(report.found) == 6
    by_group = {g.group: g for g in report.by_attribute["sex"]}
    assert set(by_group) == {"Female", "Male"}
    for row in report.found[:2]:  # the same search, made directly, costs the same
        direct = counterfactuals(model, schema, X.iloc[[row.index]], RULES, count=1, seconds=120)
        best = direct.counterfactuals[0] if direct.counterfactuals else None
        assert row.distance == (best.distance if best else None)
    for group, figures in by_group.items():
        rows = [r for r in report.found if X["sex"].iloc[r.index] == group]
        costs = [r.distance for r in rows if r.distance is not None]
        assert figures.searched == len(rows) == 3
        assert figures.median_distance == pytest.approx(np.median(costs))
        assert figures.no_recourse_share == pytest.approx(1 - len(costs) / len(rows))
        assert figures.denied == int(((model.predict(X) == "<=50K") & (X["sex"] == group)).sum())
    gap = max(g.median_distance for g in by_group.values()) - min(
        g.median_distance for g in by_group.values()
    )
    assert report.gaps["sex"] == pytest.approx(gap)
    again = type(report).from_json(report.to_json())
    assert again.by_attribute["sex"][0].median_distance == by_group["Female"].median_distance


def test_nothing_to_change_and_nothing_allowed_say_why(fitted, adult_small):
    model, schema, denied = fitted
    X = adult_small.drop(columns="Y")
    granted = X[model.predict(X) == ">50K"].head(1)
    assert "already predicts >50K" in counterfactuals(model, schema, granted, RULES).note
    frozen = RecourseConstraints(immutable=schema.names)
    found = counterfactuals(model, schema, denied.head(1), frozen)
    assert not found.counterfactuals and "unchangeable" in found.note


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (RecourseConstraints(immutable=["salary"]), "name 'salary', which the model does not read"),
        (RecourseConstraints(only_up=["education"]), "'education' is not a number"),
        (RecourseConstraints(ranges={"age": [60, 20]}), "the lower first"),
        (RecourseConstraints(desired="rich"), "'rich' is not an answer this model gives"),
    ],
)
def test_bad_constraints_get_one_sentence(fitted, rules, message):
    model, schema, denied = fitted
    with pytest.raises(DataError, match=message):
        counterfactuals(model, schema, denied.head(1), rules)


def test_regression_model_and_missing_column_are_refused(fitted, adult_small):
    _, schema, denied = fitted
    X = adult_small.drop(columns=["Y", "hours-per-week"])
    regressor = make_model("lightgbm", task="regression").fit(X, adult_small["hours-per-week"])
    reg_schema = InputSchema.from_frame(X, infer_schema(X), list(X.columns))
    with pytest.raises(ModelError, match="predicts a number"):
        counterfactuals(regressor, reg_schema, X.head(1))
    model = fitted[0]
    with pytest.raises(DataError, match="no column 'age'"):
        counterfactuals(model, schema, denied.head(1).drop(columns="age"), RULES)


def test_constraints_are_stored_with_the_data_set(workspace, adult_small):
    info = workspace.save_dataset(
        adult_small.head(50),
        name="recourse-rules",
        target="Y",
        task="binary",
        sensitive=["sex", "race"],
        fingerprint="recourse-rules",
    )
    assert load_constraints(workspace, info.id).immutable == ["sex", "race"]
    save_constraints(workspace, info.id, RULES)
    assert load_constraints(workspace, info.id) == RULES


@pytest.fixture(scope="module")
def small_run(workspace, adult_csv):
    """LightGBM on the 3,000-row Adult sample, registered (faster than the full table)."""
    from lepton_core.runs import TrainConfig, train

    config = TrainConfig(
        data=str(adult_csv), target="Y", sensitive=["sex"], explain_rows=20, model_name="recourse"
    )
    return train(config, workspace=workspace)


def test_api_and_cli_answer_for_one_record(small_run, workspace, adult_csv, capsys):
    from fastapi.testclient import TestClient

    from lepton_core.cli import main
    from lepton_core.serving import create_app

    adult_run = small_run
    client = TestClient(create_app(workspace, require_key=False))
    name = adult_run.model_name
    record = pd.read_csv(adult_csv).drop(columns="Y").iloc[0].to_dict()
    record = {k: (None if pd.isna(v) else v) for k, v in record.items()}
    got = client.post(f"/models/{name}/counterfactuals", json={"record": record, "count": 2})
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["model"] == name and len(body["counterfactuals"]) <= 2
    assert all(cf["label"] == body["desired"] for cf in body["counterfactuals"])
    too_many = client.post(f"/models/{name}/counterfactuals", json={"record": record, "count": 99})
    assert too_many.status_code == 422
    record.pop("age")
    missing = client.post(f"/models/{name}/counterfactuals", json={"record": record})
    assert missing.status_code == 422 and "no field 'age'" in missing.json()["detail"]

    ref = f"{name}:{adult_run.model_version}"
    args = ["counterfactuals", "--model", ref, "--data", str(adult_csv), "--rows", "2"]
    args += ["--seconds", "2"]
    assert main([*args, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert len(rows) == 2
    assert main(args) == 0
    assert "row 0:" in capsys.readouterr().out


def _ok(at):
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_whatif_panel_rescores_keeps_variants_and_finds_counterfactuals(small_run):
    from streamlit.testing.v1 import AppTest

    from app_pages._common import Keys
    from lepton_core.explain import friendly_name

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at = at.switch_page("app_pages/explain.py")
    at.session_state[Keys.RUN_ID] = small_run.run_id
    _ok(at.run())
    assert "What if" in [h.value for h in at.subheader]
    chances = [m for m in at.metric if m.label.startswith("Chance of")]
    before = chances[-1].value
    boxes = {n.label: n for n in at.number_input}
    boxes[friendly_name("capital-gain")].set_value(99999.0)
    _ok(at.run())
    after = [m for m in at.metric if m.label.startswith("Chance of")][-1]
    assert after.value != before  # re-scored with the edited value
    next(b for b in at.button if b.label == "Keep this variant").click()
    _ok(at.run())
    table = next(d.value for d in at.dataframe if "Variant 1" in d.value.columns)
    assert table.loc["Answer", "Variant 1"]
    next(b for b in at.button if b.label == "Find counterfactuals").click()
    _ok(at.run())
    words = [m.value for m in at.markdown] + [i.value for i in at.info]
    assert any("the model would predict" in w or "already predicts" in w for w in words)


def test_evaluate_page_and_model_card_show_stored_recourse(small_run, workspace):
    from streamlit.testing.v1 import AppTest

    from app_pages._common import Keys
    from lepton_core.recourse import store_recourse
    from lepton_core.runs import load_bundle, load_test_rows, model_card

    bundle = load_bundle(workspace, small_run.model_name, small_run.model_version)
    X, _, sensitive = load_test_rows(workspace, small_run.run_id)
    report = recourse_fairness(bundle.model, bundle.input_schema, X, sensitive, max_rows=4)
    store_recourse(workspace, small_run.run_id, report)
    card = model_card(workspace, small_run.model_name, small_run.model_version, n_resamples=0)
    text = card.to_markdown()
    assert "Median distance" in text and "| Female | 2 |" in text
    assert "距离中位数" in card.to_markdown(language="zh")

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at = at.switch_page("app_pages/evaluate.py")
    at.session_state[Keys.RUN_ID] = small_run.run_id
    _ok(at.run())
    specs = [c.proto.spec for c in at.get("plotly_chart")]
    assert any("How much must change to get" in spec for spec in specs)
    assert "Compute it again" in [b.label for b in at.button]


def test_the_deploy_page_offers_the_owner_a_what_if(small_run):
    """The owner's view of a deployed model: the API's example record, editable, re-scored."""
    from streamlit.testing.v1 import AppTest

    from app_pages._common import Keys

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at = at.switch_page("app_pages/deploy.py")
    at.session_state[Keys.RUN_ID] = small_run.run_id
    _ok(at.run())
    titles = [e.label for e in at.expander]
    assert "What if: change this record and watch the answer" in titles
    assert any(m.label.startswith("Chance of") for m in at.metric)
    assert "Find counterfactuals" in [b.label for b in at.button]


def test_ranges_and_steps_set_on_the_page_are_stored(small_run, workspace):
    """The rules form's table: an empty cell keeps the default, a range with one end given
    takes the other from training, and a low above its high is refused in one sentence."""
    from app_pages._recourse import _bounds_from, _bounds_table
    from lepton_core.runs import load_bundle

    bundle = load_bundle(workspace, small_run.model_name, small_run.model_version)
    numbers = [f.name for f in bundle.input_schema.fields if f.kind == "numeric"]
    table = _bounds_table(RecourseConstraints(steps={"age": 5.0}), numbers)
    assert (
        table.shape == (len(numbers), 4)
        and table.iloc[:, 1:].isna().sum().sum() == 3 * len(numbers) - 1
    )
    hours = numbers.index("hours-per-week")
    table.iloc[hours, 2] = 60.0  # the highest only
    ranges, steps = _bounds_from(table, bundle)
    field = next(f for f in bundle.input_schema.fields if f.name == "hours-per-week")
    assert ranges == {"hours-per-week": [field.minimum, 60.0]} and steps == {"age": 5.0}
    info = workspace.get_run(small_run.run_id).dataset_id
    rules = RecourseConstraints(ranges={"hours-per-week": [80.0, 10.0]})
    with pytest.raises(DataError, match="hours-per-week"):
        save_constraints(workspace, info, rules, bundle.input_schema)
