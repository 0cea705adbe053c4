"""Tests for lepton_core.models._base: every family behind the same estimator contract."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, softmax
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.metrics import accuracy_score, roc_auc_score

from lepton_core.core import DataError, ModelError, NotFittedError
from lepton_core.models import (
    LeptonModel,
    TreeModel,
    family_names,
    family_title,
    load_model,
    make_model,
)

FAMILIES = family_names(reads="table")
TASKS = ("binary", "multiclass", "regression")
CASES = [(family, task) for family in FAMILIES for task in TASKS]


def _synthetic(task: str, n: int = 600, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Two numbers and a colour (with gaps) driving integer classes or a number."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    color = rng.choice(["red", "green", "blue"], size=n)
    effect = pd.Series(color).map({"red": 1.0, "green": 0.0, "blue": -1.0}).to_numpy()
    score = 2 * x1 + x2 + effect + rng.normal(scale=0.3, size=n)
    X = pd.DataFrame({"x1": x1, "x2": x2, "color": pd.Series(color, dtype="str")})
    X.loc[::17, "x2"] = np.nan
    X.loc[::23, "color"] = np.nan
    if task == "multiclass":
        return X, np.select([score < -1, score < 1], [3, 5], 7)
    return X, 10 * score + 50


def _model(family: str, task: str, **params) -> LeptonModel:
    """``make_model`` with one LightGBM thread for these tiny fits.

    On a busy shared machine OpenMP's barrier waits can turn a fit of
    milliseconds into a minute; the thread count does not change what is learned.
    """
    if family == "lightgbm":
        params.setdefault("num_threads", 1)
    return make_model(family, task, **params)


@pytest.fixture(scope="module")
def data(adult_small: pd.DataFrame) -> dict[str, tuple]:
    """Per task: (X_train, y_train, X_test, y_test)."""
    out = {}
    X, y = adult_small.drop(columns="Y"), adult_small["Y"]
    out["binary"] = (X[:2400], y[:2400], X[2400:].reset_index(drop=True), y[2400:])
    for task in ("multiclass", "regression"):
        X, y = _synthetic(task)
        out[task] = (X[:500], y[:500], X[500:].reset_index(drop=True), y[500:])
    return out


@pytest.fixture(scope="module")
def fitted(data):
    """A fitted model per (family, task), each trained once for the whole module."""
    cache: dict[tuple[str, str], LeptonModel] = {}

    def get(family: str, task: str) -> LeptonModel:
        if (family, task) not in cache:
            X, y, _, _ = data[task]
            cache[family, task] = _model(family, task, seed=0).fit(X, y)
        return cache[family, task]

    return get


@pytest.mark.parametrize(("family", "task"), CASES)
def test_fit_predicts_labels_and_probabilities(fitted, data, family, task):
    model = fitted(family, task)
    _, y, X_test, _ = data[task]
    pred = model.predict(X_test)
    assert pred.shape == (len(X_test),)
    assert model.n_features_in_ == X_test.shape[1]
    if task == "regression":
        assert pred.dtype == np.float64 and np.isfinite(pred).all()
        with pytest.raises(ModelError, match="predicts numbers"):
            model.predict_proba(X_test)
        return
    assert list(model.classes_) == sorted(set(y))
    assert set(pred) <= set(model.classes_)
    assert type(pred[0]) is type(np.asarray(y)[0])  # original label type, not codes
    proba = model.predict_proba(X_test)
    assert proba.shape == (len(X_test), len(model.classes_))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(pred, model.classes_[proba.argmax(axis=1)])


@pytest.mark.parametrize(("family", "task"), CASES)
def test_raw_output_is_the_margin_of_predict_proba(fitted, data, family, task):
    model = fitted(family, task)
    X_test = data[task][2]
    raw = model.raw_output(X_test)
    if task == "regression":
        np.testing.assert_allclose(raw, model.predict(X_test))
        return
    proba = model.predict_proba(X_test)
    if task == "binary":
        assert raw.shape == (len(X_test),)
        proba, link = proba[:, 1], expit
    else:
        assert raw.shape == proba.shape
        link = lambda r: softmax(r, axis=1)  # noqa: E731
    if model.margin == "probability":  # the tree: TreeSHAP explains its probabilities
        link = lambda r: r  # noqa: E731
    np.testing.assert_allclose(link(raw), proba, rtol=1e-6, atol=1e-9)


def _final_output(model: LeptonModel, inputs) -> np.ndarray:
    """What final_estimator_ makes of transform()'s output, as raw_output defines it."""
    final = model.final_estimator_
    if model.family == "lightgbm":
        return final.predict(inputs, raw_score=True)
    if model.family == "mlp":
        import torch

        with torch.no_grad():
            out = final(torch.as_tensor(inputs, dtype=torch.float32)).numpy()
        return out if model.task == "multiclass" else out[:, 0]
    if model.task == "regression":
        return final.predict(inputs)
    if model.family == "tree":
        proba = final.predict_proba(inputs)
        return proba[:, 1] if model.task == "binary" else proba
    return final.decision_function(inputs)


@pytest.mark.parametrize(("family", "task"), CASES)
def test_transform_is_the_final_estimators_input(fitted, data, family, task):
    model = fitted(family, task)
    X_test = data[task][2]
    inputs = model.transform(X_test)
    np.testing.assert_allclose(_final_output(model, inputs), model.raw_output(X_test), rtol=1e-6)
    width = inputs.shape[1]
    assert len(model.get_feature_names_out()) == width
    assert list(model.feature_groups_) == model.feature_names_in_
    indices = sorted(i for group in model.feature_groups_.values() for i in group)
    assert indices == list(range(width))  # every output column belongs to exactly one input
    if family != "lightgbm" and task == "binary":
        assert len(model.feature_groups_["sex"]) == 2  # one-hot: Female, Male
        assert model.feature_groups_["age"] == [model.feature_names_out_.index("age")]


@pytest.mark.parametrize("family", FAMILIES)
def test_unseen_categories_and_missing_values_do_not_crash(fitted, data, family):
    model = fitted(family, "binary")
    X_test = data["binary"][2].head(50).copy()
    X_test["workclass"] = "Astronaut"  # never seen in training
    X_test.loc[:9, "native-country"] = np.nan
    X_test.loc[:9, "age"] = np.nan
    X_test["occupation"] = X_test["occupation"].astype(object)  # other dtypes are accepted too
    X_test["sex"] = X_test["sex"].astype("category")
    proba = model.predict_proba(X_test)
    assert np.isfinite(proba).all() and proba.shape == (50, 2)
    assert np.isfinite(model.raw_output(X_test)).all()


@pytest.mark.parametrize("family", ["lightgbm", "logistic"])
def test_object_and_category_columns_train_like_str_columns(family):
    X, y = _synthetic("regression", n=200)
    reference = _model(family, "regression", seed=0).fit(X, y).raw_output(X)
    for dtype in (object, "category"):
        model = _model(family, "regression", seed=0).fit(X.astype({"color": dtype}), y)
        assert model.categorical_features_ == ["color"]
        np.testing.assert_allclose(model.raw_output(X), reference)


@pytest.mark.parametrize("family", FAMILIES)
def test_column_order_and_extra_columns_do_not_matter(fitted, data, family):
    model = fitted(family, "binary")
    X_test = data["binary"][2]
    shuffled = X_test[list(reversed(X_test.columns))].assign(unused="x")
    np.testing.assert_array_equal(model.raw_output(shuffled), model.raw_output(X_test))


@pytest.mark.parametrize("family", FAMILIES)
def test_missing_column_is_named(fitted, data, family):
    model = fitted(family, "binary")
    with pytest.raises(ModelError, match="no column 'age'; send every column"):
        model.predict(data["binary"][2].drop(columns="age"))


def test_numbers_sent_as_text_are_read_and_bad_ones_named(fitted, data):
    model = fitted("logistic", "binary")
    X_test = data["binary"][2].head(5)
    as_text = X_test.assign(age=X_test["age"].astype(str))
    np.testing.assert_allclose(model.raw_output(as_text), model.raw_output(X_test))
    with pytest.raises(ModelError, match="Column 'age' has values that are not numbers"):
        model.predict(X_test.assign(age=["forty", "1", "2", "3", "4"]))


@pytest.mark.parametrize("family", FAMILIES)
def test_unfitted_model_raises_not_fitted(data, family, tmp_path):
    model = make_model(family, "binary")
    X_test = data["binary"][2]
    for call in (model.predict, model.predict_proba, model.raw_output, model.transform):
        with pytest.raises(NotFittedError, match="not trained yet; fit it"):
            call(X_test)
    with pytest.raises(NotFittedError):
        model.save(tmp_path)


@pytest.mark.parametrize("family", FAMILIES)
def test_clone_and_get_params_round_trip(fitted, family):
    model = make_model(family, "multiclass", seed=7)
    copy = clone(model)
    assert copy.get_params() == model.get_params()
    assert copy.get_params()["seed"] == 7 and copy.get_params()["task"] == "multiclass"
    fresh = clone(fitted(family, "binary"))
    assert not hasattr(fresh, "final_estimator_")
    assert is_classifier(model) and is_regressor(make_model(family, "regression"))


def test_make_model_rejects_unknown_family_task_and_params():
    with pytest.raises(ValueError, match="lightgbm, logistic, tree, mlp"):
        make_model("svm", "binary")
    with pytest.raises(ValueError, match="Unknown task"):
        make_model("tree", "ranking")
    with pytest.raises(ValueError, match="Unknown parameter 'depth' for tree"):
        make_model("tree", "binary", depth=3)
    assert make_model("tree", "binary", max_depth=3).max_depth == 3
    # text models: lepton_core.text; image models: lepton_core.images; entities: lepton_core.ner
    ner = ["ner_crf", "ner_minilm", "ner_spacy"]
    assert family_names() == [*FAMILIES, "text", "ngram", "image", *ner]
    assert all(family_title(f) != f for f in family_names())  # every family has a title


@pytest.mark.parametrize(("family", "params"), [("lightgbm", {}), ("mlp", {"max_epochs": 30})])
def test_progress_reports_losses_and_true_stops_training(data, family, params):
    X, y, X_test, y_test = data["binary"]
    calls = []

    def progress(step, total, logs):
        calls.append((step, total, logs))
        return step == 3

    model = _model(family, "binary", **params)
    model.fit(X, y, X_valid=X_test, y_valid=y_test, progress=progress)
    assert [c[0] for c in calls] == [1, 2, 3]
    assert calls[0][1] == (100 if family == "lightgbm" else 30)
    assert all(set(logs) == {"train_loss", "valid_loss"} for _, _, logs in calls)
    assert [h["step"] for h in model.history_] == [1, 2, 3]
    assert model.history_[-1]["valid_loss"] == calls[-1][2]["valid_loss"]
    if family == "lightgbm":
        assert model.final_estimator_.num_trees() == 3
    assert model.predict(X_test).shape == (len(X_test),)


@pytest.mark.parametrize("family", ["logistic", "tree"])
def test_single_fit_families_report_one_step(data, family):
    X, y, X_test, y_test = data["binary"]
    calls = []
    _model(family, "binary").fit(
        X, y, X_valid=X_test, y_valid=y_test, progress=lambda *a: calls.append(a)
    )
    assert len(calls) == 1 and calls[0][:2] == (1, 1)
    assert all(0 < loss < 1 for loss in calls[0][2].values())
    assert set(calls[0][2]) == {"train_loss", "valid_loss"}


def test_lightgbm_early_stopping_keeps_the_best_trees(data):
    X, y, X_test, y_test = data["binary"]
    model = _model("lightgbm", "binary", n_estimators=400, learning_rate=0.3)
    model.set_params(early_stopping_rounds=5).fit(X, y, X_valid=X_test, y_valid=y_test)
    assert model.best_iteration_ is not None and model.best_iteration_ < 400
    assert model.final_estimator_.num_trees() == model.best_iteration_
    # Without a validation set a seeded 10% hold-out plays its part.
    held = _model("lightgbm", "binary", learning_rate=0.3, early_stopping_rounds=5).fit(X, y)
    assert held.best_iteration_ < 100 and "valid_loss" in held.history_[0]


def test_mlp_holds_out_validation_and_restores_best_epoch(fitted):
    model = fitted("mlp", "binary")
    losses = [h["valid_loss"] for h in model.history_]
    assert model.best_iteration_ == 1 + int(np.argmin(losses))
    assert len(losses) == 30 or model.best_iteration_ == len(losses) - 3  # patience 3
    assert not model.final_estimator_.training


def test_mlp_starts_from_the_class_prior():
    from lepton_core.models import _mlp_net as _mlp

    network = _mlp.build_network(4, 1)
    _mlp.init_output_bias(network, np.array([0] * 74 + [1] * 24), "binary")
    assert network[-1].bias.item() == pytest.approx(np.log(25 / 75))
    network = _mlp.build_network(4, 3)
    _mlp.init_output_bias(network, np.array([0, 0, 0, 2]), "multiclass")
    shares = softmax(network[-1].bias.detach().numpy())
    np.testing.assert_allclose(shares, [4 / 7, 1 / 7, 2 / 7], rtol=1e-6)


@pytest.mark.parametrize(("family", "task"), CASES)
def test_save_and_load_round_trip(fitted, data, family, task, tmp_path):
    model = fitted(family, task)
    X_test = data[task][2]
    files = model.save(tmp_path / "model")
    assert files[0] == "model.json"
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == sorted(files)
    loaded = load_model(tmp_path / "model")
    assert type(loaded) is type(model) and loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.predict(X_test), model.predict(X_test))
    np.testing.assert_array_equal(loaded.raw_output(X_test), model.raw_output(X_test))
    np.testing.assert_array_equal(loaded.transform(X_test), model.transform(X_test))
    for name in ("feature_groups_", "categories_", "history_", "best_iteration_"):
        assert getattr(loaded, name) == getattr(model, name)
    if task != "regression":
        assert loaded.classes_.dtype == model.classes_.dtype
        np.testing.assert_array_equal(loaded.classes_, model.classes_)


def test_load_model_refuses_folders_without_a_model(tmp_path):
    with pytest.raises(ModelError, match="no saved model"):
        load_model(tmp_path)


@pytest.mark.parametrize("family", FAMILIES)
def test_same_seed_gives_the_same_model(data, family):
    X, y, X_test, _ = data["multiclass"]
    params = {"max_epochs": 3} if family == "mlp" else {}
    first = _model(family, "multiclass", seed=1, **params).fit(X, y)
    second = _model(family, "multiclass", seed=1, **params).fit(X, y)
    np.testing.assert_array_equal(first.raw_output(X_test), second.raw_output(X_test))


def test_target_problems_raise_data_errors():
    X, y = _synthetic("multiclass", n=60)
    with pytest.raises(DataError, match="one class"):
        make_model("tree", "binary").fit(X, np.zeros(60))
    with pytest.raises(DataError, match="3 classes but the task is binary"):
        make_model("tree", "binary").fit(X, y)
    with pytest.raises(DataError, match="not numbers"):
        make_model("tree", "regression").fit(X, np.array(["a", "b"] * 30))
    with pytest.raises(DataError, match="missing values"):
        make_model("tree", "regression").fit(X, np.r_[np.nan, np.ones(59)])


def test_lightgbm_accepts_json_punctuation_in_column_names():
    X, y = _synthetic("regression", n=200)
    X = X.rename(columns={"x1": "income, [$]"})
    model = _model("lightgbm", "regression", n_estimators=5).fit(X, y)
    assert model.feature_names_in_[0] == "income, [$]"
    assert model.predict(X).shape == (200,)


def test_tree_rules_read_like_sentences(fitted):
    model = fitted("tree", "binary")
    assert isinstance(model, TreeModel)
    text = model.rules()
    assert "class: >50K" in text
    assert "is not " in text and " = " not in text  # one-hot splits rewritten
    assert "<= 0.50" not in text


@pytest.mark.slow
def test_lightgbm_defaults_match_plain_library_on_full_adult(adult_train, adult_test):
    model = _model("lightgbm", "binary").fit(adult_train.drop(columns="Y"), adult_train["Y"])
    X_test, y_test = adult_test.drop(columns="Y"), adult_test["Y"]
    accuracy = accuracy_score(y_test, model.predict(X_test))
    auc = roc_auc_score(y_test == ">50K", model.predict_proba(X_test)[:, 1])
    assert accuracy >= 0.865 and auc >= 0.92


def _records(schema, n: int, seed: int = 0) -> list[dict]:
    """Request-like records: each field's choices, numbers in range, gaps, unseen words."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        record = {}
        for field in schema.fields:
            roll = rng.random()
            if roll < 0.1:
                record[field.name] = None
            elif field.kind == "numeric":
                value = rng.uniform(field.minimum, field.maximum)
                record[field.name] = round(value) if field.integer and roll < 0.6 else value
            elif field.kind == "boolean":
                record[field.name] = bool(roll < 0.55)
            else:
                record[field.name] = "never seen" if roll < 0.15 else str(rng.choice(field.choices))
        out.append(record)
    return out


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_lightgbm_scores_plain_records_as_the_table_path_does(task):
    from lepton_core.data import InputSchema, infer_schema

    X, y = _synthetic(task if task == "multiclass" else "regression")
    if task == "binary":
        y = np.where(y > 50, "yes", "no")
    X["member"] = np.where(np.arange(len(X)) % 3 == 0, "true", "false")
    X.loc[::29, "member"] = None
    model = _model("lightgbm", task).fit(X, y)
    schema = InputSchema.from_frame(X, infer_schema(X), list(X.columns))
    assert {f.name: f.kind for f in schema.fields}["member"] == "boolean"
    records = _records(schema, 300)
    inputs = model.record_inputs(records, schema)  # no table built
    np.testing.assert_array_equal(inputs, model.transform(schema.to_frame(records)))
    labels, proba = model.predict_records(records, schema)
    table_labels, table_proba = model.predict_scored(schema.to_frame(records))
    np.testing.assert_array_equal(labels, table_labels)
    np.testing.assert_array_equal(proba, table_proba)
    # A value only the table path reads (a number sent as text) takes the table path.
    texty = [{**records[0], "x1": "0.5"}, records[1]]
    assert model.record_inputs(texty, schema) is None
    np.testing.assert_array_equal(
        model.predict_records(texty, schema)[1], model.predict_scored(schema.to_frame(texty))[1]
    )
    with pytest.raises(DataError, match="'x1' must be a number, not true/false"):
        model.predict_records([{**records[0], "x1": True}], schema)
    with pytest.raises(DataError, match="unknown field 'extra'"):
        model.predict_records([{**records[0], "extra": 1}], schema)
