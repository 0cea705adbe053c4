"""Progress figures: every fraction a page draws is in [0, 1], every ETA is a number ≥ 0."""

from __future__ import annotations

import math
import time

import pytest

from lepton_core.jobs import AutoProgress, JobProgress, clamp_fraction, clean_seconds
from lepton_core.jobs._progress import progress_for


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (-9.5e-07, 0.0),  # the value st.progress refused during an Auto search
        (-3.0, 0.0),
        (0.25, 0.25),
        (1.0000001, 1.0),
        (7.0, 1.0),
        (math.nan, 0.0),
        (math.inf, 1.0),
        (-math.inf, 0.0),
        (None, 0.0),
        ("abc", 0.0),
    ],
)
def test_clamp_fraction_keeps_every_value_in_0_1(value, expected):
    assert clamp_fraction(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(-2.0, 0.0), (12.5, 12.5), (math.nan, None), (math.inf, None), (None, None)],
)
def test_clean_seconds_is_never_negative_or_not_a_number(value, expected):
    assert clean_seconds(value) == expected


def test_search_before_its_first_trial_reports_is_at_zero_not_below():
    """The crash: the search phase began, but no trial had reported its start or budget."""
    progress = AutoProgress(phase="searching")
    for _ in range(1000):  # the old page read the clock twice and got −1e-6 now and then
        assert progress.fraction() == 0.0
    assert progress.seconds_left() is None


@pytest.mark.parametrize(
    ("started_ago", "fraction", "left"),
    [(-5.0, 0.0, 10.0), (2.5, 0.25, 7.5), (10.0, 1.0, 0.0), (40.0, 1.0, 0.0)],
)
def test_search_fraction_and_time_left_stay_in_range(started_ago, fraction, left):
    now = time.time()
    # A start in the future is a clock that moved back; past the budget is the winner's wait.
    progress = AutoProgress(phase="searching", budget_s=10.0, search_started=now - started_ago)
    assert progress.fraction(now) == pytest.approx(fraction)
    assert progress.seconds_left(now) == pytest.approx(left)


@pytest.mark.parametrize("budget", [0.0, -1.0, math.nan, None])
def test_search_with_a_broken_budget_is_at_zero(budget):
    progress = AutoProgress(phase="searching", budget_s=budget, search_started=time.time())
    assert progress.fraction() == 0.0


@pytest.mark.parametrize(
    ("step", "total", "fraction"),
    [(5, 10, 0.5), (-3, 10, 0.0), (15, 10, 1.0), (3, None, 0.0), (3, 0, 0.0), (3, -4, 0.0)],
)
def test_training_fraction_stays_in_range(step, total, fraction):
    assert JobProgress(phase="training", step=step, total_steps=total).fraction() == fraction
    # The winner of an Auto search trains the same way.
    auto = AutoProgress(phase="training", step=step, total_steps=total)
    assert auto.fraction() == fraction


def test_values_read_back_from_the_jobs_table_are_checked():
    progress = progress_for(
        "train", {"phase": "training", "step": -2, "total_steps": 0, "eta_seconds": -7.0}
    )
    assert (progress.step, progress.total_steps, progress.eta_seconds) == (0, None, 0.0)
    assert progress.seconds_left() == 0.0
    assert JobProgress(eta_seconds=math.nan).seconds_left() is None
    assert JobProgress(phase="done").fraction() == 1.0
    measured = progress_for("train", {"phase": "saving", "figures": {"accuracy": 0.8, "x": "y"}})
    assert measured.figures == {"accuracy": 0.8, "x": None}
    assert progress_for("train", {"figures": [1, 2]}).figures == {}
    # The JSON round trip the worker and page make keeps the checked values.
    again = progress_for("auto", AutoProgress(phase="searching", budget_s=5.0).to_dict())
    assert isinstance(again, AutoProgress) and again.fraction() == 0.0
