"""What every NER family shares: sentences in, one BIO tag per token out, entities as
character spans.

An NER family is a :class:`~lepton_core.models.LeptonModel` that reads ``"ner"`` data:
``fit(X, y)`` takes an :class:`NerData`, a list of :class:`Sentence`, or a table's text
column with its entities (``y``: JSON lists of ``[start, end, type]``); ``predict`` gives
each text's entities as dicts with character offsets (the REST API's answer) and
:meth:`NerModel.evaluate` scores labelled sentences. The ``classes_`` are the entity
types. There are no class probabilities or SHAP margins, so ``predict_proba``,
``raw_output`` and ``transform`` say so; :meth:`NerModel.tag_probabilities` gives each
token's chance of each tag instead, which token SHAP of one entity explains.
"""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from lepton_core.core import DataError, Message, ModelError, Task
from lepton_core.models import LeptonModel, ProgressFn
from lepton_core.ner._evaluate import NerReport, evaluate_ner
from lepton_core.ner._read import TEXT_COLUMN, NerData, _from_pairs
from lepton_core.ner._tags import Sentence, normalise_tags, tokenize

__all__ = ["NerModel", "as_sentences"]


def as_sentences(X: Any, y: Any = None) -> list[Sentence]:
    """Sentences from an :class:`NerData`, a list of sentences or texts, or a table whose
    first (or ``text``) column holds the texts and ``y`` their entities."""
    if isinstance(X, NerData):
        return X.sentences
    if isinstance(X, pd.DataFrame):
        column = TEXT_COLUMN if TEXT_COLUMN in X.columns else X.columns[0]
        texts = ["" if pd.isna(t) else str(t) for t in X[column]]
    elif isinstance(X, str):
        texts = [X]
    else:
        items = list(X)
        if all(isinstance(s, Sentence) for s in items):
            return items
        texts = [str(t) for t in items]
    if y is None:
        return [Sentence(t, *tokenize(t)) for t in texts]
    values = list(y)
    if len(values) != len(texts):
        raise ValueError(f"X has {len(texts)} texts but y has {len(values)}.")
    pairs = [(t, v, f"row {i + 1}") for i, (t, v) in enumerate(zip(texts, values, strict=True))]
    return _from_pairs(pairs, "the table").sentences


class NerModel(LeptonModel):
    """Base of the NER families; a family implements ``_fit_tags``, ``_tag``, ``_save_estimator``
    and ``_load_estimator``.

    Attributes
    ----------
    classes_ : ndarray
        The entity types.
    labels_ : list of str
        The BIO tags the model predicts, ``"O"`` first.
    """

    reads = "ner"
    mitigable = False
    #: Whether fitting learns to find the data set's kinds; False for a ready-made model
    #: whose own kinds are only matched to them (the Train page says which).
    learns_kinds: ClassVar[bool] = True

    def __init__(self, task: Task = "multiclass", seed: int = 0) -> None:
        self.task = task
        self.seed = seed

    # -- fitting ---------------------------------------------------------------

    def fit(
        self,
        X: Any,
        y: Any = None,
        *,
        X_valid: Any = None,
        y_valid: Any = None,
        progress: ProgressFn | None = None,
    ) -> Self:
        """Learn from labelled sentences (see :func:`as_sentences`); ``X_valid`` feeds the
        validation figures in ``history_``.

        Raises
        ------
        DataError
            There are no sentences or no entities to learn from.
        """
        train = [s for s in as_sentences(X, y) if s.tokens]
        valid = (
            [s for s in as_sentences(X_valid, y_valid) if s.tokens] if X_valid is not None else []
        )
        if not train:
            raise DataError(Message("model.no_rows"))
        types = sorted({e.type for s in train for e in s.entities})
        if not types:
            raise DataError(Message("ner.no_entities"))
        self.classes_ = np.asarray(types, dtype=object)
        self.labels_ = ["O", *(f"{p}-{t}" for t in types for p in ("B", "I"))]
        self.feature_names_in_ = [TEXT_COLUMN]
        self.n_features_in_ = 1
        self.numeric_features_, self.categorical_features_ = [], []
        self.categories_ = {}
        self.feature_groups_ = {TEXT_COLUMN: [0]}
        self.feature_names_out_ = [TEXT_COLUMN]
        self.history_: list[dict[str, float]] = []
        self.best_iteration_: int | None = None
        self.cancelled_ = False
        self._fit_tags(train, valid, progress)
        return self

    # -- predicting --------------------------------------------------------------

    def predict_tags(self, X: Any) -> list[list[str]]:
        """One BIO tag per token of each sentence (texts are tokenised first)."""
        self._check_fitted()
        sentences = as_sentences(X)
        worded = [s for s in sentences if s.tokens]
        tagged = self._tag(worded) if worded else []
        out, it = [], iter(tagged)
        for s in sentences:
            out.append(normalise_tags(next(it))[0] if s.tokens else [])
        return out

    def predict(self, X: Any) -> np.ndarray:
        """Each text's entities: a list of ``{"start", "end", "type", "text"}`` per row,
        offsets in characters of the text."""
        sentences = as_sentences(X)
        tags = self.predict_tags(sentences)
        out = np.empty(len(sentences), dtype=object)
        for i, (s, t) in enumerate(zip(sentences, tags, strict=True)):
            out[i] = [e.to_dict() for e in Sentence(s.text, s.tokens, s.starts, t).entities]
        return out

    def predict_scored(self, X: Any) -> tuple[np.ndarray, None]:
        return self.predict(X), None

    def evaluate(self, X: Any, y: Any = None) -> NerReport:
        """Entity-level precision, recall and F1 on labelled sentences (strict spans)."""
        sentences = [s for s in as_sentences(X, y) if s.tokens]
        return evaluate_ner(sentences, self.predict_tags(sentences))

    def tag_probabilities(self, sentences: list[list[str | None]]) -> list[np.ndarray]:
        """Each token's chance of each tag (columns in :attr:`labels_` order), one array
        ``(n_tokens, n_labels)`` per sentence; a ``None`` token is a hidden word, which the
        family reads as a word it never saw (what token SHAP masks with)."""
        self._check_fitted()
        worded = [list(s) for s in sentences if len(s)]
        found = iter(self._probabilities(worded) if worded else [])
        return [next(found) if len(s) else np.zeros((0, len(self.labels_))) for s in sentences]

    def kinds_note(self) -> Message | None:
        """How the model's kinds stand for the data set's when they were matched rather
        than learnt (``ner_spacy``: "spaCy's PERSON → person, …"); None when learnt."""
        return None

    def predict_proba(self, X: Any) -> np.ndarray:
        raise ModelError(Message("ner.no_scores"))

    def _raw(self, X: pd.DataFrame) -> np.ndarray:
        raise ModelError(Message("ner.no_scores"))

    def _transform(self, X: pd.DataFrame) -> Any:
        raise ModelError(Message("ner.no_scores"))

    def _fit(self, X, y, valid, progress) -> None:  # fit() is the family's own
        raise NotImplementedError

    def _estimator_meta(self) -> dict[str, Any]:
        return {"labels": self.labels_, "cancelled": bool(self.cancelled_)}

    def _restore(self, meta: dict[str, Any]) -> None:
        super()._restore(meta)
        self.classes_ = np.asarray(meta["classes"], dtype=object)
        self.labels_ = list(meta["estimator"]["labels"])
        self.cancelled_ = bool(meta["estimator"].get("cancelled", False))

    # -- what each family provides -------------------------------------------------

    @abstractmethod
    def _fit_tags(
        self, train: list[Sentence], valid: list[Sentence], progress: ProgressFn | None
    ) -> None:
        """Fit on tagged sentences; set ``final_estimator_`` and ``history_``."""

    @abstractmethod
    def _tag(self, sentences: list[Sentence]) -> list[list[str]]:
        """Tags for sentences with at least one token each."""

    def _probabilities(self, sentences: list[list[str | None]]) -> list[np.ndarray]:
        """Tag chances for sentences with at least one token each (see
        :meth:`tag_probabilities`)."""
        raise ModelError(Message("ner.no_scores"))

    @abstractmethod
    def _save_estimator(self, folder: Path) -> list[str]: ...

    @abstractmethod
    def _load_estimator(self, folder: Path, meta: dict[str, Any]) -> None: ...
