"""Token SHAP views of a text model's :class:`Explanation`: highlighted text and top tokens.

Red means a token pushes the chosen output up, blue that it pushes it down, as
in the waterfall figure. Asking for an unknown output or row, or passing a
tabular explanation, raises ``ValueError``.
"""

from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go

from lepton_core.core import Message
from lepton_core.explain import Explanation
from lepton_core.plots._explain import TEMPLATE, _output_label

__all__ = ["token_highlight_html", "token_importance_figure"]

_UP = (214, 39, 40)  # "#d62728"
_DOWN = (31, 119, 180)  # "#1f77b4"
_NEUTRAL = "#7f7f7f"


def _require_text(expl: Explanation) -> None:
    if not expl.is_text:
        raise ValueError(
            "This explanation has no tokens; token views are for text models "
            "(use the feature plots for tabular models)."
        )


def _background(value: float, scale: float) -> str:
    rgb = _UP if value > 0 else _DOWN
    # Opacity grows with |value|, up to 0.85 for the row's largest, so text stays readable.
    alpha = 0.0 if scale <= 0 else 0.85 * min(abs(value) / scale, 1.0)
    return f"rgba({rgb[0]}, {rgb[1]}, {rgb[2]}, {alpha:.3f})"


def token_highlight_html(
    expl: Explanation, row: int, output: int | str = 0, *, language: str = "en"
) -> str:
    """One explained text as HTML, each token's background coloured by its contribution.

    Colour intensity is relative to the row's largest absolute contribution;
    hovering a token shows its value. Every piece of text is HTML-escaped.

    Parameters
    ----------
    expl : Explanation
        A text model's explanation.
    row : int
        Which explained text.
    output : int or str
        The output (class) the contributions are toward.
    language : str
        The language of the legend and the hover notes (``"en"`` or ``"zh"``).
    """
    _require_text(expl)
    contributions = expl.token_values(row)[:, expl.output_index(output)]
    tokens = expl.tokens[row]  # type: ignore[index]
    label = html.escape(_output_label(expl, output, language))
    space = html.escape(expl.output_space)
    chances = expl.output_space == "probability"
    scale = float(np.abs(contributions).max()) if len(contributions) else 0.0
    parts = []
    for token, value in zip(tokens, contributions, strict=True):
        word = token.rstrip()
        gap = token[len(word) :]
        tip = (
            Message("plot.tokens.tip", points=100 * value).render(language)
            if chances
            else f"{value:+.4g}"
        )
        parts.append(
            f'<span class="lepton-token" title="{tip}" '
            f'style="background-color: {_background(float(value), scale)}; '
            'border-radius: 3px; padding: 1px 2px;">'
            f"{html.escape(word)}</span>{html.escape(gap)}"
        )
    k = expl.output_index(output)
    base = expl.base_value(row, k)
    total = expl.model_output[row][k]
    swatch = 'style="background-color: {}; border-radius: 3px; padding: 1px 4px;"'
    legend = (
        f'<div style="font-size: 0.85em; color: #555; margin-top: 0.4em;">'
        f"<span {swatch.format(_background(1.0, 1.0))}>"
        f"{Message('plot.tokens.toward').render(language)}</span> "
        f"<span {swatch.format(_background(-1.0, 1.0))}>"
        f"{Message('plot.tokens.away').render(language)}</span> "
        + (
            Message("plot.tokens.legend_chance", label=label, base=base, total=total)
            if chances
            else Message(
                "plot.tokens.legend_value", label=label, space=space, base=base, total=total
            )
        ).render(language)
        + "</div>"
    )
    none = Message("plot.tokens.none").render(language)
    body = "".join(parts) if parts else f'<span style="color: #7f7f7f;">{none}</span>'
    return (
        '<div class="lepton-tokens" style="line-height: 1.9; font-size: 1.05em; '
        f'white-space: pre-wrap;">{body}</div>{legend}'
    )


def _signed_means(expl: Explanation, output: int | str) -> dict[str, tuple[float, int]]:
    """Per lower-cased token: mean signed contribution per occurrence, and occurrences."""
    k = expl.output_index(output)
    sums: dict[str, list[float]] = {}
    for i, tokens in enumerate(expl.tokens or []):
        for token, value in zip(tokens, expl.token_values(i)[:, k], strict=True):
            key = token.strip().lower()
            if key:
                entry = sums.setdefault(key, [0.0, 0])
                entry[0] += float(value)
                entry[1] += 1
    return {key: (total / count, int(count)) for key, (total, count) in sums.items()}


def token_importance_figure(
    expl: Explanation, output: int | str | None = None, top: int = 20, *, language: str = "en"
) -> go.Figure:
    """Horizontal bars of the tokens with the largest mean |SHAP value| over the explained texts.

    A token's score is :meth:`Explanation.global_importance`'s: its absolute
    contributions summed per text and averaged over the texts. With an
    ``output``, bars are red where the token pushes that output up on average
    and blue where it pushes it down; ``output=None`` sums over every output.
    """
    _require_text(expl)
    if top < 1:
        raise ValueError(f"top must be at least 1, got {top}.")
    ranked = expl.global_importance(output)[:top][::-1]
    names = [name for name, _ in ranked]
    scale = 100.0 if expl.output_space == "probability" else 1.0  # chances in points
    # A punctuation mark ("," or "。") is a speck as an axis label: it is shown in quotes.
    labels = [name if any(c.isalnum() for c in name) else f"“{name}”" for name in names]
    scores = [scale * score for _, score in ranked]
    if output is None:
        colours = ["#1f77b4"] * len(names)
        signed = dict.fromkeys(names, (float("nan"), 0))
    else:
        signed = _signed_means(expl, output)
        colours = [
            "#d62728" if signed[n][0] > 0 else "#1f77b4" if signed[n][0] < 0 else _NEUTRAL
            for n in names
        ]
    counts = [signed[n][1] for n in names] if output is not None else None
    customdata = (
        [[scale * signed[n][0], signed[n][1]] for n in names] if counts is not None else None
    )
    hover = (
        Message("plot.tokens.hover_signed")
        if customdata is not None
        else Message("plot.tokens.hover")
    ).render(language)
    fig = go.Figure(
        go.Bar(
            x=scores,
            y=labels,
            orientation="h",
            marker_color=colours,
            customdata=customdata,
            hovertemplate=hover,
        )
    )
    label = _output_label(expl, output, language)
    title = (
        Message("plot.tokens.title", label=label)
        if output is None
        else Message("plot.tokens.title_coloured", label=label)
    )
    fig.update_layout(
        template=TEMPLATE,
        title=title.render(language),
        xaxis_title=(
            Message("plot.tokens.points_axis", label=label)
            if expl.output_space == "probability"
            else Message("plot.tokens.shap_axis", space=expl.output_space)
        ).render(language),
        yaxis_title="",
        # Tokens like "1" or "10" must stay labels, not numbers on a numeric axis.
        yaxis={"type": "category"},
        height=max(300, 24 * len(names) + 120),
    )
    return fig
