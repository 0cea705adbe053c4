"""Confirming a data set: check the user's choices on a table, then store it.

The Data page and a training run started from a file, a sample or the Hub both
confirm through :func:`confirm_dataset`, so a table is checked the same way
wherever it comes from, and the same table with the same choices gets the same id.
It is stored by :meth:`Workspace.save_dataset`: in the workspace folder, or on the
team's MLflow tracking server when the workspace points at one.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from lepton_core.core import DataError, Task
from lepton_core.data import (
    AnonymisationStep,
    CleanupStep,
    check_sensitive,
    check_target,
    fingerprint,
    suggest_sensitive,
)
from lepton_core.workspace._workspace import DatasetInfo, Workspace

__all__ = ["confirm_dataset"]


def confirm_dataset(
    workspace: Workspace,
    df: pd.DataFrame,
    *,
    name: str,
    target: str,
    task: Task | None = None,
    sensitive: list[str] | None = None,
    text_column: str = "",
    test: pd.DataFrame | None = None,
    source: str = "",
    original: pd.DataFrame | None = None,
    original_test: pd.DataFrame | None = None,
    steps: Sequence[AnonymisationStep] = (),
    cleanups: Sequence[CleanupStep] = (),
) -> DatasetInfo:
    """Check the target, task, sensitive and text columns of a table and store it.

    Parameters
    ----------
    workspace : Workspace
        Where the data set is stored.
    df : pandas.DataFrame
        The table to confirm, after any anonymisation.
    name : str
        Name of the data set.
    target : str
        Column to predict.
    task : {"binary", "multiclass", "regression"}, optional
        Inferred from the target when omitted.
    sensitive : list of str, optional
        Columns to compare groups by; the suggested ones (but not the target) when omitted.
    text_column : str
        The free-text column a text model reads; empty for a tabular model.
    test : pandas.DataFrame, optional
        A separate test table; otherwise training holds out part of ``df``.
    source : str
        Where the table came from: a path, ``sample:NAME`` or ``hub:ID``.
    original, original_test : pandas.DataFrame, optional
        The table (and its test table) before ``steps`` were applied; stored as a data
        set of its own, which the confirmed one names as its parent.
    steps : sequence of AnonymisationStep
        The anonymisation that turned ``original`` into ``df``, recorded with the data set.
    cleanups : sequence of CleanupStep
        The clean-ups (:func:`~lepton_core.data.apply_cleanups`) already applied to ``df``,
        recorded with the data set.

    Returns
    -------
    DatasetInfo
        The stored data set; the same table and choices give the same id.

    Raises
    ------
    DataError
        If the target, task, sensitive columns or text column cannot be used (see
        :func:`~lepton_core.data.check_target`, :func:`~lepton_core.data.check_sensitive`).
    """
    task = check_target(df, target, task)
    if sensitive is None:
        sensitive = [c for c in suggest_sensitive(df) if c != target]
    check_sensitive(df, sensitive)
    if text_column and (text_column not in df.columns or text_column == target):
        raise DataError(
            f"There is no text column '{text_column}' besides the target; "
            "pick one of the table's text columns."
        )
    choices = {
        "name": name,
        "target": target,
        "task": task,
        "source": source,
        "text_column": text_column,
    }
    parent = ""
    if original is not None:
        # The untouched table stays a data set of its own; the new version points at it.
        parent = workspace.save_dataset(
            original,
            sensitive=[s for s in sensitive if s in original.columns],
            fingerprint=fingerprint(original),
            test=original_test,
            **choices,
        ).id
    return workspace.save_dataset(
        df,
        sensitive=list(sensitive),
        fingerprint=fingerprint(df),
        test=test,
        parent=parent,
        anonymisation=[step.to_dict() for step in steps],
        cleanups=[step.to_dict() for step in cleanups],
        **choices,
    )
