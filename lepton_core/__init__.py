"""Lepton's engine: data, models, training, evaluation with fairness, SHAP, workspace, jobs.

The public API is re-exported here and loaded on first use, so that
``import lepton_core`` (and the CLI) stays fast: torch, shap and MLflow are
imported only by the calls that need them.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "LeptonError": "exceptions",
    "DataError": "exceptions",
    "TrainingError": "exceptions",
    "ModelError": "exceptions",
    "NotFittedError": "exceptions",
    "ExplainError": "exceptions",
    "WorkspaceError": "exceptions",
    "JobError": "exceptions",
    "load_table": "data",
    "infer_schema": "data",
    "profile_table": "data",
    "check_target": "data",
    "split_table": "data",
    "load_sample": "samples",
    "list_samples": "samples",
    "make_model": "models",
    "load_model": "models",
    "evaluate": "evaluation",
    "EvalReport": "evaluation",
    "fairness_report": "fairness",
    "fairness_reports": "fairness",
    "audit_predictions": "fairness",
    "FairnessReport": "fairness",
    "explain": "explain",
    "Explanation": "explain",
    "TrainConfig": "training",
    "TrainResult": "training",
    "train": "training",
    "TrainerCallback": "callbacks",
    "Workspace": "workspace",
    "start_job": "jobs",
    "cancel_job": "jobs",
    "AutoConfig": "auto",
    "AutoResult": "auto",
    "run_auto": "auto",
    "load_bundle": "scoring",
    "load_run_reports": "reports",
    "load_explanation": "reports",
    "create_app": "serving",
    "serve": "serving",
    "ApiKeyStore": "apikeys",
    "ShareLinks": "sharelinks",
    "score_table": "batch",
    "model_card": "modelcard",
    "ModelCard": "modelcard",
    "export_onnx": "export",
    "export_mlflow_zip": "export",
    "compress": "compression",
    "scan_table": "privacy",
    "anonymise": "privacy",
    "k_anonymity": "privacy",
    "Action": "privacy",
    "ScanReport": "privacy",
    "PrivacyOptions": "dp",
    "PrivacyReport": "dp",
    "mitigate_run": "mitigation",
    "MitigatedModel": "mitigation",
    "MitigationResult": "mitigation",
    "tradeoff": "tradeoff",
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
