"""The training data a model version is compared against."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from lepton_core.monitoring._drift import DriftReport, data_drift
from lepton_core.workspace import Workspace, parse_model_ref

__all__ = ["TrainingReference", "compare_with_training", "training_reference"]


@dataclass
class TrainingReference:
    """What a model version learned from: the input columns of its data set (``table``),
    and which of them are free text (``texts``, compared by their length)."""

    table: pd.DataFrame
    texts: list[str]


def training_reference(workspace: Workspace, model: str) -> TrainingReference:
    """The training data a model version (``NAME[:VERSION]``) is compared against."""
    name, version = parse_model_ref(model)
    info = workspace.model_version(name, version)
    run = workspace.get_run(info.run_id)
    table, _ = workspace.load_dataset(run.dataset_id)
    schema = workspace.load_input_schema(info.run_id)
    return TrainingReference(
        table[[c for c in schema.names if c in table.columns]],
        [f.name for f in schema.fields if f.kind == "text"],
    )


def compare_with_training(
    workspace: Workspace, model: str, records: pd.DataFrame, *, max_rows: int | None = None
) -> DriftReport:
    """How far ``records`` (a new month's data, or the logged inputs) moved from training."""
    reference = training_reference(workspace, model)
    options = {} if max_rows is None else {"max_rows": max_rows}
    table = reference.table
    return data_drift(table, records, columns=list(table.columns), texts=reference.texts, **options)
