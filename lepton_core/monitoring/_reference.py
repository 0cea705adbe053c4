"""The training data a model version is compared against."""

from __future__ import annotations

import pandas as pd

from lepton_core.monitoring._drift import DriftReport, data_drift
from lepton_core.workspace import Workspace, parse_model_ref

__all__ = ["compare_with_training", "text_columns", "training_reference"]


def training_reference(workspace: Workspace, model: str) -> pd.DataFrame:
    """The input columns of the data set a model version (``NAME[:VERSION]``) learned from."""
    name, version = parse_model_ref(model)
    info = workspace.model_version(name, version)
    run = workspace.get_run(info.run_id)
    table, _ = workspace.load_dataset(run.dataset_id)
    columns = workspace.load_input_schema(info.run_id).names
    return table[[c for c in columns if c in table.columns]]


def text_columns(workspace: Workspace, model: str) -> list[str]:
    """The input columns of free text a model version reads (a text model's)."""
    name, version = parse_model_ref(model)
    info = workspace.model_version(name, version)
    return [f.name for f in workspace.load_input_schema(info.run_id).fields if f.kind == "text"]


def compare_with_training(
    workspace: Workspace, model: str, records: pd.DataFrame, *, max_rows: int | None = None
) -> DriftReport:
    """How far ``records`` (a new month's data, or the logged inputs) moved from training."""
    reference = training_reference(workspace, model)
    options = {} if max_rows is None else {"max_rows": max_rows}
    texts = text_columns(workspace, model)
    return data_drift(reference, records, columns=list(reference.columns), texts=texts, **options)
