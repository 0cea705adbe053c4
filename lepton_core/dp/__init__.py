"""dp."""

from lepton_core.dp._sgd import (
    DEFAULT_MAX_GRAD_NORM,
    DP_PATIENCE,
    DPSGD,
    DPMLPModel,
    PrivacyOptions,
    PrivacyReport,
    default_delta,
    dp_sgd,
    epsilon_spent,
    load_privacy,
    make_private_model,
    private_batch_size,
    train_private,
)

__all__ = [
    "DEFAULT_MAX_GRAD_NORM",
    "DPSGD",
    "DP_PATIENCE",
    "DPMLPModel",
    "PrivacyOptions",
    "PrivacyReport",
    "default_delta",
    "dp_sgd",
    "epsilon_spent",
    "load_privacy",
    "make_private_model",
    "private_batch_size",
    "train_private",
]
