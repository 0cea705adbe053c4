"""Differentially private text models: Quick mode's head trained with DP-SGD (Opacus).

The encoder is pretrained on public text and stays frozen, so the only weights
that learn from the user's rows are the linear head's; training them with
DP-SGD makes the whole model (ε, δ)-differentially private with respect to the
training rows. Nothing computed from the private rows enters otherwise: the
embeddings are not standardised and the head starts at zero. Fine-tuning the
encoder under DP is not offered (per-sample gradients of every layer cost far
more than a laptop CPU can give).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from lepton_core.dp import (
    DEFAULT_MAX_GRAD_NORM,
    DP_PATIENCE,
    PrivacyOptions,
    train_private,
)
from lepton_core.exceptions import TrainingError
from lepton_core.text.model import TextModel

__all__ = ["DPTextModel"]

#: Expected batch of Poisson sampling, epochs and step size of the private head.
DP_TEXT_BATCH = 256
DP_TEXT_EPOCHS = 20
DP_TEXT_LEARNING_RATE = 0.05


class DPTextModel(TextModel):
    """A Quick-mode text model whose head is trained with DP-SGD; saved as a ``text`` model.

    Set the privacy target with :meth:`set_privacy` before ``fit``; ``privacy_``
    holds the :class:`lepton_core.dp.PrivacyReport` after it.
    """

    def set_privacy(self, options: PrivacyOptions) -> DPTextModel:
        self.privacy_options = options.check()
        return self

    def _fit(self, X, y, valid, progress) -> None:
        if self.mode != "quick":
            raise TrainingError(
                "Differential privacy for text models trains Quick mode's head on frozen "
                "embeddings; choose Quick, or train without the privacy option."
            )
        super()._fit(X, y, valid, progress)

    def _fit_probe(self, network, texts, y, valid_texts, valid_y, progress) -> None:
        options: PrivacyOptions = getattr(
            self, "privacy_options", PrivacyOptions(max_grad_norm=DEFAULT_MAX_GRAD_NORM)
        )
        train_x = self._embeddings(network, texts)
        valid_x = self._embeddings(network, valid_texts)
        n_classes = len(self.classes_)

        def head() -> nn.Module:
            built = nn.Linear(train_x.shape[1], n_classes)
            with torch.no_grad():  # zero start: nothing learned from the rows before DP-SGD
                nn.init.zeros_(built.weight)
                nn.init.zeros_(built.bias)
            return built

        trained, outcome, self.privacy_ = train_private(
            head,
            train_x.astype(np.float32),
            np.asarray(y),
            (valid_x.astype(np.float32), np.asarray(valid_y)),
            task="multiclass",  # one logit per class, as the network's head has
            options=options,
            batch_size=DP_TEXT_BATCH,
            learning_rate=DP_TEXT_LEARNING_RATE,
            weight_decay=0.0,
            max_epochs=DP_TEXT_EPOCHS,
            patience=DP_PATIENCE,
            seed=self.seed,
            progress=progress,
        )
        self.privacy_.notes.append(
            "The pretrained encoder is frozen; only the linear head learned from the rows."
        )
        network.classifier.load_state_dict(trained.state_dict())
        self.history_ = outcome.history
        self.best_iteration_ = outcome.best_epoch
        self.cancelled_ = outcome.cancelled

    def _estimator_meta(self) -> dict[str, Any]:
        meta = super()._estimator_meta()
        if hasattr(self, "privacy_"):
            meta["privacy"] = self.privacy_.to_dict()
        return meta
