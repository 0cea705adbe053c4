"""Tests for the SHAP figures in lepton_core.plots._explain."""

from __future__ import annotations

import itertools

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from lepton_core.explain import Explanation, explain, friendly_name, to_probability
from lepton_core.models import make_model
from lepton_core.plots import (
    beeswarm_figure,
    dependence_figure,
    importance_figure,
    waterfall_figure,
)


@pytest.fixture(scope="module")
def adult_expl(adult_small) -> Explanation:
    """LightGBM on the Adult sample, explained on 300 rows (some with missing values)."""
    X, y = adult_small.drop(columns="Y"), adult_small["Y"]
    model = make_model("lightgbm", "binary", num_threads=1).fit(X, y)
    return explain(model, X.iloc[:300])


@pytest.fixture
def toy() -> Explanation:
    """Two outputs, a number and a category, each with a missing value; known values."""
    values = [
        [[0.5, -0.5], [1.0, -1.0]],
        [[-0.2, 0.2], [0.1, -0.1]],
        [[0.0, 0.0], [-2.0, 2.0]],
    ]
    return Explanation(
        explainer="test",
        output_space="raw score",
        outputs=["cat", "dog"],
        feature_names=["weight", "colour"],
        values=values,
        base_values=[1.0, -1.0],
        data=[
            {"weight": 3.5, "colour": "red"},
            {"weight": None, "colour": "blue"},
            {"weight": 7.0, "colour": None},
        ],
        model_output=[[2.5, -2.5], [0.9, -0.9], [-1.0, 1.0]],
    )


def _is_white(fig: go.Figure) -> bool:
    return fig.layout.template == pio.templates["plotly_white"]


def test_importance_bars_put_the_top_feature_on_top(adult_expl):
    fig = importance_figure(adult_expl, top=5)
    (bars,) = fig.data
    ranked = adult_expl.global_importance(0)[:5]
    assert bars.orientation == "h" and list(bars.y) == [n for n, _ in ranked][::-1]
    np.testing.assert_allclose(bars.x, [s for _, s in ranked][::-1])
    assert _is_white(fig) and "Which columns matter most" in fig.layout.title.text
    assert "log-odds" in fig.layout.xaxis.title.text


def test_importance_can_sum_over_outputs(toy):
    fig = importance_figure(toy, output=None)
    assert dict(zip(fig.data[0].y, fig.data[0].x, strict=True)) == pytest.approx(
        dict(toy.global_importance())
    )
    assert "all 2 outputs" in fig.layout.title.text


def test_beeswarm_has_one_row_per_feature_with_every_point(adult_expl):
    fig = beeswarm_figure(adult_expl, top=6)
    top = [n for n, _ in adult_expl.global_importance(0)[:6]]
    by_feature: dict[str, list[float]] = {}
    for trace in fig.data:
        by_feature.setdefault(trace.name.removesuffix(" (missing)"), []).extend(trace.x)
    assert list(by_feature) == top
    for name, xs in by_feature.items():
        column = adult_expl.values_array(0)[:, adult_expl.feature_names.index(name)]
        np.testing.assert_allclose(sorted(xs), sorted(column))
    assert list(fig.layout.yaxis.ticktext) == top[::-1]
    first = fig.data[0]
    assert first.marker.showscale and 0 <= min(first.marker.color) <= max(first.marker.color) <= 1
    for trace in fig.data:
        position = top[::-1].index(trace.name.removesuffix(" (missing)"))
        assert np.all(np.abs(np.asarray(trace.y) - position) <= 0.4 + 1e-9)
    assert _is_white(fig) and fig.layout.title.text


def test_beeswarm_colours_numbers_and_categories_and_shows_missing(toy):
    fig = beeswarm_figure(toy, output="dog")
    traces = {t.name: t for t in fig.data}
    assert set(traces) == {"weight", "weight (missing)", "colour", "colour (missing)"}
    # Numbers low to high; categories by sorted code (blue=0, red=1).
    assert list(traces["weight"].marker.color) == [0.0, 1.0]
    assert list(traces["colour"].customdata) == ["red", "blue"]
    assert list(traces["colour"].marker.color) == [1.0, 0.0]
    assert list(traces["colour (missing)"].customdata) == ["missing"]
    assert list(traces["colour (missing)"].x) == [2.0]
    assert "dog" in fig.layout.title.text


def test_dependence_plots_numbers_and_categories(adult_expl, toy):
    fig = dependence_figure(adult_expl, "age")
    age = [row["age"] for row in adult_expl.data]
    np.testing.assert_allclose(fig.data[0].x, age)
    j = adult_expl.feature_names.index("age")
    np.testing.assert_allclose(fig.data[0].y, adult_expl.values_array()[:, j])
    assert fig.layout.xaxis.title.text == "age" and _is_white(fig)

    fig = dependence_figure(adult_expl, "workclass")
    assert fig.layout.xaxis.type == "category"
    assert "missing" in set(fig.data[0].x) and all(isinstance(v, str) for v in fig.data[0].x)

    fig = dependence_figure(toy, "weight", output=1)
    assert list(fig.data[0].x) == [3.5, 7.0] and list(fig.data[0].y) == [-0.5, 0.0]
    with pytest.raises(ValueError, match="Unknown feature 'height'"):
        dependence_figure(toy, "height")


def test_waterfall_walks_from_base_value_to_the_row_output(adult_expl):
    fig = waterfall_figure(adult_expl, 4, top=5)
    (trace,) = fig.data
    assert list(trace.measure) == ["absolute"] + ["relative"] * 6 + ["total"]
    assert trace.y[0] == "base value" and trace.y[-1] == "model output"
    assert trace.y[-2] == f"other {len(adult_expl.feature_names) - 5} features"
    np.testing.assert_allclose(sum(trace.x), adult_expl.model_output[4][0], atol=1e-9)
    name, _, contribution = adult_expl.row(4)[0]
    assert trace.y[1].startswith(f"{friendly_name(name)} = ") and trace.x[1] == contribution
    assert _is_white(fig) and "Row 4" in fig.layout.title.text


def test_waterfall_labels_values_and_skips_other_when_all_fit(toy):
    fig = waterfall_figure(toy, 2, output="dog")
    (trace,) = fig.data
    assert list(trace.y) == ["base value", "Colour = missing", "Weight = 7", "model output"]
    assert list(trace.x) == [-1.0, 2.0, 0.0, 0.0]
    assert "dog = 1" in fig.layout.title.text
    with pytest.raises(ValueError, match="out of range"):
        waterfall_figure(toy, 3)


def _bar_ends(trace: go.Waterfall) -> list[float]:
    """Both ends of every bar of a waterfall, as plotly draws them."""
    ends, running = [], 0.0
    for step, measure in zip(trace.x, trace.measure, strict=True):
        start = 0.0 if measure in ("absolute", "total") else running
        running = step if measure == "absolute" else running + step
        ends += [start, running]
    return ends


@pytest.mark.parametrize("row", [0, 4, 11])
@pytest.mark.parametrize("space", ["log-odds", "probability"])
def test_waterfall_axis_holds_zero_and_every_bar(adult_expl, row, space):
    expl = adult_expl if space == "log-odds" else to_probability(adult_expl)
    fig = waterfall_figure(expl, row, top=5)
    (trace,) = fig.data
    low, high = fig.layout.xaxis.range
    ends = _bar_ends(trace)
    assert low <= 0 <= high
    assert low <= min(ends) and max(ends) < high  # room for the outside labels too
    assert not trace.cliponaxis


def test_waterfall_in_probability_reads_in_percent_and_points(adult_expl):
    chances = to_probability(adult_expl)
    fig = waterfall_figure(chances, 4, top=5)
    (trace,) = fig.data
    assert trace.y[0] == "starting point" and trace.y[-1] == "this row's chance"
    assert trace.x[0] == pytest.approx(100 * chances.base_values[0])
    np.testing.assert_allclose(sum(trace.x), 100 * chances.model_output[4][0], atol=1e-9)
    assert trace.text[0].endswith("%") and trace.text[1].endswith(" pts")
    chance = 100 * chances.model_output[4][0]
    assert fig.layout.title.text == f"Row 4: chance of >50K = {chance:.0f}%"
    assert 0.5 <= chance < 99.5  # rounding shows no false certainty here
    assert fig.layout.xaxis.title.text == "chance of >50K (%)"
    assert "log-odds" not in fig.to_json()
    own = waterfall_figure(chances, 4, title="Why")
    assert own.layout.title.text == "Why"


def test_other_figures_in_probability_speak_of_the_chance(adult_expl):
    chances = to_probability(adult_expl)
    fig = importance_figure(chances, top=3)
    assert fig.layout.xaxis.title.text == (
        "average effect on the chance of >50K<br>(percentage points)"
    )
    ranked = chances.global_importance(0)[:3]
    np.testing.assert_allclose(fig.data[0].x, [100 * s for _, s in ranked][::-1])
    assert "percentage points" in beeswarm_figure(chances).layout.xaxis.title.text
    assert "percentage points" in dependence_figure(chances, "age").layout.yaxis.title.text


def test_a_bar_going_down_near_the_axis_start_has_room_for_its_label():
    from lepton_core.plots._explain import _ticks_from_zero, _waterfall_range

    steps, measures = [12.0, -11.5, 4.0, 0.0], ["absolute", "relative", "relative", "total"]
    low, high = _waterfall_range(steps, measures)
    assert low < 0 < 0.5 and high > 12  # the label of the bar ending at 0.5 fits left of it
    far = _waterfall_range([30.0, -2.0, 0.0], ["absolute", "relative", "total"])
    assert far[0] == 0  # no bar ends near 0: nothing to make room for
    ticks = _ticks_from_zero(high)
    assert ticks[0] == 0 and all(b > a for a, b in itertools.pairwise(ticks)) and ticks[-1] <= high
    assert 4 <= len(ticks) <= 8


def test_a_chance_axis_with_room_left_of_zero_shows_no_negative_ticks(adult_expl):
    chances = to_probability(adult_expl)
    for row in range(len(chances.values)):
        fig = waterfall_figure(chances, row, top=5)
        if fig.layout.xaxis.range[0] < 0:
            assert min(fig.layout.xaxis.tickvals) == 0
            return
    pytest.skip("no row of the sample ends a falling bar near 0")


def test_a_near_certain_chance_is_not_titled_0_or_100_percent():
    from lepton_core.plots._explain import _chance_text

    assert _chance_text(0.3) == "< 1%" and _chance_text(99.7) == "> 99%"
    assert _chance_text(0.0) == "= 0%" and _chance_text(42.4) == "= 42%"
