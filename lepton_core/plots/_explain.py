"""Plotly figures of SHAP explanations, drawn from an :class:`Explanation` alone.

``output`` picks one explained output (an index or a name from
``expl.outputs``); asking for an unknown output, feature or row raises
``ValueError``. An explanation in probability (see
:func:`lepton_core.explain.to_probability`) is drawn in percent and percentage
points, with words for a reader; other spaces keep SHAP's terms. Titles, axes and labels
are written in ``language`` (``"en"`` or ``"zh"``) from the engine's catalogue.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

from lepton_core.core import Message
from lepton_core.explain import Explanation, friendly_name

__all__ = ["beeswarm_figure", "dependence_figure", "importance_figure", "waterfall_figure"]

TEMPLATE = "plotly_white"
_COLORSCALE = "Bluered"
_MISSING_COLOR = "#b0b0b0"
_SWARM_BINS = 100


def _layout(fig: go.Figure, title: str, x: str, y: str, **extra: Any) -> go.Figure:
    fig.update_layout(template=TEMPLATE, title=title, xaxis_title=x, yaxis_title=y, **extra)
    return fig


def _output_label(expl: Explanation, output: int | str | None, language: str = "en") -> str:
    if output is None:
        if len(expl.outputs) > 1:
            return Message("plot.all_outputs", count=len(expl.outputs)).render(language)
        return expl.outputs[0]
    return expl.outputs[expl.output_index(output)]


def _in_points(expl: Explanation) -> bool:
    return expl.output_space == "probability"


def _scale(expl: Explanation) -> float:
    """Probabilities are drawn in percent (contributions in percentage points)."""
    return 100.0 if _in_points(expl) else 1.0


def _shap_axis(expl: Explanation, output: int | str | None, language: str) -> str:
    if _in_points(expl):
        label = _output_label(expl, output, language)
        return Message("plot.shap.effect_axis", label=label).render(language)
    return Message("plot.shap.value_axis", space=expl.output_space).render(language)


def _format(value: Any, language: str = "en") -> str:
    if value is None:
        return Message("explain.missing").render(language)
    if isinstance(value, float):
        # Whole numbers (ages, amounts) read better in full than as 1.266e+05.
        return f"{value:.0f}" if value.is_integer() and abs(value) < 1e12 else f"{value:.4g}"
    return str(value)


def _column(expl: Explanation, feature: str) -> list[Any]:
    if feature not in expl.feature_names:
        raise ValueError(f"Unknown feature {feature!r}; choose one of {expl.feature_names}.")
    return [record[feature] for record in expl.data]


def _is_categorical(values: list[Any]) -> bool:
    return any(isinstance(v, str) for v in values)


def _colour_scale(values: list[Any]) -> np.ndarray:
    """Feature values mapped to [0, 1] for colouring; NaN where missing.

    Numbers are clipped to their 5th-95th percentiles so one outlier does not wash
    out the rest; categories are coloured by their (sorted) code.
    """
    if _is_categorical(values):
        categories = sorted({str(v) for v in values if v is not None})
        codes = {c: i for i, c in enumerate(categories)}
        raw = np.array([np.nan if v is None else codes[str(v)] for v in values], dtype=float)
        lo, hi = 0.0, float(max(len(categories) - 1, 1))
    else:
        raw = np.array([np.nan if v is None else v for v in values], dtype=float)
        present = raw[~np.isnan(raw)]
        if present.size == 0:
            return raw
        lo, hi = np.percentile(present, [5, 95])
        if hi <= lo:
            lo, hi = present.min(), present.max()
    if hi <= lo:
        return np.where(np.isnan(raw), np.nan, 0.5)
    return np.clip((raw - lo) / (hi - lo), 0.0, 1.0)


def _swarm_offsets(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Vertical offsets in [-0.4, 0.4] that spread points sharing an x bin, like shap's beeswarm."""
    if x.size == 0:
        return x
    span = float(np.ptp(x)) or 1.0
    bins = np.floor(_SWARM_BINS * (x - x.min()) / span).astype(int)
    order = np.lexsort((rng.random(x.size), bins))
    sorted_bins = bins[order]
    starts = np.flatnonzero(np.r_[True, np.diff(sorted_bins) != 0])
    rank = np.arange(x.size) - np.repeat(starts, np.diff(np.r_[starts, x.size]))
    # 0, +1, -1, +2, -2, ...: each bin grows outward from the feature's line.
    step = np.where(rank % 2 == 1, (rank + 1) // 2, -(rank // 2)).astype(float)
    offsets = np.empty(x.size)
    offsets[order] = step
    widest = np.abs(offsets).max()
    return offsets * (0.4 / widest) if widest > 0 else offsets


def importance_figure(
    expl: Explanation, output: int | str | None = 0, top: int = 15, *, language: str = "en"
) -> go.Figure:
    """Horizontal bars of mean |SHAP value| per feature, most important on top.

    ``output=None`` sums the importance over every output.
    """
    ranked = expl.global_importance(output)[:top]
    names = [name for name, _ in ranked][::-1]
    scores = [score * _scale(expl) for _, score in ranked][::-1]
    label = _output_label(expl, output, language)
    axis = (
        Message("plot.importance.points_axis", label=label)
        if _in_points(expl)
        else Message("plot.importance.shap_axis", space=expl.output_space)
    ).render(language)
    fig = go.Figure(
        go.Bar(
            x=scores,
            y=names,
            orientation="h",
            marker_color="#1f77b4",
            hovertemplate="%{y}: %{x:.4g}<extra></extra>",
        )
    )
    return _layout(
        fig,
        Message("plot.importance.title", label=label).render(language),
        axis,
        "",
        height=max(300, 28 * len(names) + 120),
    )


def beeswarm_figure(
    expl: Explanation, output: int | str = 0, top: int = 10, *, seed: int = 0, language: str = "en"
) -> go.Figure:
    """One row of points per feature (the ``top`` most important, as shap's own beeswarm):
    x is the SHAP value, colour the feature's value.

    Numbers are coloured low (blue) to high (red) per feature, categories by their
    sorted code, missing values grey; hovering shows the value.
    """
    shap_values = expl.values_array(output) * _scale(expl)
    features = [name for name, _ in expl.global_importance(output)[:top]]
    rng = np.random.default_rng(seed)
    fig = go.Figure()
    for position, feature in zip(range(len(features) - 1, -1, -1), features, strict=True):
        column = _column(expl, feature)
        x = shap_values[:, expl.feature_names.index(feature)]
        y = position + _swarm_offsets(x, rng)
        colour = _colour_scale(column)
        labels = np.array([_format(v, language) for v in column], dtype=object)
        missing = np.isnan(colour)
        hover = f"<b>{feature}</b> = %{{customdata}}<br>SHAP %{{x:.4g}}<extra></extra>"
        fig.add_trace(
            go.Scatter(
                x=x[~missing],
                y=y[~missing],
                mode="markers",
                name=feature,
                customdata=labels[~missing],
                hovertemplate=hover,
                marker={
                    "color": colour[~missing],
                    "colorscale": _COLORSCALE,
                    "cmin": 0.0,
                    "cmax": 1.0,
                    "size": 5,
                    "opacity": 0.8,
                    "showscale": position == len(features) - 1,
                    "colorbar": {
                        "title": {"text": Message("plot.beeswarm.value").render(language)},
                        "tickvals": [0, 1],
                        "ticktext": [
                            Message("plot.beeswarm.low").render(language),
                            Message("plot.beeswarm.high").render(language),
                        ],
                    },
                },
                showlegend=False,
            )
        )
        if missing.any():
            fig.add_trace(
                go.Scatter(
                    x=x[missing],
                    y=y[missing],
                    mode="markers",
                    name=Message("plot.beeswarm.missing", feature=feature).render(language),
                    customdata=labels[missing],
                    hovertemplate=hover,
                    marker={"color": _MISSING_COLOR, "size": 5, "opacity": 0.8},
                    showlegend=False,
                )
            )
    fig.add_vline(x=0, line={"color": "grey", "width": 1})
    return _layout(
        fig,
        Message("plot.beeswarm.title", label=_output_label(expl, output, language)).render(
            language
        ),
        _shap_axis(expl, output, language),
        "",
        yaxis={
            "tickvals": list(range(len(features))),
            "ticktext": features[::-1],
            "zeroline": False,
            "showgrid": False,
        },
        height=max(320, 40 * len(features) + 120),
    )


def dependence_figure(
    expl: Explanation, feature: str, output: int | str = 0, *, language: str = "en"
) -> go.Figure:
    """SHAP value of one feature against its value (categories on a category axis)."""
    column = _column(expl, feature)
    y = expl.values_array(output)[:, expl.feature_names.index(feature)] * _scale(expl)
    if _is_categorical(column):
        x = [_format(v, language) for v in column]
        xaxis = {"type": "category", "categoryorder": "category ascending"}
    else:
        keep = np.array([v is not None for v in column])
        x = [v for v in column if v is not None]
        y = y[keep]
        xaxis = {}
    fig = go.Figure(
        go.Scatter(
            x=x,
            y=y,
            mode="markers",
            name=feature,
            marker={"size": 5, "opacity": 0.6, "color": "#1f77b4"},
            hovertemplate=f"{feature} = %{{x}}<br>SHAP %{{y:.4g}}<extra></extra>",
        )
    )
    fig.add_hline(y=0, line={"color": "grey", "width": 1})
    return _layout(
        fig,
        Message(
            "plot.dependence.title", feature=feature, label=_output_label(expl, output, language)
        ).render(language),
        feature,
        _shap_axis(expl, output, language),
        xaxis=xaxis,
    )


def waterfall_figure(
    expl: Explanation,
    row: int,
    output: int | str = 0,
    top: int = 10,
    *,
    title: str | None = None,
    language: str = "en",
) -> go.Figure:
    """From the base value to one row's output, the largest contributions first.

    The features past ``top`` are summed into one "other N features" step. The
    axis spans 0, the base value and every bar's ends, so no bar is cut off. In
    probability the bars are in percent and percentage points: a "starting point"
    (the chance for an average row) and "this row's chance" at the end. ``title``
    replaces the default one ("Row 4: chance of >50K = 73%").
    """
    contributions = expl.row(row, output)
    shown, rest = contributions[:top], contributions[top:]
    k = expl.output_index(output)
    points = _in_points(expl)
    scale = _scale(expl)
    base = expl.base_value(row, k) * scale
    if expl.is_text:
        named = [f"“{value}”" for _, value, _ in shown]
    else:
        named = [f"{friendly_name(name)} = {_format(value, language)}" for name, value, _ in shown]
    start = Message("plot.waterfall.start") if points else Message("plot.waterfall.base")
    labels = [start.render(language), *named]
    steps = [base] + [c * scale for _, _, c in shown]
    measures = ["absolute"] + ["relative"] * len(shown)
    if rest:
        other = (
            Message("plot.waterfall.other_words", count=len(rest))
            if expl.is_text
            else Message("plot.waterfall.other_features", count=len(rest))
        )
        labels.append(other.render(language))
        steps.append(sum(c for _, _, c in rest) * scale)
        measures.append("relative")
    final = base + sum(steps[1:])
    end = Message("plot.waterfall.chance") if points else Message("plot.waterfall.output")
    labels.append(end.render(language))
    steps.append(0.0)
    measures.append("total")
    if points:
        text = [
            f"{base:.0f}%",
            *[Message("plot.waterfall.pts", points=s).render(language) for s in steps[1:-1]],
            f"{final:.0f}%",
        ]
        hover = "%{y}: %{text}<extra></extra>"
    else:
        text = [f"{s:+.3g}" for s in steps[:-1]] + [f"{final:.3g}"]
        hover = "%{y}: %{x:+.4g}<extra></extra>"
    fig = go.Figure(
        go.Waterfall(
            orientation="h",
            y=labels,
            x=steps,
            measure=measures,
            text=text,
            textposition="outside",
            cliponaxis=False,
            increasing={"marker": {"color": "#d62728"}},
            decreasing={"marker": {"color": "#1f77b4"}},
            totals={"marker": {"color": "#7f7f7f"}},
            hovertemplate=hover,
        )
    )
    label = _output_label(expl, output, language)
    value = expl.model_output[row][k] * scale
    axis_range: dict[str, Any] = {"range": _waterfall_range(steps, measures), "zeroline": True}
    if points and axis_range["range"][0] < 0 <= np.cumsum(steps[:-1]).min():
        # Room left of 0 for a label, but a chance is never negative: ticks from 0 up.
        axis_range["tickvals"] = _ticks_from_zero(axis_range["range"][1])
    if points:
        title = title or Message(
            "plot.waterfall.title_chance", row=row, label=label, value=_chance_text(value)
        ).render(language)
        axis = Message("plot.waterfall.chance_axis", label=label).render(language)
    else:
        title = title or Message(
            "plot.waterfall.title_value",
            row=row,
            label=label,
            value=value,
            space=expl.output_space,
        ).render(language)
        axis = expl.output_space
    return _layout(
        fig,
        title,
        axis,
        "",
        xaxis=axis_range,
        yaxis={"autorange": "reversed"},
        height=max(320, 30 * len(labels) + 120),
    )


def _waterfall_range(steps: list[float], measures: list[str]) -> list[float]:
    """An x range holding 0 and both ends of every waterfall bar, with room for labels.

    A bar that goes down has its label on its left: where one ends near the axis's low
    end, the range leaves room there too (else the label lies over the row names).
    """
    ends = [0.0]
    running = 0.0
    for step, measure in zip(steps, measures, strict=True):
        if measure == "absolute":
            running = step
        elif measure == "relative":
            running += step
        ends.append(running)
    low, high = min(ends), max(ends)
    pad = 0.15 * (high - low) or 1.0
    down_near_low = any(
        measure == "relative" and step < 0 and end - low < pad
        for step, measure, end in zip(steps, measures, ends[1:], strict=True)
    )
    return [low - (pad if low < 0 or down_near_low else 0.0), high + pad]


def _chance_text(points: float) -> str:
    """The title's chance, "= 12%"; "< 1%" or "> 99%" where rounding would print a
    certainty the model lacks."""
    if 0 < points < 0.5:
        return "< 1%"
    if 99.5 <= points < 100:
        return "> 99%"
    return f"= {points:.0f}%"


def _ticks_from_zero(high: float) -> list[float]:
    """Round tick values from 0 to ``high`` (a chance axis shows no negative ones)."""
    rough = max(high, 1e-9) / 6
    power = 10 ** np.floor(np.log10(rough))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= rough)
    return [float(v) for v in np.arange(0.0, high + 1e-9, step)]
