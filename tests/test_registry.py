"""Model families as plugins: the registry, what each family declares, and adding one."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import pytest

from lepton_core.core import ModelError, TrainingError
from lepton_core.models import (
    PipelineModel,
    Setting,
    family_class,
    family_names,
    family_title,
    make_model,
)
from lepton_core.models import _registry as registry
from lepton_core.runs import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]


class _LowTrial:
    """An Optuna trial stand-in that always suggests the low end (or the first choice)."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def suggest_float(self, name: str, low: float, high: float, **_: Any) -> float:
        self.names.append(name)
        return low

    def suggest_int(self, name: str, low: int, high: int, **_: Any) -> int:
        self.names.append(name)
        return low

    def suggest_categorical(self, name: str, choices: list[Any]) -> Any:
        self.names.append(name)
        return choices[0]


def test_the_registry_lists_families_by_what_they_read_and_whether_auto_searches_them():
    assert family_names(reads="table") == ["lightgbm", "logistic", "tree", "mlp"]
    assert "text" in family_names(reads="text")
    assert "mitigated" not in family_names()  # made from a run, never trained directly
    assert family_names(reads="table", searchable=True) == ["lightgbm", "logistic", "tree", "mlp"]
    assert family_title("tree") == "Decision tree (readable)"
    assert family_title("no-such-family") == "no-such-family"
    with pytest.raises(ValueError, match="Unknown model family 'svm'; use one of lightgbm"):
        family_class("svm")
    with pytest.raises(ValueError, match="Unknown model family 'mitigated'"):
        make_model("mitigated", "binary")


@pytest.mark.parametrize(
    "name", ["lightgbm", "logistic", "tree", "mlp", "text", "mitigated", "federated"]
)
def test_every_family_declares_what_it_is(name):
    cls = family_class(name)
    assert cls.family == name and cls.title and cls.reads in ("table", "text")
    params = set(inspect.signature(cls.__init__).parameters) - {"self"}
    for setting in cls.settings:
        assert isinstance(setting, Setting) and setting.name in params
        assert setting.when is None or setting.when[0] in {s.name for s in cls.settings}
    if cls.searchable:
        for task in ("binary", "regression"):
            trial = _LowTrial()
            space = cls.search_space(trial, task)
            assert set(space) <= params  # only the family's own parameters
            assert all(n.split("_")[0] == trial.names[0].split("_")[0] for n in trial.names)
            make_model(name, task, **space)  # a valid model


def test_what_a_family_lacks_is_refused_in_one_sentence():
    tree = make_model("tree", "binary")
    with pytest.raises(TrainingError, match="Differential privacy is available for"):
        tree.private(None)
    with pytest.raises(ModelError, match="int8 compression applies to"):
        tree.quantise("torch-int8")
    with pytest.raises(TrainingError, match="Auto cannot search"):
        family_class("mitigated").search_space(_LowTrial(), "binary")


def test_refit_parameters_are_the_familys_call():
    assert family_class("lightgbm").refit_params({"n_estimators": 5000}, 37) == {
        "n_estimators": 37,
        "early_stopping_rounds": None,
    }
    assert family_class("lightgbm").refit_params({}, None) is None
    assert family_class("mlp").refit_params({}, 4) is None
    assert family_class("tree").refit_params({"max_depth": 3}, None) == {"max_depth": 3}


def test_no_code_outside_a_family_switches_on_a_family_name():
    """The registry names families; everything else asks the family's class."""
    names = "|".join(re.escape(n) for n in [*family_names(), "mitigated", "federated"])
    switch = re.compile(rf"""family\w*\s*(==|!=|in|not in)\s*[(\[]?\s*["']({names})["']""")
    allowed = {ROOT / "lepton_core/models/_registry.py"}
    hits = [
        f"{path.relative_to(ROOT)}:{i}: {line.strip()}"
        for folder in ("lepton_core", "app_pages")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path not in allowed
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if switch.search(line)
    ]
    assert not hits, "\n".join(hits)


# -- adding a family: one module and one registry line ---------------------------------


class KNNModel(PipelineModel):
    """A family that exists only in this test: k nearest neighbours on one-hot inputs."""

    family = "knn"
    title = "Nearest neighbours"
    settings = (Setting("n_neighbors", "Neighbours", 15, 1, 200),)
    margin = "probability"

    def __init__(
        self, task: str = "binary", seed: int = 0, n_neighbors: int = 15, max_categories: int = 20
    ) -> None:
        self.task = task
        self.seed = seed
        self.n_neighbors = n_neighbors
        self.max_categories = max_categories

    def _make_estimator(self) -> Any:
        from sklearn.neighbors import KNeighborsClassifier

        return KNeighborsClassifier(self.n_neighbors, algorithm="brute")

    def _proba(self, X):
        return self.final_estimator_.predict_proba(self._transform(X))

    def _raw(self, X):
        proba = self._proba(X)
        return proba[:, 1] if self.task == "binary" else proba


def test_a_new_family_is_one_class_and_one_registry_line(monkeypatch, workspace, adult_csv):
    monkeypatch.setitem(registry._FAMILIES, "knn", f"{__name__}:KNNModel")
    assert family_names(reads="table")[-1] == "knn" and family_title("knn") == "Nearest neighbours"
    model = make_model("knn", "binary", n_neighbors=5)
    assert isinstance(model, KNNModel) and model.n_neighbors == 5
    result = train(
        TrainConfig(
            data=str(adult_csv),
            target="Y",
            sensitive=["sex"],
            model="knn",
            params={"n_neighbors": 25},
            explain_rows=5,
        ),
        workspace=workspace,
    )
    # Trained, evaluated, fairness-checked and explained like any family, with no other change.
    assert result.family == "knn" and result.evaluation.metrics["accuracy"] > 0.7
    assert result.fairness[0].attribute == "sex"
    assert workspace.get_run(result.run_id).family == "knn"
    loaded = workspace.load_model(result.model_name, result.model_version)
    assert isinstance(loaded, KNNModel) and loaded.n_neighbors == 25
