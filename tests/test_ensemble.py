"""Model fusion: greedy ensemble selection, the ensemble family, Auto's ensemble, fusion."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import lepton_core.runs._fusion as fusion_module
from lepton_core.core import CallbackList, ModelError
from lepton_core.explain import explain
from lepton_core.models import (
    EnsembleModel,
    ensemble_scorer,
    greedy_weights,
    load_model,
    make_model,
)
from lepton_core.runs import (
    AutoConfig,
    TrainConfig,
    export_mlflow_zip,
    fuse_versions,
    load_bundle,
    model_card,
    train,
    train_ensemble,
)
from lepton_core.runs._search import Board, TrialData


def test_greedy_selection_picks_the_best_model_when_the_others_are_useless():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    good = np.clip(0.7 * y + 0.3 * rng.random(400) - 0.1, 0, 1)
    useless = [rng.random(400) for _ in range(4)]
    weights = greedy_weights(
        [*useless[:2], good, *useless[2:]], y, ensemble_scorer("binary", "roc_auc")
    )
    assert weights.tolist() == [0, 0, 1, 0, 0]


def test_greedy_weights_sum_to_one_and_mix_complementary_models():
    rng = np.random.default_rng(1)
    y = rng.normal(size=500)
    a, b = y + rng.normal(size=500), y + rng.normal(size=500)  # independent errors
    useless = rng.normal(size=500) + 100.0  # far off: any share of it hurts
    weights = greedy_weights([a, b, useless], y, ensemble_scorer("regression", "r2"))
    assert weights.sum() == pytest.approx(1.0)
    assert weights[0] > 0 and weights[1] > 0 and weights[2] == 0


@pytest.fixture(scope="module")
def parts(adult_small):
    X, y = adult_small.drop(columns=["Y"]), adult_small["Y"].to_numpy()
    return X.iloc[:1200], y[:1200], X.iloc[1200:1600], y[1200:1600], X.iloc[1600:1650]


@pytest.fixture(scope="module")
def members(parts):
    X, y, *_ = parts
    return [
        make_model("lightgbm", "binary", n_estimators=30).fit(X, y),
        make_model("logistic", "binary").fit(X, y),
        make_model("tree", "binary", max_depth=4).fit(X, y),
    ]


def test_ensemble_averages_probabilities_and_explains_additively(parts, members):
    _, _, X_valid, y_valid, rows = parts
    model = EnsembleModel().fit(X_valid, y_valid, members=members)
    assert sum(model.weights_) == pytest.approx(1.0) and len(model.members_) >= 1
    expected = sum(w * m.predict_proba(rows) for m, w in model.members())
    np.testing.assert_allclose(model.predict_proba(rows), expected)
    expl = explain(model, rows, background=X_valid.head(30))
    # SHAP of the weighted sum: the weighted sum of the members' SHAP values, in chances.
    assert expl.output_space == "probability"
    assert expl.additivity_error() < 1e-9
    np.testing.assert_allclose(np.asarray(expl.model_output)[:, 0], model.predict_proba(rows)[:, 1])
    assert expl.feature_names == list(rows.columns)


def test_ensemble_saves_without_pickle_and_loads_back(tmp_path, parts, members):
    _, _, _, _, rows = parts
    model = EnsembleModel().fit(members=members, weights=[0.5, 0.3, 0.2])
    files = model.save(tmp_path / "e")
    assert "member_0/booster.txt" in files and not any(f.endswith(".pkl") for f in files)
    again = load_model(tmp_path / "e")
    assert isinstance(again, EnsembleModel) and again.weights_ == pytest.approx([0.5, 0.3, 0.2])
    np.testing.assert_allclose(again.predict_proba(rows), model.predict_proba(rows))
    assert (again.predict(rows) == model.predict(rows)).all()
    assert again.requirements == model.requirements


def test_bad_members_get_one_clear_sentence(parts, members):
    X, y, X_valid, y_valid, _ = parts
    with pytest.raises(ModelError, match="two or more models"):
        EnsembleModel().fit(X_valid, y_valid, members=members[:1])
    other = make_model("logistic", "binary").fit(X.drop(columns=["age"]), y)
    with pytest.raises(ModelError, match="read different columns"):
        EnsembleModel().fit(X_valid, y_valid, members=[members[0], other])
    with pytest.raises(ModelError, match="one weight per model"):
        EnsembleModel().fit(members=members, weights=[1.0, -1.0, 0.0])


def _board(parts, members, limit):
    """A leaderboard of the members as Auto's trials, with their validation outputs."""
    X, y, X_valid, y_valid, _ = parts
    groups = X_valid[["sex"]].reset_index(drop=True)
    data = TrialData(
        "binary", "roc_auc", "demographic_parity_difference", 0, X, y, X_valid, y_valid, groups
    )
    config = AutoConfig(base=TrainConfig(data="unused"), fairness_limit=limit)
    board = Board(config, "roc_auc", CallbackList(None), None)
    for number, model in enumerate(members):
        pred, proba = model.predict_scored(X_valid)
        outcome = fusion_module.validation_figures(data, pred, proba, list(model.classes_))
        outcome.update(rounds=None, seconds=0.0, output=proba[:, 1])
        board.add(number, len(members), {"family": model.family, "params": {}}, outcome)
    return config, data, board


def test_auto_ensemble_is_chosen_only_within_the_fairness_limit(parts, members, monkeypatch):
    config, data, board = _board(parts, members, None)
    chosen = fusion_module.auto_ensemble(config, data, board, "roc_auc")
    assert chosen is not None and len(chosen["members"]) >= 2
    assert chosen["score"] > board.ranked[0]["score"]
    assert sum(m["weight"] for m in chosen["members"]) == pytest.approx(1.0)
    # A gain within noise does not pay for refitting and explaining every member.
    gain = (chosen["score"] - board.ranked[0]["score"]) / board.ranked[0]["score"]
    monkeypatch.setattr(fusion_module, "MIN_GAIN", gain * 1.01)
    assert fusion_module.auto_ensemble(config, data, board, "roc_auc") is None
    monkeypatch.undo()
    real = fusion_module.validation_figures
    for gap, kept in ((0.5, False), (0.01, True)):
        config, data, board = _board(parts, members, 1.0)  # every trial within the limit
        config.fairness_limit = 0.1

        def figures(*args, gap=gap):
            return {**real(*args), "gap": gap}

        monkeypatch.setattr(fusion_module, "validation_figures", figures)
        assert (fusion_module.auto_ensemble(config, data, board, "roc_auc") is not None) == kept


def test_fusing_registered_versions_registers_one_ensemble(workspace, adult_small, tmp_path):
    path = tmp_path / "fuse.csv"
    adult_small.iloc[:1500].to_csv(path, index=False)
    a = train(
        TrainConfig(
            data=str(path), target="Y", sensitive=["sex"], model_name="fuse", explain_rows=20
        ),
        workspace=workspace,
    )
    data = f"dataset:{a.dataset_id}"
    b = train(
        TrainConfig(data=data, model="logistic", model_name="fuse", explain_rows=20),
        workspace=workspace,
    )
    with pytest.raises(ModelError, match="two or more"):
        fuse_versions(workspace, ["fuse:1"])
    result = fuse_versions(workspace, ["fuse:1", "fuse:2"])
    assert result.model_version == b.model_version + 1
    weights = [m["weight"] for m in result.members]
    assert sum(weights) == pytest.approx(1.0, abs=1e-3) and pd.notna(result.valid_score)
    model = workspace.load_model("fuse", result.model_version)
    assert isinstance(model, EnsembleModel)
    assert workspace.get_run(result.run_id).family == "ensemble"
    card = model_card(workspace, "fuse", result.model_version).to_markdown()
    used = [f"{m['model']} × {m['weight']:.3f}" for m in result.members if m["weight"] > 0]
    assert f"A weighted average of {len(used)} models: " in card
    assert all(part in card for part in used)
    # Served and exported like any model.
    df, _ = workspace.load_dataset(a.dataset_id)
    records = [{k: v for k, v in r.items() if k != "Y"} for r in df.head(2).to_dict("records")]
    predictions = load_bundle(workspace, "fuse", result.model_version).predict(records)
    assert sum(predictions[0].probabilities.values()) == pytest.approx(1.0)
    assert predictions[0].explanation.values
    assert export_mlflow_zip(workspace, "fuse", result.model_version, tmp_path).stat().st_size
    # Auto's path: members trained from their specs, as the run's config records them.
    members = [
        {"family": "logistic", "params": {}, "weight": 0.4},
        {"family": "lightgbm", "params": {"n_estimators": 20}, "weight": 0.6},
    ]
    config = TrainConfig(data=data, model_name="fuse", explain_rows=10)
    run = train_ensemble(config, members, workspace=workspace)
    assert run.family == "ensemble" and run.config.params["members"] == members
    again = workspace.load_model("fuse", run.model_version)
    assert [m.family for m in again.members_] == ["logistic", "lightgbm"]
    assert again.weights_ == pytest.approx([0.4, 0.6])


def test_cli_fuse_says_what_to_pick(capsys):
    from lepton_core.cli import main

    assert main(["fuse", "--models", "fuse:1"]) == 2
    assert "Pick two or more model versions to fuse." in capsys.readouterr().err
