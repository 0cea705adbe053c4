"""int8 compression: a model version quantised into a new version, measured like any other.

The families with weight matrices (the MLP, text and image models) quantise
themselves (``LeptonModel.quantise``, methods ``torch-int8`` and ``onnx-int8``; image
models ``onnx-int8`` only, calibrated on 64 of the run's training images); the result is the
same family, so explanations, serving, the demo page and the model card treat it as
they treat its parent.

:func:`compress` registers the result as a new version of the same model —
scored, fairness-checked and explained on the parent's test rows by
:func:`lepton_core.runs._training.record_run` — and reports size, latency, accuracy
**and** fairness before and after, and the energy 1,000 predictions use (measured with
CodeCarbon while the latency is timed).
"""

from __future__ import annotations

import io
import statistics
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from lepton_core.core import JsonMixin
from lepton_core.models import COMPRESSION_METHODS, LeptonModel
from lepton_core.runs._energy import EnergyMeter, energy_per_1000
from lepton_core.runs._reports import load_run_reports
from lepton_core.runs._training import TrainConfig, prepare_data, record_run
from lepton_core.workspace import Workspace

__all__ = ["CompressionReport", "VariantFigures", "compress", "quantise"]

_LATENCY_ROWS = 256  # rows scored per latency measurement (median of three)
# Scoring is repeated for at least this long: CodeCarbon cannot resolve a few milliseconds.
_ENERGY_SECONDS = 1.0


def quantise(model: LeptonModel, method: str, calibration: Any = None) -> LeptonModel:
    """A copy of ``model`` whose network is int8; ``model`` itself is unchanged.
    ``calibration``: training rows, which image models calibrate int8 on.

    Raises
    ------
    ModelError
        The model's family has no network to quantise, or it is already compressed.
    """
    return model.quantise(method, calibration)


# ------------------------------------------------------------------ the new version
@dataclass
class VariantFigures(JsonMixin):
    """One variant's cost and quality on the test rows."""

    name: str
    size_bytes: int
    latency_ms: float
    metrics: dict[str, float]
    fairness: dict[str, dict[str, float | None]]
    energy_wh_per_1000: float | None = None  # None when the energy could not be measured


@dataclass
class CompressionReport(JsonMixin):
    """A compressed version next to its parent (every figure measured on the test rows).

    ``latency_ms`` is the median time to score ``latency_rows`` test rows in one call;
    ``energy_wh_per_1000`` the watt-hours 1,000 predictions used while that was timed.
    """

    model: str
    version: int
    method: str
    new_version: int
    run_id: str
    n_rows: int
    latency_rows: int
    before: VariantFigures
    after: VariantFigures
    label_agreement: float


def compress(
    workspace: Workspace, name: str, version: str | int | None, *, method: str = "torch-int8"
) -> CompressionReport:
    """Quantise a model version to int8, register the result as a new version, compare them.

    Raises
    ------
    ModelError
        The version does not exist, or the method does not apply to its family.
    """
    info = workspace.model_version(name, version)
    model = workspace.load_model(info.name, info.version)
    parent = load_run_reports(workspace, info.run_id)
    config = replace(
        TrainConfig.from_dict(workspace.load_report(info.run_id, "config")), model_name=info.name
    )
    data = prepare_data(replace(config, data=f"dataset:{parent.run.dataset_id}"), workspace)
    # The parent's training rows: image int8 calibrates on some of them.
    compressed = quantise(model, method, data.x_train)
    recorded = record_run(
        workspace,
        data,
        compressed,
        config=config,
        run_name=f"{info.name}-{method}",
        params={
            **{f"model.{k}": v for k, v in model.get_params().items()},
            "compression.method": method,
            "compression.parent": info.ref,
        },
        tags={"parent_run": info.run_id, "compression": method},
        reports={
            "compression": {
                "method": method,
                "title": COMPRESSION_METHODS[method],
                "parent": info.ref,
            },
            # Quantising the weights keeps the parent's differential-privacy guarantee.
            "privacy": workspace.find_report(info.run_id, "privacy"),
        },
        explain_rows=model.explain_rows or config.explain_rows,
    )
    rows = data.x_test.head(_LATENCY_ROWS)
    before_size, after_size = _sizes(model, compressed)
    before = _figures("original", model, before_size, rows, parent.evaluation, parent.fairness)
    after = _figures(
        COMPRESSION_METHODS[method],
        compressed,
        after_size,
        rows,
        recorded.evaluation,
        recorded.fairness,
    )
    labels = [
        workspace.load_report(run_id, "test_predictions")["y_pred"]
        for run_id in (info.run_id, recorded.run_id)
    ]
    return CompressionReport(
        model=info.name,
        version=info.version,
        method=method,
        new_version=recorded.model_version,
        run_id=recorded.run_id,
        n_rows=len(data.x_test),
        latency_rows=len(rows),
        before=before,
        after=after,
        label_agreement=float(np.mean(np.asarray(labels[0]) == np.asarray(labels[1]))),
    )


def _sizes(model: LeptonModel, compressed: LeptonModel) -> tuple[int, int]:
    """Bytes of the float and the int8 weights (ONNX: the float and the int8 graph)."""
    int8 = compressed.compression_
    if int8.graph is not None:
        return int8.float_graph_size, len(int8.graph)
    return _state_size(model.final_estimator_), _state_size(compressed.final_estimator_)


def _state_size(network: Any) -> int:
    import torch

    buffer = io.BytesIO()
    torch.save(network.state_dict(), buffer)
    return len(buffer.getvalue())


def _figures(
    name: str, model: LeptonModel, size: int, rows: Any, evaluation: Any, fairness: list
) -> VariantFigures:
    timings: list[float] = []
    meter = EnergyMeter().start()
    began = time.perf_counter()
    while len(timings) < 3 or time.perf_counter() - began < _ENERGY_SECONDS:
        start = time.perf_counter()
        model.predict(rows)
        timings.append((time.perf_counter() - start) * 1000)
    per_1000 = energy_per_1000(meter.stop(), len(timings) * len(rows))
    gaps = {
        r.attribute: {
            "demographic_parity_difference": r.demographic_parity_difference,
            "equalized_odds_difference": r.equalized_odds_difference,
        }
        for r in fairness
    }
    # The latency is the first three calls' median, as the Deploy page says; the energy
    # covers every call.
    return VariantFigures(
        name, size, statistics.median(timings[:3]), evaluation.metrics, gaps, per_1000
    )
