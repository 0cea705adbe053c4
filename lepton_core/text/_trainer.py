"""Training a text network: the linear probe on frozen embeddings, and the full fine-tune.

- **quick** keeps the encoder frozen: only the head is trained, on mean-pooled
  embeddings (:func:`train_probe`).
- **finetune** trains every weight with ``transformers.Trainer``: dynamic
  padding, length-grouped batches, warmup and linear decay, evaluation on the
  validation set, early stopping and the best checkpoint restored
  (:func:`finetune`). Its logs reach Lepton's ``progress`` through
  :class:`_ProgressBridge`.

Both cache what they compute from the texts (embeddings as ``.npy``, tokenised data
sets as Arrow files) in the model's cache folder.

This module imports torch and transformers at the top; the estimator imports it
on first use (see :mod:`._model`).
"""

from __future__ import annotations

import math
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from transformers import (
    DataCollatorWithPadding,
    EarlyStoppingCallback,
    PrinterCallback,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)
from transformers.utils import logging as hf_logging

from lepton_core.core import TrainingError
from lepton_core.models import ProgressFn, train_network
from lepton_core.text._network import TextClassifier, embed
from lepton_core.text._tokens import cache_key, default_cache_dir, tokenize_dataset

__all__ = ["embeddings", "finetune", "train_probe"]

# The linear probe (quick mode, and the head LP-FT starts from).
_PROBE_LR = 1e-2
_PROBE_BATCH = 256
_PROBE_EPOCHS = 100
_PROBE_PATIENCE = 5


def train_probe(
    network: TextClassifier,
    train_x: np.ndarray,
    y: np.ndarray,
    valid: tuple[np.ndarray, np.ndarray],
    *,
    weight_decay: float,
    seed: int,
    progress: ProgressFn | None,
) -> Any:
    """Train ``network``'s head on the frozen embeddings ``train_x``; return the outcome.

    The outcome's last history entry gets the validation accuracy.
    """
    valid_x, valid_y = valid
    n_classes = network.config.num_labels
    # Standardised inputs train fast with one learning rate for any encoder;
    # the scaling is folded back into the head afterwards.
    mean = train_x.mean(axis=0)
    scale = train_x.std(axis=0) + 1e-6
    head = nn.Linear(train_x.shape[1], n_classes)
    counts = np.bincount(y, minlength=n_classes)
    with torch.no_grad():
        nn.init.zeros_(head.weight)
        head.bias.copy_(torch.as_tensor(np.log(counts + 1.0), dtype=torch.float32))
    outcome = train_network(
        head,
        (train_x - mean) / scale,
        y,
        ((valid_x - mean) / scale, valid_y),
        task="multiclass",
        batch_size=_PROBE_BATCH,
        learning_rate=_PROBE_LR,
        weight_decay=weight_decay,
        max_epochs=_PROBE_EPOCHS,
        patience=_PROBE_PATIENCE,
        seed=seed,
        progress=progress,
    )
    weight = head.weight.detach() / torch.as_tensor(scale, dtype=torch.float32)
    bias = head.bias.detach() - weight @ torch.as_tensor(mean, dtype=torch.float32)
    with torch.no_grad():
        network.classifier.weight.copy_(weight)
        network.classifier.bias.copy_(bias)
    if outcome.history and valid_y.size:
        valid_logits = torch.as_tensor(valid_x, dtype=torch.float32) @ weight.T + bias
        accuracy = float((valid_logits.argmax(1).numpy() == valid_y).mean())
        outcome.history[-1]["valid_accuracy"] = accuracy
    return outcome


def embeddings(
    model: Any,
    network: TextClassifier,
    texts: list[str],
    *,
    batch_size: int,
    should_stop: Any = None,
) -> np.ndarray:
    """Mean-pooled frozen embeddings of ``texts`` for the text ``model`` being fitted,
    cached per base, data and length; ``should_stop`` as :func:`~._network.embed`'s (an
    unfinished pass is not cached)."""
    folder = _cache_folder(model)
    key = cache_key(model.base, texts, "embeddings", model.max_length_)
    path = folder / f"embeddings-{key}.npy"
    if path.is_file():
        cached = np.load(path)
        if cached.shape == (len(texts), network.config.hidden_size):
            return cached
    tokenizer, max_length = model.tokenizer_, model.max_length_
    out = embed(
        network,
        tokenizer,
        texts,
        max_length=max_length,
        batch_size=batch_size,
        should_stop=should_stop,
    )
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, out)
    tmp.replace(path)
    return out


def finetune(
    model: Any,
    network: TextClassifier,
    texts: list[str],
    y: np.ndarray,
    valid: tuple[list[str], np.ndarray],
    progress: ProgressFn | None,
    *,
    eval_batch_size: int,
) -> tuple[list[dict[str, float]], int | None, bool]:
    """Fine-tune every weight of ``network`` with the settings of the text ``model``.

    The texts are tokenised (and cached) first; the validation texts are scored
    ``eval_batch_size`` at a time. Returns the history, the step whose weights were
    kept and whether ``progress`` cancelled.

    Raises
    ------
    TrainingError
        The network ran out of memory.
    """
    train_set = _tokenized(model, texts, y)
    valid_set = _tokenized(model, *valid)
    steps_per_epoch = math.ceil(len(train_set) / model.batch_size)
    total = max(1, math.ceil(steps_per_epoch * float(model.epochs)))
    eval_steps = max(1, math.ceil(steps_per_epoch / max(1, int(model.evals_per_epoch))))
    bridge = _ProgressBridge(progress, total)
    output = tempfile.mkdtemp(prefix="lepton-text-")
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        args = TrainingArguments(
            output_dir=output,
            max_steps=total,
            per_device_train_batch_size=int(model.batch_size),
            per_device_eval_batch_size=eval_batch_size,
            learning_rate=float(model.learning_rate),
            weight_decay=float(model.weight_decay),
            warmup_steps=float(model.warmup_ratio),
            lr_scheduler_type="linear",
            eval_strategy="steps",
            eval_steps=eval_steps,
            save_strategy="steps",
            save_steps=eval_steps,
            save_total_limit=1,
            save_only_model=True,
            load_best_model_at_end=True,
            metric_for_best_model="eval_loss",
            greater_is_better=False,
            logging_strategy="steps",
            logging_steps=max(1, min(eval_steps, total // 50 or 1)),
            train_sampling_strategy="group_by_length",
            report_to="none",
            disable_tqdm=True,
            seed=int(model.seed),
            data_seed=int(model.seed),
            dataloader_num_workers=0,
            dataloader_pin_memory=torch.cuda.is_available(),
            use_cpu=not torch.cuda.is_available(),
        )
        trainer = Trainer(
            model=network,
            args=args,
            train_dataset=train_set,
            eval_dataset=valid_set,
            data_collator=DataCollatorWithPadding(model.tokenizer_),
            compute_metrics=_accuracy,
            callbacks=[bridge, EarlyStoppingCallback(early_stopping_patience=model.patience)],
        )
        trainer.remove_callback(PrinterCallback)  # logs go to ``progress``, not stdout
        try:
            trainer.train()
        except torch.OutOfMemoryError:
            raise TrainingError(
                "Fine-tuning ran out of memory; lower the batch size or the maximum length."
            ) from None
        state = trainer.state
    finally:
        hf_logging.set_verbosity(verbosity)
        shutil.rmtree(output, ignore_errors=True)
    return bridge.history, state.best_global_step, bridge.cancelled


class _ProgressBridge(TrainerCallback):
    """Forwards the Trainer's logs to Lepton's ``progress(step, total, logs)``.

    A true return from ``progress`` stops training (the job's cancel button).
    It also makes the last step evaluate, so the best checkpoint covers it.
    """

    def __init__(self, progress: ProgressFn | None, total: int) -> None:
        self.progress = progress
        self.total = total
        self.history: list[dict[str, float]] = []
        self.cancelled = False

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= state.max_steps:
            control.should_evaluate = True
            control.should_save = True

    def on_log(self, args, state, control, logs=None, **kwargs):
        names = {"loss": "train_loss", "eval_loss": "valid_loss", "eval_accuracy": "valid_accuracy"}
        entry = {names[k]: float(v) for k, v in (logs or {}).items() if k in names}
        if not entry:
            return
        step = int(state.global_step)
        if self.history and self.history[-1]["step"] == step:
            self.history[-1].update(entry)
        else:
            self.history.append({"step": step, **entry})
        if self.progress is not None and self.progress(step, self.total, dict(entry)):
            self.cancelled = True
            control.should_training_stop = True


def _tokenized(model: Any, texts: list[str], labels: np.ndarray) -> Any:
    return tokenize_dataset(
        texts,
        model.tokenizer_,
        base=model.base,
        max_length=model.max_length_,
        labels=labels,
        cache_dir=_cache_folder(model),
    )


def _cache_folder(model: Any) -> Path:
    return Path(model.cache_dir) if model.cache_dir else default_cache_dir()


def _accuracy(prediction: Any) -> dict[str, float]:
    logits, labels = prediction.predictions, prediction.label_ids
    if isinstance(logits, tuple):
        logits = logits[0]
    return {"accuracy": float((np.asarray(logits).argmax(axis=1) == labels).mean())}
