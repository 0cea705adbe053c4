"""Monitoring's analysis: drift found when it is there and not when it is not; accuracy and
fairness per window equal to what evaluation computes on the same rows; alerts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lepton_core.core import DataError
from lepton_core.evaluation import fairness_report
from lepton_core.monitoring import (
    CONFIDENCE,
    LABEL,
    PREDICTION,
    TIME,
    Limits,
    check_alerts,
    data_drift,
    fairness_trend,
    performance_trend,
    psi,
)

FEATURES = ["age", "workclass", "education", "sex", "race", "hours-per-week", "capital-gain"]


@pytest.fixture(scope="module")
def halves(adult_train):
    """Two random halves of Adult: the same distribution twice."""
    data = adult_train[FEATURES].sample(12_000, random_state=1).reset_index(drop=True)
    return data.iloc[:6000].reset_index(drop=True), data.iloc[6000:].reset_index(drop=True)


def test_psi_is_the_textbook_formula():
    r, c = [0.5, 0.5], [0.25, 0.75]
    expected = (0.25 - 0.5) * np.log(0.25 / 0.5) + (0.75 - 0.5) * np.log(0.75 / 0.5)
    assert psi(r, c) == pytest.approx(expected)
    assert psi(r, r) == 0.0


def test_a_resample_of_the_training_data_has_not_drifted(halves):
    reference, current = halves
    report = data_drift(reference, current)
    assert report.drifted == [] and report.moderate == []
    assert {f.column for f in report.features} == set(FEATURES)
    assert "No column changed markedly" in report.summary()


def test_shifted_ages_and_another_mix_of_sexes_are_found_first(halves):
    reference, current = halves
    shifted = current.copy()
    shifted["age"] = shifted["age"] + 15
    women = shifted.index[shifted["sex"].str.strip() == "Female"]
    shifted = shifted.drop(women[: int(len(women) * 0.8)])  # far fewer women
    report = data_drift(reference, shifted)
    assert set(report.drifted) == {"age", "sex"}
    age = report.feature("age")
    assert age.kind == "number" and age.test == "ks" and age.p_value < 1e-6
    sex = report.feature("sex")
    assert sex.kind == "category" and sex.test == "chi2" and sex.p_value < 1e-6
    assert sum(age.reference_share) == pytest.approx(1) and len(age.bins) == len(age.current_share)
    assert "age" in report.summary()


def test_values_never_seen_in_training_and_empty_columns_count_as_drift(halves):
    reference, current = halves
    changed = current.copy()
    changed["workclass"] = "Gig economy"  # a value training never saw
    changed["hours-per-week"] = np.nan  # the field stopped arriving
    report = data_drift(reference, changed)
    assert {"workclass", "hours-per-week"} <= set(report.drifted)
    workclass = report.feature("workclass")
    assert workclass.current_share[workclass.bins.index("other")] == 1.0
    hours = report.feature("hours-per-week")
    assert hours.current_share[hours.bins.index("missing")] == 1.0


def test_a_change_in_a_mostly_zero_column_is_seen(halves):
    reference, current = halves
    richer = current.assign(**{"capital-gain": current["capital-gain"] * 10})
    assert data_drift(reference, current).feature("capital-gain").level == "none"
    assert data_drift(reference, richer).feature("capital-gain").level != "none"


def test_numbers_sent_as_text_compare_as_numbers(halves):
    reference, current = halves
    as_text = current.assign(age=current["age"].astype(str))
    assert data_drift(reference, as_text).feature("age").level == "none"


def test_big_inputs_are_sampled_and_bad_ones_refused(halves):
    reference, current = halves
    report = data_drift(reference, current, max_rows=1000)
    assert report.sampled and report.reference_rows == 1000 and report.current_rows == 1000
    with pytest.raises(DataError, match="no column 'age'"):
        data_drift(reference, current.drop(columns="age"), columns=["age"])
    with pytest.raises(DataError, match="no records to compare"):
        data_drift(reference, current.iloc[:0])


def test_free_text_is_compared_by_its_length_not_as_categories():
    # Training texts repeat (short reviews); new ones are never seen before, yet alike.
    rng = np.random.default_rng(0)
    words = ["good", "bad", "slow", "fast", "送餐很快", "味道不错", "fine", "cold"]

    def texts(n: int, longest: int) -> pd.DataFrame:
        sizes = rng.integers(1, longest, n)
        return pd.DataFrame({"review": [" ".join(rng.choice(words, k)) for k in sizes]})

    reference, alike, longer = texts(3000, 4), texts(800, 4), texts(800, 12)
    alike["review"] = alike["review"].str.upper()  # written otherwise, as long as before
    as_categories = data_drift(reference, alike).feature("review")
    assert as_categories.kind == "category" and as_categories.level == "major"  # a false alarm
    same = data_drift(reference, alike, texts=["review"]).feature("review")
    assert same.kind == "text" and same.level != "major"
    moved = data_drift(reference, longer, texts=["review"]).feature("review")
    assert moved.level == "major" and moved.psi > same.psi


@pytest.fixture(scope="module")
def log(adult_test):
    """A week of logged predictions with labels for the first five days; day 4 on, the
    model starts refusing women (so fairness and accuracy both move)."""
    rng = np.random.default_rng(0)
    rows = adult_test.sample(3500, random_state=2).reset_index(drop=True)
    label = rows["Y"].astype(str).str.strip().str.rstrip(".")
    prediction = np.where(
        rng.random(len(rows)) < 0.85, label, np.where(label == ">50K", "<=50K", ">50K")
    )
    day = np.repeat(np.arange(7), len(rows) // 7)
    late_women = (day >= 4) & (rows["sex"].str.strip() == "Female").to_numpy()
    prediction = np.where(late_women, "<=50K", prediction)
    return pd.DataFrame(
        {
            TIME: pd.Timestamp("2026-11-01", tz="UTC")
            + pd.to_timedelta(day, unit="D")
            + pd.to_timedelta(rng.integers(0, 86_000, len(rows)), unit="s"),
            PREDICTION: prediction,
            CONFIDENCE: rng.uniform(0.6, 1.0, len(rows)),
            LABEL: np.where(day < 5, label, None),
            "sex": rows["sex"].str.strip(),
            "age": rows["age"],
        }
    )


def test_accuracy_per_window_is_measured_on_the_labelled_rows_only(log):
    trend = performance_trend(log, task="binary", every="1D", baseline={"accuracy": 0.85})
    assert len(trend.windows) == 7
    for window, (_, rows) in zip(trend.windows, log.groupby(log[TIME].dt.floor("D")), strict=True):
        assert window.rows == len(rows)
        labelled = rows[rows[LABEL].notna()]
        assert window.labelled == len(labelled)
        assert window.estimated_accuracy == pytest.approx(rows[CONFIDENCE].mean())
        if len(labelled):
            expected = (labelled[LABEL] == labelled[PREDICTION]).mean()
            assert window.figures["accuracy"] == pytest.approx(expected)
            low, high = window.intervals["accuracy"]
            assert low <= expected <= high
        else:
            assert window.figures == {}


def test_fairness_per_window_equals_evaluation_on_the_same_rows(log):
    trend = fairness_trend(log, sensitive="sex", positive_label=">50K", every="1D")
    windows = list(log.groupby(log[TIME].dt.floor("D")))
    for window, (_, rows) in zip(trend.windows, windows, strict=True):
        expected = fairness_report(
            rows[PREDICTION].to_numpy(), rows[PREDICTION].to_numpy(),
            sensitive_features=rows["sex"].reset_index(drop=True), task="binary",
            positive_label=">50K",
        )  # fmt: skip
        assert window.demographic_parity_difference == pytest.approx(
            expected.demographic_parity_difference
        )
        for group, row in expected.by_group.items():
            assert window.selection_rate[group] == pytest.approx(row["selection_rate"])
        labelled = rows[rows[LABEL].notna()]
        if len(labelled):
            truth = fairness_report(
                labelled[LABEL].to_numpy(), labelled[PREDICTION].to_numpy(),
                sensitive_features=labelled["sex"].reset_index(drop=True), task="binary",
                positive_label=">50K",
            )  # fmt: skip
            assert window.equalized_odds_difference == pytest.approx(
                truth.equalized_odds_difference
            )
        else:
            assert window.equalized_odds_difference is None
    # The model stopped selecting women on day 4: the gap widens from then on.
    gaps = [w.demographic_parity_difference for w in trend.windows]
    assert min(gaps[4:]) > max(gaps[:4])


def test_age_bands_mean_the_same_in_every_window(log):
    trend = fairness_trend(log, sensitive="age", positive_label=">50K", every="1D")
    bands = {tuple(sorted(w.counts)) for w in trend.windows}
    assert len(bands) == 1 and len(next(iter(bands))) > 2


def test_alerts_fire_on_what_broke_and_only_that(log, adult_train):
    performance = performance_trend(log, task="binary", every="1D", baseline={"accuracy": 0.95})
    fairness = fairness_trend(log, sensitive="sex", positive_label=">50K", every="1D")
    reference = adult_train[["age", "sex"]].assign(sex=lambda d: d["sex"].str.strip())
    drift = data_drift(reference, log[["age", "sex"]])
    alerts = check_alerts(drift=drift, performance=performance, fairness=[fairness])
    kinds = {(a.kind, a.subject) for a in alerts}
    assert ("accuracy", "accuracy") in kinds  # 0.85 now against 0.95 in training
    assert ("parity", "sex") in kinds
    assert not any(kind == "drift" for kind, _ in kinds)  # the inputs did not move
    calm = check_alerts(
        performance=performance_trend(log, task="binary", baseline={"accuracy": 0.86}),
        limits=Limits(accuracy_drop=0.05),
    )
    assert calm == []
    assert all(a.summary().endswith(").") for a in alerts)


def test_a_log_without_times_or_with_a_bad_window_is_refused(log):
    with pytest.raises(DataError, match="needs the columns 'time' and 'prediction'"):
        performance_trend(log.drop(columns=TIME), task="binary")
    with pytest.raises(DataError, match="is not a length of time"):
        performance_trend(log, task="binary", every="fortnightly")


def test_the_cli_compares_a_file_with_the_training_data(adult_run, adult_test, tmp_path, capsys):
    from lepton_core.cli import CHECK_FAILED, main

    model = f"{adult_run.model_name}:{adult_run.model_version}"
    same = tmp_path / "same.csv"
    adult_test.sample(3000, random_state=0).to_csv(same, index=False)
    assert main(["monitor", "--model", model, "--data", str(same), "--check"]) == 0
    assert "No column changed markedly" in capsys.readouterr().out
    older = tmp_path / "older.csv"
    adult_test.sample(3000, random_state=0).assign(age=lambda d: d["age"] + 20).to_csv(older)
    assert main(["monitor", "--model", model, "--data", str(older), "--check"]) == CHECK_FAILED
    out = capsys.readouterr().out
    assert "columns changed markedly since training: age" in out
    assert main(["monitor", "--model", model, "--data", str(older)]) == 0  # no --check
