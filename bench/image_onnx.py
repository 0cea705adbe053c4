"""An image model's ONNX export, and int8 graphs of it, on a slice of PneumoniaMNIST.

``../shared/data/pneumoniamnist`` (28×28 greyscale chest X-rays; see its PROVENANCE.md).
A Quick ``ImageModel`` (frozen EfficientNet-Lite0, its input size picked from the images)
is trained on the first ``--train`` training images with the first ``--valid`` validation
images, and exported with ``image_to_onnx``. On the first ``--test`` test images:

- **PyTorch**: the model itself; **ONNX**: the same model scoring through onnxruntime
  (``image_onnx_scorer``, as many threads as torch), with the largest difference in
  probability from PyTorch's;
- **dynamic int8**: onnxruntime's ``quantize_dynamic`` of the graph (int8 weights,
  activations quantised on the fly: ``ConvInteger``);
- **static int8**: the model's own int8 compression (``model.quantise("onnx-int8")``:
  onnxruntime's ``quantize_static``, QDQ, per-channel weights, the linear head left
  float32, activation ranges calibrated on 64 of the training images).

Each row: graph size, median time per image over three passes on the test images (the
model's reading and scaling included; the images are in memory), accuracy and ROC AUC.

Run: ``python bench/image_onnx.py [--threads 2] [--train 600] [--valid 150] [--test 300]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "pneumoniamnist" / "pneumoniamnist_reconstructed.npz"


def measure(name: str, scorer, X, y, size: int, reference: np.ndarray | None) -> dict:
    from sklearn.metrics import accuracy_score, roc_auc_score

    scorer.predict_proba(X.head(8))  # warm up (onnxruntime's first run allocates)
    timings, proba = [], None
    for _ in range(3):
        start = time.perf_counter()
        proba = scorer.predict_proba(X)
        timings.append((time.perf_counter() - start) * 1000 / len(X))
    assert proba is not None
    positive = proba[:, list(scorer.classes_).index(1)]
    row = {
        "variant": name,
        "size_mib": round(size / 2**20, 2),
        "ms_per_image": round(statistics.median(timings), 2),
        "acc": round(float(accuracy_score(y, positive > 0.5)), 4),
        "auc": round(float(roc_auc_score(y, positive)), 4),
    }
    if reference is not None:
        row["max_abs_diff"] = float(np.max(np.abs(proba - reference)))
        row["label_agreement"] = float(np.mean(proba.argmax(1) == reference.argmax(1)))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--train", type=int, default=600)
    parser.add_argument("--valid", type=int, default=150)
    parser.add_argument("--test", type=int, default=300)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from lepton_core.images import ImageModel, image_onnx_scorer, image_to_onnx, load_images
    from lepton_core.models import quantize_onnx

    data = load_images(DATA)
    parts = {}
    for split, n in (("train", args.train), ("val", args.valid), ("test", args.test)):
        rows = data.part(split).head(n)
        parts[split] = (rows[["image"]], rows["label"].to_numpy().astype(int))
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = (
        parts["train"],
        parts["val"],
        parts["test"],
    )
    with tempfile.TemporaryDirectory() as cache:
        model = ImageModel(mode="quick", cache_dir=cache)
        start = time.perf_counter()
        model.fit(x_train, y_train, X_valid=x_val, y_valid=y_val)
        print(f"trained in {time.perf_counter() - start:.1f} s, {model.image_size_} px", flush=True)
    start = time.perf_counter()
    graph = image_to_onnx(model)
    print(f"exported in {time.perf_counter() - start:.1f} s", flush=True)
    reference = model.predict_proba(x_test)
    rows = [measure("PyTorch", model, x_test, y_test, len(graph), None)]
    rows.append(
        measure("ONNX", image_onnx_scorer(model, graph), x_test, y_test, len(graph), reference)
    )
    dynamic = quantize_onnx(graph)
    rows.append(
        measure(
            "dynamic int8",
            image_onnx_scorer(model, dynamic),
            x_test,
            y_test,
            len(dynamic),
            reference,
        )
    )
    start = time.perf_counter()
    compressed = model.quantise("onnx-int8", x_train)
    print(f"static int8 in {time.perf_counter() - start:.1f} s", flush=True)
    static = compressed.compression_.graph
    rows.append(measure("static int8", compressed, x_test, y_test, len(static), reference))
    for row in rows:
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
