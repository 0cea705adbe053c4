"""A model family's few settings (``LeptonModel.settings``) as Train-page widgets.

Labels and one-line help come from the family's declarations, in plain words (engine
Messages, shown in the reader's language through :func:`say`); the expert names (the
model's parameters and their defaults) sit in an "Expert details" expander below them.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from app_pages._i18n import say, tr
from lepton_core.models import Setting, make_model

_OTHER = "__other__"


def family_settings(settings: tuple[Setting, ...], cols: list[Any]) -> dict[str, Any]:
    """Draw ``settings`` (number inputs and pickers in ``cols``, short choices as a row
    of buttons) and return the values chosen, as ``TrainConfig.params``."""
    params: dict[str, Any] = {}
    free = iter(cols)
    for setting in settings:
        if setting.when and params.get(setting.when[0]) != setting.when[1]:
            continue
        if not setting.choices:
            params[setting.name] = next(free).number_input(
                say(setting.label),
                setting.minimum,
                setting.maximum,
                setting.default,
                step=setting.step,
                format=setting.format or None,
                help=say(setting.help) or None,
            )
        elif not setting.other:
            params[setting.name] = st.radio(
                say(setting.label),
                list(setting.choices),
                index=list(setting.choices).index(setting.default),
                format_func=lambda value, choices=setting.choices: say(choices[value]),
                horizontal=True,
                help=say(setting.help) or None,
            )
        else:
            params[setting.name] = _pick_or_type(setting, next(free), next(free))
    return params


def expert_details(family: str, task: str, settings: tuple[Setting, ...]) -> None:
    """An expander with every parameter of the family: the settings above by their
    technical names, and the defaults the rest keep."""
    shown = {s.name: say(s.label) for s in settings}
    try:
        params = make_model(family, task).get_params(deep=False)
    except (TypeError, ValueError):
        return
    rows = [
        {
            tr("parameter"): name,
            tr("on this page as"): shown.get(name, ""),
            tr("default"): str(value),
        }
        for name, value in params.items()
        if name not in ("task", "seed")
    ]
    if not rows:
        return
    with st.expander(tr("Expert details"), icon=":material/tune:"):
        st.caption(
            tr(
                "The model's own parameter names. The settings above change the ones named; "
                "the others keep these defaults (a script can set them through `params`)."
            )
        )
        st.dataframe(pd.DataFrame(rows), hide_index=True)


def _pick_or_type(setting: Setting, col: Any, other_col: Any) -> Any:
    """A picker whose last choice opens a box for a value of the person's own."""
    labels = {**setting.choices, _OTHER: setting.other}
    choice = col.selectbox(
        say(setting.label),
        list(labels),
        format_func=lambda value: say(labels[value]),
        help=say(setting.help) or None,
    )
    if choice != _OTHER:
        return choice
    typed = other_col.text_input(say(setting.other_label), placeholder=say(setting.placeholder))
    return typed.strip() or setting.default
