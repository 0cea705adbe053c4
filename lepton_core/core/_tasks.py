"""The kinds of prediction task and column Lepton knows."""

from __future__ import annotations

from typing import Literal

Task = Literal["binary", "multiclass", "regression"]
TASKS: tuple[Task, ...] = ("binary", "multiclass", "regression")
#: The task of a run that finds names in sentences (entity models): not a model ``Task``.
NER_TASK = "ner"

ColumnKind = Literal["numeric", "categorical", "boolean", "datetime", "text", "identifier"]

#: Kinds a tabular model uses as features; text and identifiers are left out.
FEATURE_KINDS: tuple[ColumnKind, ...] = ("numeric", "categorical", "boolean", "datetime")


def is_classification(task: Task) -> bool:
    """Whether ``task`` predicts classes rather than a number."""
    return task != "regression"
