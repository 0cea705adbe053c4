"""The ``text`` model family: a pretrained transformer encoder with a classification head.

One network class, :class:`TextClassifier`, serves both training modes: mean
pooling over the encoder's last hidden state (all-MiniLM-L6-v2, the built-in
base, was trained with mean pooling), dropout and a linear head. It is a
``transformers.PreTrainedModel``, so ``Trainer``, ``pipeline("text-classification")``
and ``save_pretrained`` work with it unchanged.

- **finetune** trains every weight with ``transformers.Trainer``: dynamic
  padding, length-grouped batches, warmup and linear decay, evaluation on the
  validation set, early stopping and the best checkpoint restored. The head
  starts at random: starting it from the quick-mode probe (LP-FT, optional)
  was measured worse on SST-2 (see ``bench/README.md``).
- **quick** keeps the encoder frozen: mean-pooled embeddings are computed once
  (cached as ``.npy``) and only the head is trained.

Saved files: fine-tuned models store the network (``model.safetensors`` and
``config.json``) and the tokenizer files; quick models store only the head
(``head.safetensors``) and the base model's name, whose weights are loaded (and
for the built-in MiniLM verified by SHA-256) again when the model is read.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from torch import nn
from transformers import PretrainedConfig, PreTrainedModel, TrainerCallback
from transformers.modeling_outputs import SequenceClassifierOutput

from lepton_core.core import DataError, ModelError, NotFittedError, Task, TrainingError
from lepton_core.models import LeptonModel, ProgressFn
from lepton_core.models import _base as _models
from lepton_core.text import tokens as _tokens
from lepton_core.text.library import DEFAULT_BASE, base_title, load_encoder, load_tokenizer

__all__ = ["MODES", "TextClassifier", "TextModel", "mean_pool"]

MODES = ("finetune", "quick")
HEAD_FILE = "head.safetensors"
_PREDICT_BATCH = 64
#: Prediction reads texts up to this many tokens (or the encoder's limit, if lower).
_PREDICT_MAX_LENGTH = 512
# The linear probe (quick mode, and the head LP-FT starts from).
_PROBE_LR = 1e-2
_PROBE_BATCH = 256
_PROBE_EPOCHS = 100
_PROBE_PATIENCE = 5


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average of the token vectors ``hidden`` over the tokens ``attention_mask`` keeps."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


class TextClassifier(PreTrainedModel):
    """Encoder → mean pooling → dropout → linear head; outputs one logit per class.

    ``config`` is the encoder's own config with ``num_labels`` and
    ``id2label`` set. Pass ``encoder`` to wrap pretrained weights; without it
    the encoder is built from ``config`` (weights to be loaded afterwards).
    """

    config_class = PretrainedConfig
    base_model_prefix = "encoder"
    main_input_name = "input_ids"
    # Attention runs inside the encoder, which chose its implementation when it loaded.
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_attention_backend = True

    def __init__(self, config: PretrainedConfig, encoder: nn.Module | None = None) -> None:
        super().__init__(config)
        if encoder is None:
            from transformers import AutoModel

            encoder = AutoModel.from_config(config)
        self.encoder = encoder
        dropout = getattr(config, "classifier_dropout", None)
        if dropout is None:
            dropout = getattr(config, "hidden_dropout_prob", 0.1)
        self.dropout = nn.Dropout(float(dropout))
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        # Initialise the head only: post_init() would also touch the pretrained encoder.
        nn.init.normal_(self.classifier.weight, std=getattr(config, "initializer_range", 0.02))
        nn.init.zeros_(self.classifier.bias)

    def embed(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids=None
    ) -> torch.Tensor:
        """Mean-pooled sentence embeddings, shape ``(batch, hidden_size)``."""
        kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids
        hidden = self.encoder(**kwargs).last_hidden_state
        return mean_pool(hidden, attention_mask)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> SequenceClassifierOutput:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        logits = self.classifier(
            self.dropout(self.embed(input_ids, attention_mask, token_type_ids))
        )
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits, labels.view(-1))
        return SequenceClassifierOutput(loss=loss, logits=logits)


class TextModel(LeptonModel):
    """Text classification by a pretrained transformer (binary or multiclass).

    The input is a table with exactly one column of text (missing text is
    read as empty).

    Parameters
    ----------
    task : {"binary", "multiclass"}
    seed : int
    base : str
        A library key (``"minilm"``, the built-in default), a Hugging Face
        model id or a local folder with safetensors weights.
    mode : {"finetune", "quick"}
        Fine-tune every weight, or train only a head on frozen embeddings.
    max_length : int, optional
        Truncation length for training; None picks the 95th percentile of the
        training texts' token lengths (at most 256). Prediction reads texts up
        to 512 tokens (mean pooling does not depend on the length).
    epochs : float
        Passes over the training data when fine-tuning (fractions allowed).
    learning_rate : float
        Peak learning rate of the fine-tune, after warmup.
    batch_size : int
        Texts per fine-tuning step.
    warmup_ratio : float
        Share of the steps spent warming the learning rate up from 0; it then
        decays linearly to 0.
    weight_decay : float
        AdamW weight decay (the quick head's too).
    patience : int
        Evaluations without a lower validation loss before fine-tuning stops.
    evals_per_epoch : int
        How often per epoch the validation set is scored (and a checkpoint kept).
    probe_init : bool
        Start the fine-tune's head from a linear probe on the frozen
        embeddings (LP-FT) rather than at random; off by default, as it
        measured worse (the probe's large weights make the first steps jolt
        the encoder).
    cache_dir : str, optional
        Where tokenised data and embeddings are cached; default
        ``<workspace>/cache/text``.

    Attributes
    ----------
    classes_ : ndarray
        The labels, in the order of the network's outputs.
    final_estimator_ : TextClassifier
        The network (``config.id2label`` holds the labels as text).
    tokenizer_ : transformers tokenizer
    max_length_ : int
        The truncation length training used.
    history_ : list of dict
        ``{"step", "train_loss", "valid_loss", "valid_accuracy"}`` per logged
        step (fine-tune: optimiser steps; quick: epochs of the head).
    best_iteration_ : int or None
        The step (or epoch) whose weights were kept.
    cancelled_ : bool
        Whether ``progress`` stopped training early.
    """

    family = "text"
    margin = "logit"
    _TITLE: ClassVar[str] = "Text classifier (transformer)"

    def __init__(
        self,
        task: Task = "binary",
        seed: int = 0,
        base: str = DEFAULT_BASE,
        mode: str = "finetune",
        max_length: int | None = None,
        epochs: float = 1.0,
        learning_rate: float = 1e-4,
        batch_size: int = 16,
        warmup_ratio: float = 0.1,
        weight_decay: float = 0.01,
        patience: int = 2,
        evals_per_epoch: int = 2,
        probe_init: bool = False,
        cache_dir: str | None = None,
    ) -> None:
        self.task = task
        self.seed = seed
        self.base = base
        self.mode = mode
        self.max_length = max_length
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.warmup_ratio = warmup_ratio
        self.weight_decay = weight_decay
        self.patience = patience
        self.evals_per_epoch = evals_per_epoch
        self.probe_init = probe_init
        self.cache_dir = cache_dir

    # -- public API ------------------------------------------------------------

    def logits(
        self, texts: Sequence[str] | pd.Series, batch_size: int = _PREDICT_BATCH
    ) -> np.ndarray:
        """Class scores for ``texts``, shape ``(n, n_classes)`` in the order of ``classes_``.

        Texts are scored in batches of similar length (less padding) and put
        back in the given order.
        """
        self._check_fitted()
        values = pd.Series(list(texts) if not isinstance(texts, pd.Series) else texts, dtype=object)
        return self._scores(values.fillna("").astype(str).tolist(), batch_size)

    def token_logits(
        self, rows: Sequence[Sequence[int]], batch_size: int = _PREDICT_BATCH
    ) -> np.ndarray:
        """Class scores for texts given as token ids, special tokens included, as :meth:`logits`.

        A row is what the tokenizer makes of a text, possibly with some ids
        replaced (token SHAP's masked texts, scored without tokenising them
        again). Rows longer than the model reads are cut as texts are: the
        closing special tokens are kept.
        """
        self._check_fitted()
        limit = self._predict_max_length()
        closing = _closing_specials(self.tokenizer_)
        cut = [
            list(row[: limit - closing]) + list(row[len(row) - closing :])
            if len(row) > limit
            else row
            for row in rows
        ]
        return _token_logits(self.final_estimator_, self.tokenizer_, cut, batch_size=batch_size)

    def _scores(self, texts: list[str], batch_size: int = _PREDICT_BATCH) -> np.ndarray:
        return _logits(
            self.final_estimator_,
            self.tokenizer_,
            texts,
            max_length=self._predict_max_length(),
            batch_size=batch_size,
        )

    # -- schema ----------------------------------------------------------------

    def _learn_schema(self, X: pd.DataFrame) -> pd.DataFrame:
        # A text column is one feature, not thousands of categories.
        if self.task == "regression":
            raise DataError(
                "Text models classify (binary or multiclass) and cannot predict numbers; "
                "pick a target with classes or a tabular model for a numeric target."
            )
        if self.mode not in MODES:
            raise ValueError(f"Unknown mode {self.mode!r}; use one of {', '.join(MODES)}.")
        if X.shape[1] != 1:
            raise DataError(
                f"A text model reads exactly one text column but the table has {X.shape[1]} "
                f"({', '.join(map(str, X.columns[:5]))}); keep only the text column as a feature."
            )
        self.feature_names_in_ = list(X.columns)
        self.n_features_in_ = 1
        self.numeric_features_ = []
        self.categorical_features_ = []
        self.categories_ = {}
        self.feature_groups_ = {self.feature_names_in_[0]: [0]}
        self.feature_names_out_ = [self.feature_names_in_[0]]
        return self._clean(X)

    def _clean(self, X: pd.DataFrame) -> pd.DataFrame:
        cleaned = super()._clean(X)
        return cleaned.fillna("")

    def _texts(self, X: pd.DataFrame) -> list[str]:
        return X.iloc[:, 0].astype(str).tolist()

    def _check_fitted(self) -> None:
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(f"This {self._TITLE} model is not trained yet; fit it before use.")

    # -- training --------------------------------------------------------------

    def _fit(self, X, y, valid, progress) -> None:
        if valid is None:
            X, y, valid = self._holdout(X, y)
        texts, valid_texts = self._texts(X), self._texts(valid[0])
        tokenizer = load_tokenizer(self.base)
        if self.max_length is not None:
            max_length = int(self.max_length)
        else:
            max_length = _tokens.suggest_max_length(_tokens.token_lengths(texts, tokenizer))
        limit = _encoder_limit(tokenizer)
        self.max_length_ = int(min(max_length, limit))
        self.tokenizer_ = tokenizer
        encoder = load_encoder(self.base)
        config = encoder.config
        _label(config, self.classes_)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            network = TextClassifier(config, encoder=encoder)
            network.to(_device())
            if self.mode == "quick" or self.probe_init:
                quick = self.mode == "quick"
                self._fit_probe(
                    network, texts, y, valid_texts, valid[1], progress if quick else None
                )
            if self.mode == "finetune":
                self._finetune(network, texts, y, valid_texts, valid[1], progress)
        self.final_estimator_ = network.eval()

    def _embeddings(self, network: TextClassifier, texts: list[str]) -> np.ndarray:
        """Mean-pooled frozen embeddings of ``texts``, cached per base, data and length."""
        folder = self._cache_folder()
        key = _tokens.cache_key(self.base, texts, "embeddings", self.max_length_)
        path = folder / f"embeddings-{key}.npy"
        if path.is_file():
            cached = np.load(path)
            if cached.shape == (len(texts), network.config.hidden_size):
                return cached
        embeddings = _embed(network, self.tokenizer_, texts, max_length=self.max_length_)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, embeddings)
        tmp.replace(path)
        return embeddings

    def _fit_probe(self, network, texts, y, valid_texts, valid_y, progress) -> None:
        """Train the head on frozen embeddings (quick mode, and LP-FT's start)."""
        from lepton_core.models import _mlp_net as _mlp

        train_x = self._embeddings(network, texts)
        valid_x = self._embeddings(network, valid_texts)
        # Standardised inputs train fast with one learning rate for any encoder;
        # the scaling is folded back into the head afterwards.
        mean = train_x.mean(axis=0)
        scale = train_x.std(axis=0) + 1e-6
        head = nn.Linear(train_x.shape[1], len(self.classes_))
        counts = np.bincount(y, minlength=len(self.classes_))
        with torch.no_grad():
            nn.init.zeros_(head.weight)
            head.bias.copy_(torch.as_tensor(np.log(counts + 1.0), dtype=torch.float32))
        optimizer = _mlp.build_optimizer(head, _PROBE_LR, self.weight_decay)
        loader = _mlp.build_loader(
            (train_x - mean) / scale, y, task="multiclass", batch_size=_PROBE_BATCH, seed=self.seed
        )
        outcome = _mlp.train(
            head,
            optimizer,
            loader,
            task="multiclass",
            valid=((valid_x - mean) / scale, valid_y),
            max_epochs=_PROBE_EPOCHS,
            patience=_PROBE_PATIENCE,
            progress=progress,
        )
        weight = head.weight.detach() / torch.as_tensor(scale, dtype=torch.float32)
        bias = head.bias.detach() - weight @ torch.as_tensor(mean, dtype=torch.float32)
        with torch.no_grad():
            network.classifier.weight.copy_(weight)
            network.classifier.bias.copy_(bias)
        if self.mode == "quick":
            self.history_ = outcome.history
            self.best_iteration_ = outcome.best_epoch
            self.cancelled_ = outcome.cancelled
            if outcome.history and valid_y.size:
                valid_logits = torch.as_tensor(valid_x, dtype=torch.float32) @ weight.T + bias
                accuracy = float((valid_logits.argmax(1).numpy() == valid_y).mean())
                self.history_[-1]["valid_accuracy"] = accuracy

    def _finetune(self, network, texts, y, valid_texts, valid_y, progress) -> None:
        from transformers import (
            DataCollatorWithPadding,
            EarlyStoppingCallback,
            PrinterCallback,
            Trainer,
            TrainingArguments,
        )
        from transformers.utils import logging as hf_logging

        train_set = self._tokenized(texts, y)
        valid_set = self._tokenized(valid_texts, valid_y)
        steps_per_epoch = math.ceil(len(texts) / self.batch_size)
        total = max(1, math.ceil(steps_per_epoch * float(self.epochs)))
        eval_steps = max(1, math.ceil(steps_per_epoch / max(1, int(self.evals_per_epoch))))
        bridge = _ProgressBridge(progress, total)
        output = tempfile.mkdtemp(prefix="lepton-text-")
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()
        try:
            args = TrainingArguments(
                output_dir=output,
                max_steps=total,
                per_device_train_batch_size=int(self.batch_size),
                per_device_eval_batch_size=_PREDICT_BATCH,
                learning_rate=float(self.learning_rate),
                weight_decay=float(self.weight_decay),
                warmup_steps=float(self.warmup_ratio),
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
                seed=int(self.seed),
                data_seed=int(self.seed),
                dataloader_num_workers=0,
                dataloader_pin_memory=torch.cuda.is_available(),
                use_cpu=not torch.cuda.is_available(),
            )
            trainer = Trainer(
                model=network,
                args=args,
                train_dataset=train_set,
                eval_dataset=valid_set,
                data_collator=DataCollatorWithPadding(self.tokenizer_),
                compute_metrics=_accuracy,
                callbacks=[bridge, EarlyStoppingCallback(early_stopping_patience=self.patience)],
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
        self.history_ = bridge.history
        self.best_iteration_ = state.best_global_step
        self.cancelled_ = bridge.cancelled

    def _tokenized(self, texts: list[str], labels: np.ndarray) -> Any:
        return _tokens.tokenize_dataset(
            texts,
            self.tokenizer_,
            base=self.base,
            max_length=self.max_length_,
            labels=labels,
            cache_dir=self._cache_folder(),
        )

    def _cache_folder(self) -> Path:
        return Path(self.cache_dir) if self.cache_dir else _tokens.default_cache_dir()

    def _predict_max_length(self) -> int:
        return int(min(_PREDICT_MAX_LENGTH, _encoder_limit(self.tokenizer_)))

    # -- outputs ---------------------------------------------------------------

    def _raw(self, X: pd.DataFrame) -> np.ndarray:
        scores = self._scores(self._texts(X))
        if self.task == "binary":
            return scores[:, 1] - scores[:, 0]
        return scores

    def _proba(self, X: pd.DataFrame) -> np.ndarray:
        from scipy.special import softmax

        return softmax(self._scores(self._texts(X)), axis=1)

    def _transform(self, X: pd.DataFrame) -> Any:
        return self.tokenizer_(
            self._texts(X),
            padding=True,
            truncation=True,
            max_length=self._predict_max_length(),
            return_tensors="pt",
        )

    # -- persistence -----------------------------------------------------------

    def _estimator_meta(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "base_title": base_title(self.base),
            "mode": self.mode,
            "max_length": self.max_length_,
            "n_classes": int(self.final_estimator_.config.num_labels),
        }

    def _save_estimator(self, folder: Path) -> list[str]:
        network = self.final_estimator_
        if self.mode == "quick":
            from safetensors.torch import save_file

            head = {
                k: v.detach().cpu().contiguous() for k, v in network.classifier.state_dict().items()
            }
            save_file(head, folder / HEAD_FILE)
            return [HEAD_FILE]
        before = {p.name for p in folder.iterdir()}
        network.save_pretrained(folder)
        self.tokenizer_.save_pretrained(folder)
        weights = list(folder.glob("*.bin")) + list(folder.glob("*.pt"))
        if weights:  # pragma: no cover - transformers writes safetensors
            raise ModelError("The network was not saved as safetensors; update transformers.")
        return sorted(p.name for p in folder.iterdir() if p.name not in before)

    def _load_estimator(self, folder: Path, meta: dict[str, Any]) -> None:
        spec = meta["estimator"]
        self.max_length_ = int(spec["max_length"])
        if spec["mode"] == "quick":
            from safetensors.torch import load_file

            self.tokenizer_ = load_tokenizer(spec["base"])
            encoder = load_encoder(spec["base"])  # the built-in MiniLM is verified again
            config = encoder.config
            _label(config, self.classes_)
            network = TextClassifier(config, encoder=encoder)
            network.classifier.load_state_dict(load_file(folder / HEAD_FILE))
        else:
            network = _load_network(folder, self.classes_)
            self.tokenizer_ = _load_saved_tokenizer(folder)
        self.final_estimator_ = network.to(_device()).eval()


# -- helpers ------------------------------------------------------------------------


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


def _accuracy(prediction: Any) -> dict[str, float]:
    logits, labels = prediction.predictions, prediction.label_ids
    if isinstance(logits, tuple):
        logits = logits[0]
    return {"accuracy": float((np.asarray(logits).argmax(axis=1) == labels).mean())}


def _device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _encoder_limit(tokenizer: Any) -> int:
    limit = getattr(tokenizer, "model_max_length", None) or _PREDICT_MAX_LENGTH
    return int(min(limit, _PREDICT_MAX_LENGTH))


def _label(config: PretrainedConfig, classes: np.ndarray) -> None:
    config.num_labels = len(classes)
    config.id2label = {i: str(c) for i, c in enumerate(classes)}
    config.label2id = {str(c): i for i, c in enumerate(classes)}
    config.problem_type = "single_label_classification"


def _closing_specials(tokenizer: Any) -> int:
    """How many special tokens the tokenizer puts after a text (``[SEP]``: 1)."""
    with_specials = tokenizer("a")["input_ids"]
    plain = tokenizer("a", add_special_tokens=False)["input_ids"]
    opening = next(
        (i for i in range(len(with_specials)) if with_specials[i : i + len(plain)] == plain), 0
    )
    return len(with_specials) - opening - len(plain)


def _batches(
    tokenizer: Any, rows: Sequence[Sequence[int]], *, batch_size: int, device: torch.device
):
    """Yield ``(positions, inputs)`` over token-id rows sorted by length (least padding).

    Each batch is padded to its own longest row.
    """
    lengths = np.fromiter((len(row) for row in rows), dtype=np.int64, count=len(rows))
    order = np.argsort(-lengths, kind="stable")  # longest first: memory peaks early
    pad_id = tokenizer.pad_token_id or 0
    left = getattr(tokenizer, "padding_side", "right") == "left"
    # One text is one segment: its segment ids are all 0.
    segments = "token_type_ids" in getattr(tokenizer, "model_input_names", ())
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        width = int(lengths[idx].max())
        input_ids = np.full((len(idx), width), pad_id, dtype=np.int64)
        mask = np.zeros((len(idx), width), dtype=np.int64)
        for row, i in enumerate(idx):
            cols = slice(width - lengths[i], width) if left else slice(0, lengths[i])
            input_ids[row, cols] = rows[i]
            mask[row, cols] = 1
        inputs = {
            "input_ids": torch.from_numpy(input_ids),
            "attention_mask": torch.from_numpy(mask),
        }
        if segments:
            inputs["token_type_ids"] = torch.zeros_like(inputs["input_ids"])
        yield idx, {k: v.to(device) for k, v in inputs.items()}


def _encode(tokenizer: Any, texts: list[str], max_length: int) -> list[list[int]]:
    return tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]


def _logits(
    network: TextClassifier, tokenizer: Any, texts: list[str], *, max_length: int, batch_size: int
) -> np.ndarray:
    rows = _encode(tokenizer, texts, max_length)
    return _token_logits(network, tokenizer, rows, batch_size=batch_size)


def _token_logits(
    network: TextClassifier, tokenizer: Any, rows: Sequence[Sequence[int]], *, batch_size: int
) -> np.ndarray:
    return _run(
        network,
        tokenizer,
        rows,
        lambda batch: network(**batch).logits,
        width=network.config.num_labels,
        batch_size=batch_size,
    )


def _embed(
    network: TextClassifier, tokenizer: Any, texts: list[str], *, max_length: int
) -> np.ndarray:
    return _run(
        network,
        tokenizer,
        _encode(tokenizer, texts, max_length),
        lambda batch: network.embed(**batch),
        width=network.config.hidden_size,
        batch_size=_PREDICT_BATCH,
    ).astype(np.float32)


def _run(
    network: TextClassifier,
    tokenizer: Any,
    rows: Sequence[Sequence[int]],
    forward: Any,
    *,
    width: int,
    batch_size: int,
) -> np.ndarray:
    """``forward(batch)`` over token-id ``rows`` in length-sorted batches, in the given order."""
    network.eval()
    device = next(network.parameters()).device
    out = np.zeros((len(rows), width), dtype=np.float64)
    with torch.inference_mode():
        for idx, inputs in _batches(tokenizer, rows, batch_size=batch_size, device=device):
            out[idx] = forward(inputs).float().cpu().numpy()
    return out


def _load_network(folder: Path, classes: np.ndarray) -> TextClassifier:
    from safetensors.torch import load_file
    from transformers import AutoConfig

    weights = folder / "model.safetensors"
    if not weights.is_file():
        raise ModelError(
            f"The text model in '{folder}' has no model.safetensors; train and save it again."
        )
    config = AutoConfig.from_pretrained(folder, trust_remote_code=False)
    _label(config, classes)
    network = TextClassifier(config)
    missing, unexpected = network.load_state_dict(load_file(weights), strict=False)
    if missing or unexpected:
        raise ModelError(
            f"The weights in '{weights}' do not fit the saved network; train and save it again."
        )
    return network


def _load_saved_tokenizer(folder: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder, trust_remote_code=False)


# Loading a saved model finds its class here (models imports this module lazily).
_models._CLASSES[TextModel.family] = TextModel
