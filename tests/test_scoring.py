"""Scoring for the demo page, input checks, publishing and tamper protection."""

from __future__ import annotations

from pathlib import Path

import pytest

from lepton_core.core import DataError, ModelError
from lepton_core.runs import load_bundle


@pytest.fixture(scope="module")
def bundle(adult_run, workspace):
    return load_bundle(workspace, adult_run.model_name, adult_run.model_version)


def test_predict_one_record_with_explanation(bundle):
    record = bundle.input_schema.defaults()
    assert set(record) >= {"age", "sex", "education"}
    [prediction] = bundle.predict([record])
    assert prediction.label in {"<=50K", ">50K"}
    assert sum(prediction.probabilities.values()) == pytest.approx(1)
    assert prediction.explanation.additivity_error() < 1e-6


def test_input_schema_ranges_come_from_training(bundle, adult_train):
    age = next(f for f in bundle.input_schema.fields if f.name == "age")
    assert age.integer and age.minimum == adult_train["age"].min()
    sex = next(f for f in bundle.input_schema.fields if f.name == "sex")
    assert sex.choices == ["Female", "Male"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.pop("age"), "no field 'age'"),
        (lambda r: r.update(salary=1), "unknown field 'salary'"),
        (lambda r: r.update(age="old"), "'age' must be a number"),
    ],
)
def test_bad_records_name_the_field(bundle, change, message):
    record = bundle.input_schema.defaults()
    change(record)
    with pytest.raises(DataError, match=message):
        bundle.predict([record])


def test_unseen_category_and_missing_values_still_predict(bundle):
    record = bundle.input_schema.defaults() | {"workclass": "Astronaut", "hours-per-week": None}
    assert bundle.predict([record])[0].label in {"<=50K", ">50K"}


def test_unpublished_model_is_not_served(adult_run, workspace):
    name, version = adult_run.model_name, adult_run.model_version
    workspace.set_published(name, version, False)
    with pytest.raises(ModelError, match="not published"):
        load_bundle(workspace, name, version, require_published=True)
    workspace.set_published(name, version, True)
    assert load_bundle(workspace, name, version, require_published=True).version.published


def test_tampered_model_files_are_refused(adult_csv, workspace):
    from lepton_core.runs import TrainConfig, train

    result = train(
        TrainConfig(
            data=str(adult_csv),
            target="Y",
            model="logistic",
            model_name="tamper-me",
            explain_rows=20,
        ),
        workspace=workspace,
    )
    import mlflow.artifacts

    uri = workspace.model_location(result.model_name, result.model_version)
    folder = Path(mlflow.artifacts.download_artifacts(uri, tracking_uri=workspace.tracking_uri))
    folder = folder / "artifacts" / "lepton_model"
    victim = sorted(p for p in folder.iterdir() if p.is_file())[0]
    victim.write_bytes(victim.read_bytes() + b"\x00tampered")
    workspace._load_model_cached.cache_clear()
    with pytest.raises(ModelError, match="not the ones Lepton saved"):
        workspace.load_model(result.model_name, result.model_version)


@pytest.mark.parametrize("name", ["../etc", "..", "/abs/path", "a/../../b", "%2e%2e", "C:\\x"])
def test_model_names_never_become_paths(workspace, name):
    with pytest.raises(ModelError):
        workspace.load_model(name)
