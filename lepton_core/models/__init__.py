"""models."""

from lepton_core.models._base import (
    FAMILIES,
    FAMILY_TITLES,
    LeptonModel,
    LightGBMModel,
    LinearModel,
    MLPModel,
    ProgressFn,
    TreeModel,
    load_model,
    make_model,
    probabilities_from_raw,
)

__all__ = [
    "FAMILIES",
    "FAMILY_TITLES",
    "LeptonModel",
    "LightGBMModel",
    "LinearModel",
    "MLPModel",
    "ProgressFn",
    "TreeModel",
    "load_model",
    "make_model",
    "probabilities_from_raw",
]
