"""Plotly figures of SHAP explanations, drawn from an :class:`Explanation` alone.

``output`` picks one explained output (an index or a name from
``expl.outputs``); asking for an unknown output, feature or row raises
``ValueError``. An explanation in probability (see
:func:`lepton_core.explain.to_probability`) is drawn in percent and percentage
points, with words for a reader; other spaces keep SHAP's terms.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

from lepton_core.explain import Explanation, friendly_name

__all__ = ["beeswarm_figure", "dependence_figure", "importance_figure", "waterfall_figure"]

TEMPLATE = "plotly_white"
_COLORSCALE = "Bluered"
_MISSING_COLOR = "#b0b0b0"
_SWARM_BINS = 100


def _layout(fig: go.Figure, title: str, x: str, y: str, **extra: Any) -> go.Figure:
    fig.update_layout(template=TEMPLATE, title=title, xaxis_title=x, yaxis_title=y, **extra)
    return fig


def _output_label(expl: Explanation, output: int | str | None) -> str:
    if output is None:
        return f"all {len(expl.outputs)} outputs" if len(expl.outputs) > 1 else expl.outputs[0]
    return expl.outputs[expl.output_index(output)]


def _in_points(expl: Explanation) -> bool:
    return expl.output_space == "probability"


def _scale(expl: Explanation) -> float:
    """Probabilities are drawn in percent (contributions in percentage points)."""
    return 100.0 if _in_points(expl) else 1.0


def _shap_axis(expl: Explanation, output: int | str | None = 0) -> str:
    if _in_points(expl):
        return f"effect on the chance of {_output_label(expl, output)} (percentage points)"
    return f"SHAP value ({expl.output_space})"


def _format(value: Any) -> str:
    if value is None:
        return "missing"
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


def importance_figure(expl: Explanation, output: int | str | None = 0, top: int = 15) -> go.Figure:
    """Horizontal bars of mean |SHAP value| per feature, most important on top.

    ``output=None`` sums the importance over every output.
    """
    ranked = expl.global_importance(output)[:top]
    names = [name for name, _ in ranked][::-1]
    scores = [score * _scale(expl) for _, score in ranked][::-1]
    axis = (
        f"average effect on the chance of {_output_label(expl, output)} (percentage points)"
        if _in_points(expl)
        else f"mean |SHAP value| ({expl.output_space})"
    )
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
        f"Which columns matter most for {_output_label(expl, output)}",
        axis,
        "",
        height=max(300, 28 * len(names) + 120),
    )


def beeswarm_figure(
    expl: Explanation, output: int | str = 0, top: int = 12, *, seed: int = 0
) -> go.Figure:
    """One row of points per feature: x is the SHAP value, colour the feature's value.

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
        labels = np.array([_format(v) for v in column], dtype=object)
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
                        "title": {"text": "feature value"},
                        "tickvals": [0, 1],
                        "ticktext": ["low", "high"],
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
                    name=f"{feature} (missing)",
                    customdata=labels[missing],
                    hovertemplate=hover,
                    marker={"color": _MISSING_COLOR, "size": 5, "opacity": 0.8},
                    showlegend=False,
                )
            )
    fig.add_vline(x=0, line={"color": "grey", "width": 1})
    return _layout(
        fig,
        f"How each column pushed each row, for {_output_label(expl, output)}",
        _shap_axis(expl, output),
        "",
        yaxis={
            "tickvals": list(range(len(features))),
            "ticktext": features[::-1],
            "zeroline": False,
            "showgrid": False,
        },
        height=max(320, 40 * len(features) + 120),
    )


def dependence_figure(expl: Explanation, feature: str, output: int | str = 0) -> go.Figure:
    """SHAP value of one feature against its value (categories on a category axis)."""
    column = _column(expl, feature)
    y = expl.values_array(output)[:, expl.feature_names.index(feature)] * _scale(expl)
    if _is_categorical(column):
        x = [_format(v) for v in column]
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
        f"How {feature} moves the prediction for {_output_label(expl, output)}",
        feature,
        _shap_axis(expl, output),
        xaxis=xaxis,
    )


def waterfall_figure(
    expl: Explanation, row: int, output: int | str = 0, top: int = 10, *, title: str | None = None
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
        named = [f"{friendly_name(name)} = {_format(value)}" for name, value, _ in shown]
    labels = ["starting point" if points else "base value", *named]
    steps = [base] + [c * scale for _, _, c in shown]
    measures = ["absolute"] + ["relative"] * len(shown)
    if rest:
        labels.append(f"other {len(rest)} {'words' if expl.is_text else 'features'}")
        steps.append(sum(c for _, _, c in rest) * scale)
        measures.append("relative")
    final = base + sum(steps[1:])
    labels.append("this row's chance" if points else "model output")
    steps.append(0.0)
    measures.append("total")
    if points:
        text = [f"{base:.0f}%"] + [f"{s:+.1f} pts" for s in steps[1:-1]] + [f"{final:.0f}%"]
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
    label = _output_label(expl, output)
    value = expl.model_output[row][k] * scale
    if points:
        title = title or f"Row {row}: chance of {label} = {value:.0f}%"
        axis = f"chance of {label} (%)"
    else:
        title = title or f"Row {row}: {label} = {value:.4g} ({expl.output_space})"
        axis = expl.output_space
    return _layout(
        fig,
        title,
        axis,
        "",
        xaxis={"range": _waterfall_range(steps, measures), "zeroline": True},
        yaxis={"autorange": "reversed"},
        height=max(320, 30 * len(labels) + 120),
    )


def _waterfall_range(steps: list[float], measures: list[str]) -> list[float]:
    """An x range holding 0 and both ends of every waterfall bar, with room for labels."""
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
    return [low - (pad if low < 0 else 0.0), high + pad]
