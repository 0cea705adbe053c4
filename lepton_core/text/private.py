"""Differentially private text models: DP-SGD (Opacus) in both training modes.

- **quick**: the encoder is pretrained on public text and stays frozen, so the
  only weights that learn from the user's rows are the linear head's. The
  embeddings are not standardised and the head starts at zero, so nothing else
  computed from the private rows enters the model.
- **finetune**: the encoder is fine-tuned with DP-SGD in a plain torch loop
  (``transformers.Trainer`` does not fit Opacus): Poisson sampling, dynamic
  padding (each Poisson batch run in chunks of similar length), per-sample
  clipping by ghost clipping (linear layers by their per-sample norms, layer norms
  by their small per-sample gradients), noise calibrated for the planned steps,
  warmup and linear decay. What learns: the biases and layer norms of the encoder
  layers and the head (DP-BiTFiT, Bu et al. 2022); the embeddings, the pooler and
  the weight matrices stay as pretrained on public text. On the SST-2 sample at
  ε = 8 that beat training every weight of the layers as well (0.78 against 0.72
  dev accuracy, see ``bench/README.md``): the noise DP-SGD adds grows with the
  number of weights that learn, and 4,000 rows cannot outweigh it over 10 million
  weights. ``DP_FINETUNE_SCOPE = "layers"`` trains the layers' weights too.

Both go through :func:`lepton_core.dp._sgd.dp_sgd`, the DP-SGD core the MLP uses, and
report the same :class:`lepton_core.dp._sgd.PrivacyReport`. The truncation length is a
fixed setting (128 tokens unless set), never read from the private texts. The
saved model is a plain ``text`` model with ``privacy`` in its meta.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from lepton_core.core import Task, TrainingError
from lepton_core.dp import (
    DEFAULT_MAX_GRAD_NORM,
    DP_PATIENCE,
    DPSGD,
    PrivacyOptions,
    dp_sgd,
    private_batch_size,
    train_private,
)
from lepton_core.models import ProgressFn
from lepton_core.text.library import DEFAULT_BASE
from lepton_core.text.model import TextModel, _logits

__all__ = ["DPTextModel"]

#: Expected batch of Poisson sampling, epochs and step size of the private Quick head.
DP_TEXT_BATCH = 256
DP_TEXT_EPOCHS = 20
DP_TEXT_LEARNING_RATE = 0.05
#: Truncation length unless the user sets one: a fixed setting, so that it reveals
#: nothing about the private texts (short-text classification rarely needs more).
DP_TEXT_MAX_LENGTH = 128
#: DP fine-tune: larger expected batches (the noise per step is shared by the batch),
#: larger steps and more epochs than the plain fine-tune, as in DP NLP work; what
#: learns ("bias": biases, layer norms and the head; "layers": every layer weight
#: too), and the head's own step size (it starts from nothing).
DP_FINETUNE_BATCH = 256
DP_FINETUNE_EPOCHS = 3.0
DP_FINETUNE_LEARNING_RATE = 5e-3
DP_FINETUNE_SCOPE = "bias"
DP_FINETUNE_HEAD_LEARNING_RATE = 0.01
#: Evaluations without a lower validation loss before stopping (noisy under DP).
DP_FINETUNE_PATIENCE = 3
_SCOPE_NOTES = {
    "bias": "The embeddings and the weight matrices (pretrained on public text) are frozen; "
    "the biases and layer norms of the encoder layers and the head learned from the rows "
    "with DP-SGD.",
    "layers": "The word and position embeddings (pretrained on public text) are frozen; "
    "the encoder layers and the head learned from the rows with DP-SGD.",
}
_EVAL_BATCH = 64
#: A Poisson batch is run in chunks of similar length: less padding, bounded memory.
_MICRO_BATCH = 16


class DPTextModel(TextModel):
    """A text model trained with DP-SGD in Quick or Fine-tune mode; saved as a ``text`` model.

    Set the privacy target with :meth:`set_privacy` before ``fit``; ``privacy_``
    holds the :class:`lepton_core.dp._sgd.PrivacyReport` after it. Defaults differ from
    :class:`TextModel`'s where DP-SGD needs it: a fixed ``max_length`` of 128,
    fine-tuning for 3 epochs at an expected batch of 256 and learning rate 5e-3
    (the head's 0.01), no weight decay, patience 3. ``batch_size`` is the expected
    batch of Poisson sampling. Quick mode's head keeps its own settings (expected
    batch 256, at most 20 epochs).
    """

    def __init__(
        self,
        task: Task = "binary",
        seed: int = 0,
        base: str = DEFAULT_BASE,
        mode: str = "finetune",
        max_length: int | None = DP_TEXT_MAX_LENGTH,
        epochs: float = DP_FINETUNE_EPOCHS,
        learning_rate: float = DP_FINETUNE_LEARNING_RATE,
        batch_size: int = DP_FINETUNE_BATCH,
        warmup_ratio: float = 0.1,
        weight_decay: float = 0.0,
        patience: int = DP_FINETUNE_PATIENCE,
        evals_per_epoch: int = 2,
        probe_init: bool = False,
        cache_dir: str | None = None,
    ) -> None:
        super().__init__(
            task=task,
            seed=seed,
            base=base,
            mode=mode,
            max_length=max_length,
            epochs=epochs,
            learning_rate=learning_rate,
            batch_size=batch_size,
            warmup_ratio=warmup_ratio,
            weight_decay=weight_decay,
            patience=patience,
            evals_per_epoch=evals_per_epoch,
            probe_init=probe_init,
            cache_dir=cache_dir,
        )

    def set_privacy(self, options: PrivacyOptions) -> DPTextModel:
        self.privacy_options = options.check()
        return self

    def _options(self) -> PrivacyOptions:
        return getattr(self, "privacy_options", PrivacyOptions(max_grad_norm=DEFAULT_MAX_GRAD_NORM))

    def _fit(self, X, y, valid, progress) -> None:
        if self.max_length is None:
            raise TrainingError(
                "Differential privacy needs a fixed maximum text length (it must not be read "
                f"from the private texts); set max_length, such as {DP_TEXT_MAX_LENGTH}."
            )
        if self.mode == "finetune" and self.probe_init:
            raise TrainingError(
                "A private fine-tune starts its head at random; turn probe_init off, or "
                "train without the privacy option."
            )
        super()._fit(X, y, valid, progress)

    # -- Quick: the head on frozen embeddings -----------------------------------------

    def _fit_probe(self, network, texts, y, valid_texts, valid_y, progress) -> None:
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
            options=self._options(),
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

    # -- Fine-tune: the encoder layers' biases and norms, and the head -----------------

    def _finetune(self, network, texts, y, valid_texts, valid_y, progress) -> None:
        from torch.utils.data import DataLoader

        frozen = _freeze_public_layers(network, DP_FINETUNE_SCOPE)
        head = list(network.classifier.parameters())
        body = [
            p for p in network.parameters() if p.requires_grad and all(p is not h for h in head)
        ]
        encoded = self.tokenizer_(texts, truncation=True, max_length=self.max_length_)
        rows = _TokenRows(encoded["input_ids"], np.asarray(y))
        loader = DataLoader(
            rows,
            batch_size=private_batch_size(len(rows), int(self.batch_size)),
            shuffle=True,
            generator=torch.Generator().manual_seed(int(self.seed)),
            collate_fn=_PadBatch(self.tokenizer_),
        )
        # The head starts from nothing and needs far larger steps than the pretrained
        # layers (its own step size, as Quick mode's private head has).
        optimizer = torch.optim.AdamW(
            [{"params": body}, {"params": head, "lr": DP_FINETUNE_HEAD_LEARNING_RATE}],
            lr=float(self.learning_rate),
            weight_decay=float(self.weight_decay),
        )
        try:
            with dp_sgd(
                network,
                optimizer,
                loader,
                nn.CrossEntropyLoss(),
                options=self._options(),
                epochs=float(self.epochs),
                seed=int(self.seed),
            ) as dp:
                loop = _FinetuneLoop(self, dp, optimizer, progress)
                loop.run(valid_texts, np.asarray(valid_y))
        except torch.OutOfMemoryError:
            raise TrainingError(
                "Private fine-tuning ran out of memory; lower the batch size or the maximum length."
            ) from None
        finally:
            for p in frozen:
                p.requires_grad_(True)
        self.privacy_ = dp.report(
            epochs=math.ceil(loop.step / dp.steps_per_epoch),
            notes=[
                _SCOPE_NOTES[DP_FINETUNE_SCOPE],
                "Validation rows choose the best checkpoint; they come from the same private "
                "table, so the guarantee covers the training rows.",
                f"Texts are cut at {self.max_length_} tokens, a fixed setting not read from "
                "the private texts.",
            ],
        )
        self.history_ = loop.history
        self.best_iteration_ = loop.best_step
        self.cancelled_ = loop.cancelled

    def _estimator_meta(self) -> dict[str, Any]:
        meta = super()._estimator_meta()
        if hasattr(self, "privacy_"):
            meta["privacy"] = self.privacy_.to_dict()
        return meta


# -- helpers ------------------------------------------------------------------------


def _freeze_public_layers(network: nn.Module, scope: str = "layers") -> list[nn.Parameter]:
    """Freeze the encoder's embeddings and pooler; return the parameters frozen here.

    ``scope="bias"`` also freezes the weight matrices of the encoder's linear layers,
    leaving their biases, the layer norms and the head to learn.
    """
    encoder = network.encoder
    parts = [getattr(encoder, "embeddings", None), getattr(encoder, "pooler", None)]
    if parts[0] is None:  # an encoder without an ``embeddings`` block: its token table
        parts[0] = encoder.get_input_embeddings()
    frozen = [p for part in parts if part is not None for p in part.parameters()]
    if scope == "bias":
        frozen += [m.weight for m in encoder.modules() if isinstance(m, nn.Linear)]
    frozen = [p for p in frozen if p.requires_grad]
    for p in frozen:
        p.requires_grad_(False)
    return frozen


class _TokenRows(torch.utils.data.Dataset):
    """Token ids (unpadded), their mask and the label of each training text.

    Items have the batch's structure, ``(input_ids, attention_mask, label)``, so that
    Opacus can build an empty batch from one if a Poisson batch comes out empty.
    """

    def __init__(self, ids: list[list[int]], labels: np.ndarray) -> None:
        self.ids = ids
        self.labels = labels

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        ids = torch.as_tensor(self.ids[i], dtype=torch.long)
        return ids, torch.ones_like(ids), torch.as_tensor(int(self.labels[i]), dtype=torch.long)


class _PadBatch:
    """Pads a batch to its own longest text: ``(input_ids, attention_mask, labels)``."""

    def __init__(self, tokenizer: Any) -> None:
        self.pad_id = tokenizer.pad_token_id or 0
        self.left = getattr(tokenizer, "padding_side", "right") == "left"

    def __call__(self, batch: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]):
        width = max((len(ids) for ids, _, _ in batch), default=0)
        input_ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, (ids, ones, _) in enumerate(batch):
            cols = slice(width - len(ids), width) if self.left else slice(0, len(ids))
            input_ids[row, cols] = ids
            mask[row, cols] = ones
        labels = torch.stack([label for _, _, label in batch]) if batch else torch.empty(0)
        return input_ids, mask, labels.long()


def _by_length(
    input_ids: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor, size: int
) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Split a padded batch into chunks of ``size`` texts of similar length, each trimmed."""
    order = torch.argsort(mask.sum(dim=1), stable=True)
    chunks = []
    for start in range(0, len(order), size):
        idx = order[start : start + size]
        keep = mask[idx].any(dim=0)  # drop the columns that are padding in every text
        chunks.append((input_ids[idx][:, keep], mask[idx][:, keep], labels[idx]))
    return chunks


class _FinetuneLoop:
    """DP-SGD steps up to the planned number, evaluating, logging and early stopping.

    Reports through ``progress(step, total, logs)`` like the plain fine-tune: train
    loss every few steps, validation loss and accuracy at each evaluation; a true
    return stops training. The best evaluation's weights are restored at the end.
    """

    def __init__(self, model: DPTextModel, dp: DPSGD, optimizer: Any, progress: ProgressFn | None):
        self.model, self.dp, self.progress = model, dp, progress
        total = dp.planned_steps
        warmup = math.ceil(total * float(model.warmup_ratio))
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer,
            lambda s: (
                (s + 1) / warmup if s < warmup else max(0.0, (total - s) / max(1, total - warmup))
            ),
        )
        evals = max(1, int(model.evals_per_epoch))
        self.eval_every = max(1, math.ceil(dp.steps_per_epoch / evals))
        self.log_every = max(1, min(self.eval_every, total // 50 or 1))
        self.history: list[dict[str, float]] = []
        self.step = 0
        self.best_step: int | None = None
        self.cancelled = False

    def run(self, valid_texts: list[str], valid_y: np.ndarray) -> None:
        dp, network = self.dp, self.dp.network
        device = next(network.parameters()).device
        named = [(n, p) for n, p in network.named_parameters() if p.requires_grad]
        best_loss, best_state, stale = math.inf, None, 0
        losses: list[tuple[float, int]] = []
        while self.step < dp.planned_steps:
            for input_ids, mask, labels in dp.loader:
                dp.module.train()
                dp.optimizer.zero_grad()
                chunks = _by_length(input_ids, mask, labels, _MICRO_BATCH)
                if not chunks:  # an empty Poisson batch still takes a step: noise only
                    for p in dp.optimizer.params:
                        p.grad = torch.zeros_like(p)
                for i, (ids, keep, target) in enumerate(chunks):
                    logits = dp.module(
                        input_ids=ids.to(device), attention_mask=keep.to(device)
                    ).logits
                    loss = dp.criterion(logits, target.to(device))
                    loss.backward()  # clipped per-sample gradients, summed into the step's
                    losses.append((loss.item(), len(target)))
                    if i < len(chunks) - 1:
                        dp.optimizer.signal_skip_step(do_skip=True)
                        dp.optimizer.step()  # accumulates only: no noise, no accounting
                dp.optimizer.step()
                self.scheduler.step()
                self.step += 1
                last = self.step >= dp.planned_steps
                logs: dict[str, float] = {}
                if losses and (self.step % self.log_every == 0 or last):
                    values, counts = zip(*losses, strict=True)
                    logs["train_loss"] = float(np.average(values, weights=counts))
                    losses = []
                if valid_y.size and (self.step % self.eval_every == 0 or last):
                    logs.update(self._evaluate(network, valid_texts, valid_y))
                    if logs["valid_loss"] < best_loss:
                        best_loss, stale, self.best_step = logs["valid_loss"], 0, self.step
                        best_state = {n: p.detach().clone() for n, p in named}
                    else:
                        stale += 1
                if logs and self._report(logs):
                    self.cancelled = True
                if last or self.cancelled or stale >= self.model.patience:
                    break
            if self.cancelled or stale >= self.model.patience:
                break
        if best_state is not None:
            with torch.no_grad():
                for n, p in named:
                    p.copy_(best_state[n])
        network.eval()

    def _evaluate(self, network, texts: list[str], y: np.ndarray) -> dict[str, float]:
        logits = _logits(
            network,
            self.model.tokenizer_,
            texts,
            max_length=self.model.max_length_,
            batch_size=_EVAL_BATCH,
        )
        scores = torch.as_tensor(logits)
        loss = nn.functional.cross_entropy(scores, torch.as_tensor(y, dtype=torch.long))
        return {
            "valid_loss": float(loss),
            "valid_accuracy": float((logits.argmax(axis=1) == y).mean()),
        }

    def _report(self, logs: dict[str, float]) -> bool:
        if self.history and self.history[-1]["step"] == self.step:
            self.history[-1].update(logs)
        else:
            self.history.append({"step": self.step, **logs})
        return bool(
            self.progress is not None
            and self.progress(self.step, self.dp.planned_steps, dict(logs))
        )
