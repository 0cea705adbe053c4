"""Training an NER family on labelled sentences and scoring it on a test set."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from lepton_core.core import Message, TrainingError
from lepton_core.models import ProgressFn, family_class, family_names
from lepton_core.ner._evaluate import NerReport
from lepton_core.ner._model import NerModel, as_sentences

__all__ = ["NerResult", "train_ner"]


@dataclass
class NerResult:
    """A fitted NER model, its test report (None without a test set) and fit seconds."""

    model: NerModel
    report: NerReport | None
    fit_seconds: float


def train_ner(
    train: Any,
    family: str = "ner_crf",
    *,
    test: Any = None,
    valid: Any = None,
    seed: int = 0,
    progress: ProgressFn | None = None,
    **params: Any,
) -> NerResult:
    """Fit the NER ``family`` on ``train`` and score it on ``test``.

    ``train``, ``valid`` and ``test`` are :class:`NerData`, lists of sentences, or
    tables in :meth:`NerData.table`'s form. ``params`` override the family's defaults.

    Raises
    ------
    TrainingError
        ``family`` is not an entity family.
    DataError
        The data has no sentences or no entities.
    """
    names = family_names(reads="ner")
    if family not in names:
        raise TrainingError(Message("ner.unknown_family", family=family, names=", ".join(names)))
    model = family_class(family)(seed=seed, **params)
    started = time.perf_counter()
    model.fit(
        _labelled(train), X_valid=_labelled(valid) if valid is not None else None, progress=progress
    )
    seconds = time.perf_counter() - started
    report = model.evaluate(_labelled(test)) if test is not None else None
    return NerResult(model, report, seconds)


def _labelled(data: Any) -> Any:
    # A table in NerData.table()'s form carries its entities in a column of its own.
    import pandas as pd

    from lepton_core.ner._read import ENTITIES_COLUMN, ner_from_table

    if isinstance(data, pd.DataFrame) and ENTITIES_COLUMN in data.columns:
        return ner_from_table(data)
    return as_sentences(data)
