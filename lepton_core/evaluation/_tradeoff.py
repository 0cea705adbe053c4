"""Accuracy against fairness (and privacy) across the runs of one data set, with the Pareto front.

Every figure comes from the metrics each run logged: ``test_accuracy``, the chosen
gap of one sensitive attribute (``fairness_<attr>_<gap>``) and, for runs trained
with differential privacy, ``privacy_epsilon``; the energy a run used (``energy_kwh``),
where it was measured, sizes its marker. A run is on the Pareto front when no
other run is at least as accurate with at most the same gap, and better in one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lepton_core.core import DataError, JsonMixin, Message

__all__ = ["GAPS", "Tradeoff", "TradeoffPoint", "tradeoff", "tradeoff_figure"]

GAPS = ("demographic_parity_difference", "equalized_odds_difference")
_GAP_NAMES = {
    "demographic_parity_difference": Message("tradeoff.gap.parity"),
    "equalized_odds_difference": Message("tradeoff.gap.odds"),
}


@dataclass
class TradeoffPoint(JsonMixin):
    run_id: str
    label: str
    family: str
    accuracy: float
    gap: float
    epsilon: float | None
    pareto: bool
    energy_wh: float | None = None


@dataclass
class Tradeoff(JsonMixin):
    """Points of one data set's runs; ``skipped`` counts runs without both figures."""

    dataset_id: str
    attribute: str
    gap: str
    points: list[TradeoffPoint]
    skipped: int = 0

    @property
    def front(self) -> list[TradeoffPoint]:
        return sorted((p for p in self.points if p.pareto), key=lambda p: p.gap)


def tradeoff(workspace: Any, dataset_id: str, *, attribute: str, gap: str = GAPS[0]) -> Tradeoff:
    """Collect the runs of ``dataset_id`` as (accuracy, gap, ε) points and mark the front.

    Raises
    ------
    DataError
        ``gap`` is not one of :data:`GAPS`.
    """
    if gap not in GAPS:
        raise DataError(f"'{gap}' is not a fairness gap; pick one of {', '.join(GAPS)}.")
    points, skipped = [], 0
    for run in workspace.list_runs():
        if run.dataset_id != dataset_id:
            continue
        accuracy = run.metrics.get("test_accuracy")
        value = run.metrics.get(f"fairness_{attribute}_{gap}")
        if accuracy is None or value is None:
            skipped += 1
            continue
        points.append(
            TradeoffPoint(
                run_id=run.run_id,
                label=f"{run.model_name}:{run.model_version} · {run.family}",
                family=run.family,
                accuracy=float(accuracy),
                gap=float(value),
                epsilon=run.metrics.get("privacy_epsilon"),
                pareto=False,
                energy_wh=_wh(run.metrics.get("energy_kwh")),
            )
        )
    for p in points:
        p.pareto = not any(
            q.accuracy >= p.accuracy
            and q.gap <= p.gap
            and (q.accuracy > p.accuracy or q.gap < p.gap)
            for q in points
        )
    return Tradeoff(dataset_id, attribute, gap, points, skipped)


def _wh(kwh: float | None) -> float | None:
    return None if kwh is None else float(kwh) * 1000


def _marker_sizes(points: list[TradeoffPoint], base: int) -> list[float] | int:
    """Marker sizes by energy used (area grows with watt-hours); ``base`` without energy."""
    most = max((p.energy_wh or 0.0 for p in points), default=0.0)
    if most <= 0:
        return base
    return [base if p.energy_wh is None else 7 + 17 * (p.energy_wh / most) ** 0.5 for p in points]


def _axis_range(values: list[float], pad: float = 0.05) -> list[float]:
    """A padded range around ``values``, clamped to [0, 1]; all of [0, 1] without values."""
    if not values:
        return [0.0, 1.0]
    low, high = max(0.0, min(values) - pad), min(1.0, max(values) + pad)
    return [low, high] if high > low else [0.0, 1.0]


def tradeoff_figure(result: Tradeoff, *, language: str = "en") -> Any:
    """Scatter of accuracy against the gap; the front drawn as a line; run ids as customdata.

    Titles, legend and hover text are written in ``language`` (``"en"`` or ``"zh"``).
    """
    import plotly.graph_objects as go

    fig = go.Figure()
    for on_front in (False, True):
        pts = [p for p in result.points if p.pareto == on_front]
        if not pts:
            continue
        fig.add_trace(
            go.Scatter(
                x=[p.gap for p in pts],
                y=[p.accuracy for p in pts],
                mode="markers+text",
                text=[f"ε={p.epsilon:.2g}" if p.epsilon is not None else "" for p in pts],
                textposition="top center",
                customdata=[p.run_id for p in pts],
                hovertext=[
                    p.label
                    + (f" · ε {p.epsilon:.2f}" if p.epsilon is not None else "")
                    + (f" · {p.energy_wh:.3g} Wh" if p.energy_wh is not None else "")
                    for p in pts
                ],
                hovertemplate=Message("tradeoff.hover").render(language),
                marker={
                    "size": _marker_sizes(pts, 13 if on_front else 9),
                    "symbol": ["diamond" if p.epsilon is not None else "circle" for p in pts],
                    "color": "#d62728" if on_front else "#7f7f7f",
                },
                name=(Message("tradeoff.front") if on_front else Message("tradeoff.others")).render(
                    language
                ),
            )
        )
    front = result.front
    if len(front) > 1:
        fig.add_trace(
            go.Scatter(
                x=[p.gap for p in front],
                y=[p.accuracy for p in front],
                mode="lines",
                line={"color": "#d62728", "dash": "dot"},
                hoverinfo="skip",
                showlegend=False,
            )
        )
    # Both figures are shares: keep the axes within [0, 1] (padding and the ε labels
    # would otherwise stretch them past 1 or below 0).
    fig.update_xaxes(range=_axis_range([p.gap for p in result.points]))
    fig.update_yaxes(range=_axis_range([p.accuracy for p in result.points]))
    fig.update_layout(
        xaxis_title=Message(
            "tradeoff.x",
            gap=_GAP_NAMES.get(result.gap, result.gap.replace("_", " ")),
            attribute=result.attribute,
        ).render(language),
        yaxis_title=Message("tradeoff.y").render(language),
        height=420,
        margin={"t": 30},
        legend={"orientation": "h"},
    )
    return fig
