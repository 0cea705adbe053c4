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

Both go through :func:`lepton_core.dp.dp_sgd`, the DP-SGD core the MLP uses, and
report the same :class:`lepton_core.dp.PrivacyReport`. The truncation length is a
fixed setting (128 tokens unless set), never read from the private texts. The
saved model is a plain ``text`` model with ``privacy`` in its meta.

The estimator, :class:`~lepton_core.text.DPTextModel`, lives with the plain one in
:mod:`._model`; this module imports torch at the top and is imported on first use.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from lepton_core.core import Message, TrainingError
from lepton_core.dp import (
    DP_PATIENCE,
    DPSGD,
    PrivacyOptions,
    PrivacyReport,
    dp_sgd,
    private_batch_size,
)
from lepton_core.models import ProgressFn, train_private
from lepton_core.text._network import TextClassifier, text_logits

__all__ = ["DP_FINETUNE_SCOPE", "private_finetune", "train_private_head"]

#: Expected batch of Poisson sampling, epochs and step size of the private Quick head.
DP_TEXT_BATCH = 256
DP_TEXT_EPOCHS = 20
DP_TEXT_LEARNING_RATE = 0.05
#: What the DP fine-tune trains ("bias": biases, layer norms and the head; "layers":
#: every layer weight too), and the head's own step size (it starts from nothing).
DP_FINETUNE_SCOPE = "bias"
DP_FINETUNE_HEAD_LEARNING_RATE = 0.01
_SCOPE_NOTES = {
    "bias": Message("dp.note.scope_bias"),
    "layers": Message("dp.note.scope_layers"),
}
_EVAL_BATCH = 64
#: A Poisson batch is run in chunks of similar length: less padding, bounded memory.
_MICRO_BATCH = 16


def train_private_head(
    network: TextClassifier,
    train_x: np.ndarray,
    y: np.ndarray,
    valid: tuple[np.ndarray, np.ndarray],
    *,
    options: PrivacyOptions,
    seed: int,
    progress: ProgressFn | None,
) -> tuple[Any, PrivacyReport]:
    """Quick mode: train ``network``'s head on frozen embeddings with DP-SGD.

    Returns the training outcome and the privacy report.
    """
    valid_x, valid_y = valid
    n_classes = network.config.num_labels

    def head() -> nn.Module:
        built = nn.Linear(train_x.shape[1], n_classes)
        with torch.no_grad():  # zero start: nothing learned from the rows before DP-SGD
            nn.init.zeros_(built.weight)
            nn.init.zeros_(built.bias)
        return built

    trained, outcome, report = train_private(
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
        seed=seed,
        progress=progress,
    )
    report.notes.append(Message("dp.note.frozen_encoder"))
    network.classifier.load_state_dict(trained.state_dict())
    return outcome, report


def private_finetune(
    model: Any,
    network: TextClassifier,
    texts: list[str],
    y: np.ndarray,
    valid: tuple[list[str], np.ndarray],
    options: PrivacyOptions,
    progress: ProgressFn | None,
) -> tuple[_FinetuneLoop, PrivacyReport]:
    """Fine-tune mode: the encoder layers' biases and norms, and the head, with DP-SGD.

    ``model`` is the :class:`~lepton_core.text.DPTextModel` being fitted (its settings,
    tokenizer and truncation length). Returns the finished loop (history, best step,
    whether it was cancelled) and the privacy report.
    """
    frozen = _freeze_public_layers(network, DP_FINETUNE_SCOPE)
    head = list(network.classifier.parameters())
    body = [p for p in network.parameters() if p.requires_grad and all(p is not h for h in head)]
    encoded = model.tokenizer_(texts, truncation=True, max_length=model.max_length_)
    rows = _TokenRows(encoded["input_ids"], np.asarray(y))
    loader = DataLoader(
        rows,
        batch_size=private_batch_size(len(rows), int(model.batch_size)),
        shuffle=True,
        generator=torch.Generator().manual_seed(int(model.seed)),
        collate_fn=_PadBatch(model.tokenizer_),
    )
    # The head starts from nothing and needs far larger steps than the pretrained
    # layers (its own step size, as Quick mode's private head has).
    optimizer = torch.optim.AdamW(
        [{"params": body}, {"params": head, "lr": DP_FINETUNE_HEAD_LEARNING_RATE}],
        lr=float(model.learning_rate),
        weight_decay=float(model.weight_decay),
    )
    try:
        with dp_sgd(
            network,
            optimizer,
            loader,
            nn.CrossEntropyLoss(),
            options=options,
            epochs=float(model.epochs),
            seed=int(model.seed),
        ) as dp:
            loop = _FinetuneLoop(model, dp, optimizer, progress)
            loop.run(valid[0], np.asarray(valid[1]))
    except torch.OutOfMemoryError:
        raise TrainingError(
            "Private fine-tuning ran out of memory; lower the batch size or the maximum length."
        ) from None
    finally:
        for p in frozen:
            p.requires_grad_(True)
    report = dp.report(
        epochs=math.ceil(loop.step / dp.steps_per_epoch),
        notes=[
            _SCOPE_NOTES[DP_FINETUNE_SCOPE],
            Message("dp.note.validation_checkpoint"),
            Message("dp.note.cut_texts", tokens=model.max_length_),
        ],
    )
    return loop, report


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

    def __init__(self, model: Any, dp: DPSGD, optimizer: Any, progress: ProgressFn | None):
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
        logits = text_logits(
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
