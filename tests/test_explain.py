"""Tests for lepton_core.explain: one Explanation type from three SHAP strategies."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from lepton_core.core import ExplainError, ModelError, NotFittedError
from lepton_core.explain import (
    Explanation,
    _agnostic,
    _linear,
    explain,
    friendly_name,
    key_features,
    prediction_title,
    reason_sentences,
    row_outcome,
    summarize,
    supported_explainer,
    to_probability,
    usual_range,
)
from lepton_core.models import LeptonModel, family_names, make_model

EXPLAINERS = {
    "lightgbm": "shap.TreeExplainer",
    "tree": "shap.TreeExplainer",
    "logistic": "shap.LinearExplainer (exact)",
    "mlp": "shap.PermutationExplainer",
}
#: Fast settings; none of them changes how a family is explained.
PARAMS = {
    "lightgbm": {"num_threads": 1},
    "logistic": {"C": 0.1},
    "mlp": {"max_epochs": 3, "hidden_sizes": (32,)},
}


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """One torch thread: on a busy 2-core machine OpenMP barrier waits slow small batches 20x."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tables(adult_small: pd.DataFrame) -> dict[str, tuple[pd.DataFrame, pd.Series]]:
    """Per task, Adult features and a target: income, relationship (6 classes), hours."""
    X = adult_small.drop(columns="Y")
    return {
        "binary": (X, adult_small["Y"]),
        "multiclass": (X.drop(columns="relationship"), X["relationship"]),
        "regression": (X.drop(columns="hours-per-week"), X["hours-per-week"]),
    }


@pytest.fixture(scope="module")
def fitted(tables):
    """``fitted(family, task)``: a model trained once per module on Adult."""
    cache: dict[tuple[str, str], LeptonModel] = {}

    def get(family: str, task: str) -> LeptonModel:
        if (family, task) not in cache:
            X, y = tables[task]
            model = make_model(family, task, **PARAMS.get(family, {}))
            cache[family, task] = model.fit(X, y)
        return cache[family, task]

    return get


def _expected_output(model: LeptonModel, X: pd.DataFrame) -> np.ndarray:
    """What the explanation must add up to: the margin, or the tree's probabilities."""
    if model.family == "tree" and model.task != "regression":
        proba = model.predict_proba(X)
        return proba[:, 1:] if model.task == "binary" else proba
    return np.asarray(model.raw_output(X)).reshape(len(X), -1)


def _check(expl: Explanation, model: LeptonModel, X: pd.DataFrame) -> None:
    n_outputs = len(model.classes_) if model.task == "multiclass" else 1
    values = np.asarray(expl.values)
    assert values.shape == (len(X), len(model.feature_names_in_), n_outputs)
    assert expl.feature_names == model.feature_names_in_
    assert len(expl.base_values) == n_outputs and len(expl.data) == len(X)
    expected = _expected_output(model, X)
    np.testing.assert_allclose(expl.model_output, expected, rtol=1e-12, atol=1e-12)
    total = np.asarray(expl.base_values) + values.sum(axis=1)
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(total, expected, rtol=0, atol=1e-6 * scale)
    assert expl.additivity_error() < 1e-6 * scale
    assert expl.explainer == EXPLAINERS[model.family] == supported_explainer(model)


@pytest.mark.parametrize("family", family_names(reads="table"))
def test_binary_explanations_add_up_to_the_model_output(fitted, tables, family, monkeypatch):
    monkeypatch.setattr(_agnostic, "DEFAULT_MAX_ROWS", 60)
    model = fitted(family, "binary")
    X = tables["binary"][0].iloc[:300]
    expl = explain(model, X)
    rows = X
    if family == "mlp":
        # Model-agnostic SHAP explains a seeded sample by default, and says so.
        assert len(expl.data) == 60 and "60 of 300 rows" in expl.note
        rows = X.iloc[_sampled_positions(X, expl)]
    _check(expl, model, rows)
    assert expl.outputs == [">50K"]
    assert expl.output_space == ("probability" if family == "tree" else "log-odds")


def _sampled_positions(X: pd.DataFrame, expl: Explanation) -> list[int]:
    """Positions in ``X`` of the explained rows (all of Adult's rows are distinct)."""
    keys = [tuple(map(str, r)) for r in X.astype(object).where(X.notna(), None).to_numpy()]
    where = {k: i for i, k in enumerate(keys)}
    return [where[tuple(str(r[c]) for c in expl.feature_names)] for r in expl.data]


@pytest.mark.parametrize(
    ("family", "task", "space"),
    [
        ("lightgbm", "multiclass", "raw score"),
        ("lightgbm", "regression", "value"),
        ("logistic", "multiclass", "raw score"),
        ("logistic", "regression", "value"),
        ("tree", "multiclass", "probability"),
        ("tree", "regression", "value"),
        ("mlp", "multiclass", "raw score"),
    ],
)
def test_multiclass_and_regression_explanations_add_up(fitted, tables, family, task, space):
    model = fitted(family, task)
    X = tables[task][0].iloc[: 30 if family == "mlp" else 300]
    expl = explain(model, X)
    _check(expl, model, X)
    assert expl.output_space == space
    if task == "multiclass":
        assert expl.outputs == [str(c) for c in model.classes_]
    else:
        assert expl.outputs == ["prediction"]


@pytest.mark.filterwarnings("ignore:LightGBM binary classifier:UserWarning")
def test_tree_shap_matches_plain_shap_on_the_booster(fitted, tables):
    import shap

    model = fitted("lightgbm", "binary")
    X = tables["binary"][0].iloc[:200]
    reference = shap.TreeExplainer(model.final_estimator_).shap_values(model.transform(X))
    np.testing.assert_allclose(explain(model, X).values_array(), reference, rtol=1e-12)


def test_one_hot_parts_are_summed_back_onto_their_column(fitted, tables):
    import shap

    model = fitted("tree", "binary")
    X = tables["binary"][0].iloc[:200]
    expl = explain(model, X)
    per_column = shap.TreeExplainer(model.final_estimator_).shap_values(model.transform(X))
    for feature in ("occupation", "age"):
        parts = per_column[:, model.feature_groups_[feature], 1].sum(axis=1)
        np.testing.assert_allclose(expl.values_array()[:, expl.feature_names.index(feature)], parts)


def test_linear_shap_is_coef_times_distance_from_background_mean(fitted, tables):
    model = fitted("logistic", "binary")
    X, background = tables["binary"][0].iloc[:100], tables["binary"][0].iloc[1000:1500]
    expl = explain(model, X, background=background)
    inputs, reference = model.transform(X), model.transform(background)
    per_column = model.final_estimator_.coef_[0] * (inputs - reference.mean(axis=0))
    for j, feature in enumerate(expl.feature_names):
        expected = per_column[:, model.feature_groups_[feature]].sum(axis=1)
        np.testing.assert_allclose(expl.values_array()[:, j], expected, atol=1e-10)


def test_permutation_shap_is_exact_for_a_linear_model(fitted, tables):
    # For an additive model every permutation gives the exact SHAP values, so the
    # model-agnostic strategy (codes, masking, decoding, missing values) must agree
    # with exact linear SHAP over the same background.
    model = fitted("logistic", "binary")
    X, background = tables["binary"][0].iloc[:40], tables["binary"][0].iloc[500:600]
    assert X.isna().any().any() and background.isna().any().any()
    permutation = _agnostic.explain(model, X, background, seed=0)
    exact = _linear.explain(model, X, background, seed=0)
    np.testing.assert_allclose(permutation.values, exact.values, atol=1e-9)
    np.testing.assert_allclose(permutation.base_values, exact.base_values, atol=1e-9)


def test_lightgbm_global_importance_on_adult(fitted, tables):
    expl = explain(fitted("lightgbm", "binary"), tables["binary"][0].iloc[:1000])
    ranking = expl.global_importance()
    scores = [score for _, score in ranking]
    assert scores == sorted(scores, reverse=True) and len(ranking) == 14
    top5 = {name for name, _ in ranking[:5]}
    assert {"relationship", "capital-gain", "marital-status", "age"} <= top5
    assert ranking[-1][1] < ranking[0][1] / 10


def test_importance_per_output_and_summed(fitted, tables):
    expl = explain(fitted("logistic", "multiclass"), tables["multiclass"][0].iloc[:200])
    per_output = {o: dict(expl.global_importance(o)) for o in expl.outputs}
    summed = dict(expl.global_importance())
    for feature, score in summed.items():
        assert score == pytest.approx(sum(p[feature] for p in per_output.values()))
    assert dict(expl.global_importance(2)) == per_output[expl.outputs[2]]
    np.testing.assert_array_equal(expl.values_array("Wife"), expl.values_array(-1))
    with pytest.raises(ValueError, match="Unknown output 'Boss'"):
        expl.values_array("Boss")
    with pytest.raises(ValueError, match="out of range"):
        expl.global_importance(6)


def test_row_lists_contributions_largest_first(fitted, tables):
    X = tables["binary"][0].iloc[:50]
    expl = explain(fitted("lightgbm", "binary"), X)
    row = expl.row(7)
    assert [abs(c) for _, _, c in row] == sorted((abs(c) for _, _, c in row), reverse=True)
    assert {name for name, _, _ in row} == set(expl.feature_names)
    assert dict((n, v) for n, v, _ in row)["age"] == X["age"].iloc[7]
    total = expl.base_values[0] + sum(c for _, _, c in row)
    assert total == pytest.approx(expl.model_output[7][0], abs=1e-9)
    with pytest.raises(ValueError, match="out of range"):
        expl.row(50)


def test_json_round_trip_keeps_everything(fitted, tables):
    X = tables["binary"][0].iloc[:60]
    assert X["workclass"].isna().any()
    expl = explain(fitted("tree", "binary"), X)
    text = expl.to_json()
    again = Explanation.from_json(text)
    assert again == expl
    np.testing.assert_array_equal(again.values_array(), expl.values_array())
    missing = int(np.flatnonzero(X["workclass"].isna().to_numpy())[0])
    assert json.loads(text)["data"][missing]["workclass"] is None
    assert again.data[missing]["age"] == X["age"].iloc[missing]


def test_summarize_is_a_small_json_summary(fitted, tables):
    expl = explain(fitted("lightgbm", "multiclass"), tables["multiclass"][0].iloc[:100])
    summary = summarize(expl, top=3)
    assert set(summary) == {"explainer", "output_space", "outputs", "importance", "n_rows"}
    assert summary["n_rows"] == 100 and summary["outputs"] == expl.outputs
    assert list(summary["importance"]) == expl.outputs
    for output, ranked in summary["importance"].items():
        assert ranked == [list(p) for p in expl.global_importance(output)[:3]]
    json.dumps(summary, allow_nan=False)


def test_max_rows_takes_a_seeded_sample_in_order(fitted, tables):
    model = fitted("logistic", "binary")
    X = tables["binary"][0].iloc[:500]
    first = explain(model, X, max_rows=40, seed=3)
    assert len(first.data) == 40 and "40 of 500 rows" in first.note
    assert explain(model, X, max_rows=40, seed=3) == first
    assert explain(model, X, max_rows=40, seed=4).data != first.data
    positions = _sampled_positions(X, first)
    assert positions == sorted(positions)
    assert explain(model, X.iloc[:40], max_rows=40).note == ""


def test_extra_columns_are_ignored(fitted, adult_small):
    model = fitted("lightgbm", "binary")
    expl = explain(model, adult_small.iloc[:20])  # still holds the target Y
    assert "Y" not in expl.feature_names and "Y" not in expl.data[0]


def test_missing_columns_are_named(fitted, tables):
    X = tables["binary"][0].iloc[:20].drop(columns=["age", "sex"])
    with pytest.raises(ExplainError, match=r"lacks the model's column\(s\) 'age', 'sex'; add"):
        explain(fitted("lightgbm", "binary"), X)
    with pytest.raises(ExplainError, match="The background lacks"):
        explain(fitted("logistic", "binary"), tables["binary"][0].iloc[:20], background=X)


def test_empty_table_and_bad_arguments(fitted, tables):
    model = fitted("logistic", "binary")
    X = tables["binary"][0]
    with pytest.raises(ExplainError, match="has no rows; pass at least one row"):
        explain(model, X.iloc[:0])
    with pytest.raises(ValueError, match="max_rows must be at least 1"):
        explain(model, X, max_rows=0)
    with pytest.raises(ValueError, match="must be a pandas DataFrame"):
        explain(model, X.to_numpy())


def test_unfitted_model_is_refused():
    model = make_model("lightgbm", "binary")
    with pytest.raises(NotFittedError, match="not been trained yet") as info:
        explain(model, pd.DataFrame({"a": [1.0]}))
    assert isinstance(info.value, ModelError)
    with pytest.raises(NotFittedError):
        supported_explainer(model)


def test_bad_values_are_reported_by_the_model(fitted, tables):
    X = tables["binary"][0].iloc[:5].astype({"age": object})
    X.loc[X.index[0], "age"] = "old"
    with pytest.raises(ModelError, match="Column 'age' has values that are not numbers"):
        explain(fitted("mlp", "binary"), X)


# ------------------------------------------------------------ in the reader's terms


@pytest.mark.parametrize("family", ["lightgbm", "logistic"])
def test_probability_contributions_add_up_to_the_predicted_probability(fitted, tables, family):
    model = fitted(family, "binary")
    X = tables["binary"][0].iloc[:300]
    raw = explain(model, X)
    chances = to_probability(raw)
    assert raw.output_space == "log-odds" and chances.output_space == "probability"
    proba = model.predict_proba(X)[:, 1]
    values = chances.values_array()
    np.testing.assert_allclose(chances.base_values[0] + values.sum(axis=1), proba, atol=1e-9)
    np.testing.assert_allclose(np.asarray(chances.model_output)[:, 0], proba, atol=1e-12)
    assert chances.additivity_error() < 1e-9
    # The logistic link is monotone: one positive factor per row keeps signs and ranks.
    logits = raw.values_array()
    assert np.array_equal(np.sign(values), np.sign(logits))
    for i in range(0, 300, 37):
        assert [n for n, _, _ in chances.row(i)] == [n for n, _, _ in raw.row(i)]
    assert chances.base_values[0] == pytest.approx(1 / (1 + np.exp(-raw.base_values[0])))
    assert "probability" in chances.note and raw.output_space == "log-odds"  # raw untouched


@pytest.mark.parametrize("family", ["lightgbm", "mlp"])
def test_multiclass_probability_contributions_add_up_per_class(fitted, tables, family):
    model = fitted(family, "multiclass")
    X = tables["multiclass"][0].iloc[: 20 if family == "mlp" else 200]
    chances = to_probability(explain(model, X))
    values = np.asarray(chances.values)  # (rows, features, classes)
    proba = model.predict_proba(X)
    total = np.asarray(chances.base_values) + values.sum(axis=1)
    np.testing.assert_allclose(total, proba, atol=1e-9)
    # Probabilities sum to one, so each feature's pushes over the classes cancel out.
    np.testing.assert_allclose(values.sum(axis=2), 0.0, atol=1e-9)
    assert chances.additivity_error() < 1e-9


def test_the_path_integral_needs_almost_no_correction():
    from lepton_core.explain._probability import _softmax, _softmax_path_jacobians

    rng = np.random.default_rng(0)
    b, f = rng.normal(size=(50, 5)), rng.normal(scale=6, size=(50, 5))
    integral = np.einsum("nkm,nm->nk", _softmax_path_jacobians(b, f), f - b)
    np.testing.assert_allclose(integral, _softmax(f) - _softmax(b), atol=1e-9)


def test_probability_leaves_probabilities_and_regression_alone(fitted, tables):
    tree = explain(fitted("tree", "binary"), tables["binary"][0].iloc[:20])
    assert to_probability(tree) is tree
    numbers = explain(fitted("lightgbm", "regression"), tables["regression"][0].iloc[:20])
    assert to_probability(numbers) is numbers


def test_a_mitigated_model_is_explained_in_probability_not_log_odds():
    from lepton_core.explain._base import raw_space

    class Mitigated:
        task, margin = "binary", "probability"

    class Logistic:
        task = "binary"

    assert raw_space(Mitigated()) == "probability" and raw_space(Logistic()) == "log-odds"


def test_positions_say_which_rows_were_explained(fitted, tables):
    X = tables["binary"][0].iloc[:500]
    expl = explain(fitted("logistic", "binary"), X, max_rows=40, seed=3)
    assert expl.positions == _sampled_positions(X, expl)
    assert expl.subset([2, 5]).positions == [expl.positions[2], expl.positions[5]]
    assert Explanation.from_json(expl.to_json()) == expl
    assert explain(fitted("logistic", "binary"), X.iloc[:7]).positions == list(range(7))
    assert expl.classes == ["<=50K", ">50K"]


def test_row_outcome_gives_the_predicted_label_its_chance_and_the_truth(fitted, tables):
    X, y = tables["binary"]
    model = fitted("lightgbm", "binary")
    expl = explain(model, X.iloc[:300], max_rows=50, seed=1)
    labels, proba = model.predict_scored(X.iloc[:300])
    stored = {
        "y_true": y.iloc[:300].tolist(),
        "y_pred": labels.tolist(),
        "classes": list(model.classes_),
        "proba": proba.tolist(),
    }
    for row in (0, 17, 49):
        i = expl.positions[row]
        outcome = row_outcome(expl, row, predictions=stored)
        assert outcome.predicted == labels[i] and outcome.actual == y.iloc[i]
        assert outcome.probability == pytest.approx(proba[i].max())
        assert outcome.correct == (labels[i] == y.iloc[i])
        # Without the stored predictions: the label and chance from the explanation itself.
        alone = row_outcome(expl, row)
        assert alone.predicted == labels[i] and alone.actual is None
        assert alone.probability == pytest.approx(proba[i].max())
    numbers = explain(fitted("lightgbm", "regression"), tables["regression"][0].iloc[:5])
    assert row_outcome(numbers, 2).predicted == pytest.approx(numbers.model_output[2][0])
    assert " pushed the prediction " in reason_sentences(numbers, 2)[0]


def test_reason_sentences_name_the_feature_its_value_and_the_points(fitted, tables):
    X = tables["binary"][0].iloc[:50]
    chances = to_probability(explain(fitted("lightgbm", "binary"), X))
    sentences = reason_sentences(chances, 7)
    assert len(sentences) == 3
    (name, value, contribution), *_ = chances.row(7)
    points = abs(contribution) * 100
    shown = f"{points:.0f}" if points >= 9.5 else f"{points:.1f}"
    direction = "up" if contribution > 0 else "down"
    assert sentences[0].startswith(f"{friendly_name(name)} = ")
    assert sentences[0].endswith(f"pushed the chance of >50K {direction} by {shown} points")
    assert str(value).split(".")[0] in sentences[0]
    raw = reason_sentences(explain(fitted("lightgbm", "binary"), X), 7, top=1)
    assert "the log-odds of >50K" in raw[0]


def test_toy_sentences_read_as_plain_english():
    expl = Explanation(
        explainer="test",
        output_space="probability",
        outputs=[">50K"],
        feature_names=["age", "education-num", "workclass"],
        values=[[[0.12], [-0.034], [0.0]]],
        base_values=[0.24],
        data=[{"age": 52, "education-num": 9.0, "workclass": None}],
        model_output=[[0.326]],
    )
    assert reason_sentences(expl, 0) == [
        "Age = 52 pushed the chance of >50K up by 12 points",
        "Education num = 9 pushed the chance of >50K down by 3.4 points",
    ]


def test_words_for_names_titles_ranges_and_key_fields():
    assert friendly_name("education-num") == "Education num"
    assert friendly_name("hours_per_week") == "Hours per week"
    assert friendly_name("HbA1c") == "HbA1c"
    assert prediction_title("income", "binary", ["<=50K", ">50K"]) == (
        "Predicts whether income is >50K"
    )
    assert prediction_title("Y", "binary", ["<=50K", ">50K"]) == (
        "Predicts whether the answer is >50K or <=50K"
    )
    assert prediction_title("churned", "binary", [0, 1]) == "Predicts churned: yes or no"
    assert prediction_title("relationship", "multiclass", list("abcdefg")) == (
        "Predicts relationship: a, b, c, d or …"
    )
    assert prediction_title("hours-per-week", "regression") == "Predicts hours per week (a number)"
    ages = list(range(17, 91))  # quartiles 35.25 and 71.75
    assert usual_range(ages, integer=True) == (
        "Usually between 35 and 72 (the middle half of the examples it learned from)"
    )
    assert usual_range([0.5, 1.25, 2.0, 3.5]).startswith("Usually between 1.06 and 2.38")
    assert usual_range([0, 0, 0, 0, 5000], integer=True) == (
        "Usually 0 (from 0 to 5,000 in the examples it learned from)"
    )
    assert usual_range([None, "x"]) is None
    ranked = [("a", 5.0), ("b", 3.0), ("c", 1.0), ("d", 0.5), ("e", 0.2), ("f", 0.1)]
    assert key_features(ranked) == ["a", "b", "c"]  # 90% of the total
    assert key_features(ranked, at_least=1, share=0.6) == ["a", "b"]
    assert key_features([(n, 1.0) for n in "abcdefgh"]) == list("abcdef")


@pytest.mark.parametrize("family", family_names(reads="table"))
def test_a_page_knows_which_models_wait_for_shap_s_compiler(fitted, family):
    # The demo and Deploy pages compile shap's numba code ahead only for these.
    from lepton_core.explain import shap_to_compile

    needs = "permutation" if EXPLAINERS[family] == "shap.PermutationExplainer" else None
    assert shap_to_compile(fitted(family, "binary")) == needs


def test_the_app_compiles_what_a_model_needs_once_in_the_background(fitted, monkeypatch):
    import threading

    import lepton_core.explain as explain
    from app_pages import _common

    asked: list[str | None] = []
    done = threading.Event()

    def compile_shap(only=None):
        asked.append(only)
        done.set()

    monkeypatch.setattr(explain, "compile_shap", compile_shap)
    _common._compiling_shap.clear()
    try:
        _common.warm_explainer(fitted("lightgbm", "binary"))  # TreeSHAP: nothing to compile
        assert not done.wait(0.2)
        _common.warm_explainer(fitted("mlp", "binary"))
        assert done.wait(5) and asked == ["permutation"]
        _common._compiling_shap("permutation").join(5)
        _common.warm_explainer(fitted("mlp", "binary"))
        assert asked == ["permutation"]  # once per process
    finally:
        _common._compiling_shap.clear()
