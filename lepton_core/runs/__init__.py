"""Runs: train, Auto, fusion, federated training, mitigate, compress, export, score and
model cards."""

from lepton_core.runs._auto import (
    leaderboard_table,
    run_auto,
)
from lepton_core.runs._batch import (
    MAX_BATCH_ROWS,
    predict_frame,
    score_table,
    to_csv,
    write_table,
)
from lepton_core.runs._compress import (
    CompressionReport,
    VariantFigures,
    compress,
    quantise,
)
from lepton_core.runs._dashboard import (
    BOARD_COLUMNS,
    AttributeGap,
    BoardRow,
    board_tradeoff,
    filter_board,
    model_board,
)
from lepton_core.runs._energy import (
    EnergyMeter,
    EnergyReport,
    energy_per_1000,
    load_energy,
)
from lepton_core.runs._export import (
    OnnxExport,
    export_mlflow_zip,
    export_onnx,
    load_test_rows,
    onnx_scorer,
    to_onnx,
)
from lepton_core.runs._federated import (
    FEDERATED_MODELS,
    FederatedConfig,
    FederatedResult,
    run_federated,
)
from lepton_core.runs._fusion import (
    FusionResult,
    fuse_versions,
    train_ensemble,
)
from lepton_core.runs._mitigate import (
    MitigationConfig,
    MitigationResult,
    mitigate_run,
)
from lepton_core.runs._modelcard import (
    MetricEstimate,
    ModelCard,
    cached_model_card,
    model_card,
    set_intended_use,
)
from lepton_core.runs._ner import (
    NER_TASK,
    NO_NAMES,
    confirm_ner_dataset,
    found_kinds,
    is_ner_dataset,
    load_ner_dataset,
    ner_test_sentences,
)
from lepton_core.runs._notebook import (
    notebook_bytes,
    run_notebook,
)
from lepton_core.runs._publish import publish
from lepton_core.runs._reports import (
    RunReports,
    headline_figures,
    load_explanation,
    load_run_reports,
)
from lepton_core.runs._scoring import (
    ModelBundle,
    Prediction,
    load_bundle,
    one_row,
)
from lepton_core.runs._search import (
    FAIRNESS_LIMITS,
    AutoConfig,
    AutoResult,
    default_families,
    default_metric,
)
from lepton_core.runs._training import (
    PreparedData,
    RecordedRun,
    TrainConfig,
    TrainResult,
    prepare_data,
    record_run,
    resolve_dataset,
    split_run_data,
    train,
)

__all__ = [
    "BOARD_COLUMNS",
    "FAIRNESS_LIMITS",
    "FEDERATED_MODELS",
    "MAX_BATCH_ROWS",
    "NER_TASK",
    "NO_NAMES",
    "AttributeGap",
    "AutoConfig",
    "AutoResult",
    "BoardRow",
    "CompressionReport",
    "EnergyMeter",
    "EnergyReport",
    "FederatedConfig",
    "FederatedResult",
    "FusionResult",
    "MetricEstimate",
    "MitigationConfig",
    "MitigationResult",
    "ModelBundle",
    "ModelCard",
    "OnnxExport",
    "Prediction",
    "PreparedData",
    "RecordedRun",
    "RunReports",
    "TrainConfig",
    "TrainResult",
    "VariantFigures",
    "board_tradeoff",
    "cached_model_card",
    "compress",
    "confirm_ner_dataset",
    "default_families",
    "default_metric",
    "energy_per_1000",
    "export_mlflow_zip",
    "export_onnx",
    "filter_board",
    "found_kinds",
    "fuse_versions",
    "headline_figures",
    "is_ner_dataset",
    "leaderboard_table",
    "load_bundle",
    "load_energy",
    "load_explanation",
    "load_ner_dataset",
    "load_run_reports",
    "load_test_rows",
    "mitigate_run",
    "model_board",
    "model_card",
    "ner_test_sentences",
    "notebook_bytes",
    "one_row",
    "onnx_scorer",
    "predict_frame",
    "prepare_data",
    "publish",
    "quantise",
    "record_run",
    "resolve_dataset",
    "run_auto",
    "run_federated",
    "run_notebook",
    "score_table",
    "set_intended_use",
    "split_run_data",
    "to_csv",
    "to_onnx",
    "train",
    "train_ensemble",
    "write_table",
]
