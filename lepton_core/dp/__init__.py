"""Differential privacy: the DP-SGD core (Opacus), privacy options and the ε report."""

from lepton_core.dp._sgd import (
    DEFAULT_MAX_GRAD_NORM,
    DP_BATCH_SIZE,
    DP_EPOCHS,
    DP_LEARNING_RATE,
    DP_PATIENCE,
    DPSGD,
    PrivacyOptions,
    PrivacyReport,
    default_delta,
    dp_sgd,
    epsilon_spent,
    load_privacy,
    make_private_model,
    private_batch_size,
)

__all__ = [
    "DEFAULT_MAX_GRAD_NORM",
    "DPSGD",
    "DP_BATCH_SIZE",
    "DP_EPOCHS",
    "DP_LEARNING_RATE",
    "DP_PATIENCE",
    "PrivacyOptions",
    "PrivacyReport",
    "default_delta",
    "dp_sgd",
    "epsilon_spent",
    "load_privacy",
    "make_private_model",
    "private_batch_size",
]
