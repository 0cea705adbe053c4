"""Tests of lepton_core.data._samples: every sample loads offline and is ready to train on."""

from __future__ import annotations

import pandas as pd
import pytest

from lepton_core.core import DataError
from lepton_core.data import (
    Sample,
    check_sensitive,
    check_target,
    infer_schema,
    list_samples,
    load_sample,
    split_table,
)


def test_list_samples():
    assert list_samples() == ["adult", "sst2", "wine", "diabetes"]


@pytest.mark.parametrize(
    ("name", "shape", "target", "task"),
    [
        ("adult", (32561, 15), "Y", "binary"),
        ("wine", (178, 14), "cultivar", "multiclass"),
        ("diabetes", (442, 11), "progression", "regression"),
    ],
)
def test_every_sample_is_ready_to_train(name, shape, target, task):
    sample = load_sample(name)
    assert isinstance(sample, Sample)
    assert sample.name == name
    assert sample.title and sample.description and sample.source
    assert sample.train.shape == shape
    assert sample.target == target
    assert check_target(sample.train, target) == task
    check_sensitive(sample.train, sample.sensitive)
    schema = infer_schema(sample.train)
    assert len(schema.feature_columns(target)) == shape[1] - 1
    split = split_table(sample.train, target, task=task, test=sample.test)
    assert len(split.train) > len(split.test) > 0


def test_adult_sample_matches_the_shipped_files(adult_train, adult_test):
    sample = load_sample("adult")
    pd.testing.assert_frame_equal(sample.train, adult_train)
    pd.testing.assert_frame_equal(sample.test, adult_test)
    assert sample.sensitive == ["sex", "race", "age"]
    assert set(sample.test["Y"]) == {"<=50K", ">50K"}
    assert "CC BY 4.0" in sample.source


def test_wine_has_readable_classes_and_no_sensitive_column():
    sample = load_sample("wine")
    assert sample.test is None
    assert sample.sensitive == []
    assert sample.train["cultivar"].value_counts().to_dict() == {
        "class_1": 71,
        "class_0": 59,
        "class_2": 48,
    }


def test_diabetes_sex_is_a_two_group_label():
    sample = load_sample("diabetes")
    assert sample.sensitive == ["sex", "age"]
    assert sorted(sample.train["sex"].unique()) == ["1", "2"]
    assert infer_schema(sample.train).kind("sex") == "categorical"
    assert sample.train["progression"].dtype == "float64"


def test_samples_are_fresh_copies():
    first = load_sample("wine")
    first.train.loc[0, "alcohol"] = -1.0
    assert load_sample("wine").train.loc[0, "alcohol"] > 0


def test_unknown_sample_lists_the_valid_names():
    message = r"^There is no sample named 'iris'; pick one of 'adult', 'sst2', 'wine', 'diabetes'$"
    with pytest.raises(DataError, match=message):
        load_sample("iris")
