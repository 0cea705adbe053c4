"""A model family's few settings (``LeptonModel.settings``) as Train-page widgets."""

from __future__ import annotations

from typing import Any

import streamlit as st

from lepton_core.models import Setting

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
                setting.label,
                setting.minimum,
                setting.maximum,
                setting.default,
                step=setting.step,
                format=setting.format or None,
                help=setting.help or None,
            )
        elif not setting.other:
            params[setting.name] = st.radio(
                setting.label,
                list(setting.choices),
                index=list(setting.choices).index(setting.default),
                format_func=setting.choices.get,
                horizontal=True,
                help=setting.help or None,
            )
        else:
            params[setting.name] = _pick_or_type(setting, next(free), next(free))
    return params


def _pick_or_type(setting: Setting, col: Any, other_col: Any) -> Any:
    """A picker whose last choice opens a box for a value of the person's own."""
    labels = {**setting.choices, _OTHER: setting.other}
    choice = col.selectbox(
        setting.label, list(labels), format_func=labels.get, help=setting.help or None
    )
    if choice != _OTHER:
        return choice
    typed = other_col.text_input(setting.other_label, placeholder=setting.placeholder)
    return typed.strip() or setting.default
