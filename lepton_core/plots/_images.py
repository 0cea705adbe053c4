"""Image views: a SHAP heat map over the picture the network read, and the classes' average
maps.

Red cells pushed the chosen output up, blue ones pushed it down, as in the other SHAP
figures; a cell's colour is transparent where it hardly mattered, so the picture shows
through.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lepton_core.core import Message
from lepton_core.explain import Explanation
from lepton_core.plots._explain import TEMPLATE

__all__ = ["class_maps_figure", "heat_in_points", "image_heat_map_figure"]

# Blue (away), clear (no effect), red (toward): the waterfall's colours.
_COLORSCALE = [
    [0.0, "rgba(31, 119, 180, 0.85)"],
    [0.5, "rgba(255, 255, 255, 0.0)"],
    [1.0, "rgba(214, 39, 40, 0.85)"],
]


def heat_in_points(raw: Explanation, chances: Explanation, row: int, output: int = 0) -> np.ndarray:
    """Row ``row``'s heat map of ``raw`` (an image explanation) in percentage points of the
    chance: each cell's share of the row's total, times the total's effect on the chance
    (``chances`` is ``to_probability(raw)``), so the cells add up to it."""
    heat = np.asarray(raw.heat_map(row, output), dtype=float)  # type: ignore[attr-defined]
    total = float(heat.sum())
    points = 100.0 * float(np.asarray(chances.values[row], dtype=float).reshape(-1)[output])
    return heat * (points / total) if abs(total) > 1e-12 else heat * 0.0


def _axis_off(fig: go.Figure) -> None:
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x")


def image_heat_map_figure(
    pixels: np.ndarray,
    heat: np.ndarray,
    *,
    label: str,
    points: bool = True,
    title: str | None = None,
    language: str = "en",
) -> go.Figure:
    """``heat`` (a ``grid × grid`` map) over ``pixels`` (``side × side × 3``, 0–255).

    Parameters
    ----------
    pixels : ndarray
        The image as the network read it (``read_pixels``).
    heat : ndarray
        SHAP value per cell toward ``label``: percentage points of its chance when
        ``points`` (see :func:`heat_in_points`), else the model's own units.
    label : str
        The output the values push toward.
    """
    pixels = np.asarray(pixels, dtype=np.uint8)
    heat = np.asarray(heat, dtype=float)
    side, grid = pixels.shape[0], heat.shape[0]
    cell = side / grid
    limit = float(np.abs(heat).max()) or 1.0
    unit = (
        Message("plot.image.points", label=label)
        if points
        else Message("plot.image.value", label=label)
    ).render(language)
    fig = go.Figure(go.Image(z=pixels, hoverinfo="skip"))
    fig.add_trace(
        go.Heatmap(
            z=heat,
            x0=cell / 2 - 0.5,
            dx=cell,
            y0=cell / 2 - 0.5,
            dy=cell,
            zmin=-limit,
            zmax=limit,
            colorscale=_COLORSCALE,
            colorbar={"title": {"text": unit, "side": "right"}, "thickness": 12},
            hovertemplate=f"{unit}: %{{z:+.2f}}<extra></extra>",
        )
    )
    fig.update_layout(
        template=TEMPLATE,
        title=title or Message("plot.image.title", label=label).render(language),
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        height=420,
    )
    _axis_off(fig)
    fig.update_yaxes(autorange="reversed")
    return fig


def class_maps_figure(
    maps: dict[str, np.ndarray], counts: dict[str, int], *, language: str = "en"
) -> go.Figure:
    """Each class's average heat map (toward that class), side by side on one colour scale.

    ``maps`` maps a class to its average ``grid × grid`` map, ``counts`` to the number of
    images averaged.
    """
    names = list(maps)
    if not names:
        raise ValueError("there are no maps to draw")
    limit = max(float(np.abs(m).max()) for m in maps.values()) or 1.0
    titles = [
        Message("plot.image.class_map", label=name, n=counts.get(name, 0)).render(language)
        for name in names
    ]
    fig: Any = make_subplots(rows=1, cols=len(names), subplot_titles=titles)
    for k, name in enumerate(names):
        fig.add_trace(
            go.Heatmap(
                z=np.asarray(maps[name], dtype=float),
                zmin=-limit,
                zmax=limit,
                colorscale="RdBu_r",
                showscale=k == len(names) - 1,
                hovertemplate="%{z:+.3f}<extra></extra>",
            ),
            row=1,
            col=k + 1,
        )
    fig.update_layout(
        template=TEMPLATE,
        title=Message("plot.image.class_maps_title").render(language),
        height=320,
        margin={"l": 10, "r": 10, "t": 80, "b": 10},
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed")
    return fig
