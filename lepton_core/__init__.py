"""Lepton's engine: data, models, training, evaluation with fairness, SHAP, workspace, jobs.

The public API is re-exported here and loaded on first use, so that
``import lepton_core`` (and the CLI) stays fast: torch, shap and MLflow are
imported only by the calls that need them.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "LeptonError": "core",
    "DataError": "core",
    "TrainingError": "core",
    "ModelError": "core",
    "NotFittedError": "core",
    "ExplainError": "core",
    "WorkspaceError": "core",
    "JobError": "core",
    "load_table": "data",
    "infer_schema": "data",
    "profile_table": "data",
    "check_target": "data",
    "split_table": "data",
    "load_sample": "data",
    "list_samples": "data",
    "make_model": "models",
    "load_model": "models",
    "evaluate": "evaluation",
    "EvalReport": "evaluation",
    "fairness_report": "evaluation",
    "fairness_reports": "evaluation",
    "audit_predictions": "evaluation",
    "FairnessReport": "evaluation",
    "explain": "explain",
    "Explanation": "explain",
    "TrainConfig": "runs",
    "TrainResult": "runs",
    "train": "runs",
    "TrainerCallback": "core",
    "Workspace": "workspace",
    "confirm_dataset": "workspace",
    "start_job": "jobs",
    "cancel_job": "jobs",
    "AutoConfig": "runs",
    "AutoResult": "runs",
    "run_auto": "runs",
    "load_bundle": "runs",
    "load_run_reports": "runs",
    "load_explanation": "runs",
    "create_app": "serving",
    "serve": "serving",
    "ApiKeyStore": "workspace",
    "ShareLinks": "workspace",
    "AuditLog": "workspace",
    "publish": "runs",
    "score_table": "runs",
    "model_card": "runs",
    "ModelCard": "runs",
    "export_onnx": "runs",
    "export_mlflow_zip": "runs",
    "compress": "runs",
    "scan_table": "data",
    "anonymise": "data",
    "k_anonymity": "data",
    "Action": "data",
    "ScanReport": "data",
    "PrivacyOptions": "dp",
    "PrivacyReport": "dp",
    "mitigate_run": "runs",
    "MitigatedModel": "models",
    "MitigationResult": "runs",
    "tradeoff": "evaluation",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'lepton_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"lepton_core.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
