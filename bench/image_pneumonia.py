"""The default image model on PneumoniaMNIST, against a plain-PyTorch fine-tune of the same network.

``../shared/data/pneumoniamnist`` (28×28 greyscale chest X-rays, pneumonia vs normal,
official split sizes 4,708 / 524 / 624; see its PROVENANCE.md). In one process:

- **Lepton**: ``ImageModel()`` with its defaults, trained on ``train`` with ``val`` for
  early stopping, scored on ``test``. Its feature cache starts empty.
- **baseline**: the same EfficientNet-Lite0 (same package, same verified weights, same
  input size and pixel scaling), every weight fine-tuned with AdamW (lr 1e-3, one-cycle),
  batch 64, random horizontal flips, for the same number of epochs, the images decoded
  and resized with Pillow in each step; the epoch with the lowest val loss is kept. It
  stops early at ``--baseline-minutes`` (a full fine-tune costs several times Lepton's);
  what it reached then is reported, with the epochs it finished.

Wall time covers decoding, training and validation, not scoring ``test``.
Goal: test ACC ≥ 0.89 and AUC ≥ 0.96 with the defaults in ≤ 10 minutes on 2 cores.

Run: ``python bench/image_pneumonia.py [--threads 2] [--baseline-minutes 15]
[--skip-baseline] [--param key=value ...]`` (``--param`` overrides a Lepton default).
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "pneumoniamnist" / "pneumoniamnist_reconstructed.npz"


def scores(y: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, roc_auc_score

    return {
        "acc": round(float(accuracy_score(y, proba > 0.5)), 4),
        "auc": round(float(roc_auc_score(y, proba)), 4),
    }


def run_lepton(parts: dict, params: dict) -> dict:
    from lepton_core.images import ImageModel

    (x_train, y_train), (x_val, y_val), (x_test, y_test) = (
        parts["train"],
        parts["val"],
        parts["test"],
    )
    with tempfile.TemporaryDirectory() as cache:
        model = ImageModel(cache_dir=cache, **params)
        start = time.perf_counter()
        model.fit(x_train, y_train, X_valid=x_val, y_valid=y_val)
        seconds = time.perf_counter() - start
        proba = model.predict_proba(x_test)[:, list(model.classes_).index(1)]
    return {
        "seconds": round(seconds, 1),
        "params": {**model.get_params(), "image_size_": model.image_size_, "cache_dir": None},
        "best_epoch": model.best_iteration_,
        "history": model.history_,
        **scores(y_test, proba),
    }


def run_baseline(parts: dict, epochs: int, size: int, minutes: float, seed: int = 0) -> dict:
    import torch
    import torch.nn.functional as F

    from lepton_core.images._backbone import new_network, to_input
    from lepton_core.images._read import read_pixels

    torch.manual_seed(seed)
    network = new_network(2, size, cut=0)  # cut 0: every block in the trainable tail
    params = [p for p in network.parameters()]
    for p in params:
        p.requires_grad_(True)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = (
        parts["train"],
        parts["val"],
        parts["test"],
    )
    refs, targets = x_train.iloc[:, 0].tolist(), torch.as_tensor(y_train, dtype=torch.long)
    batch, steps = 64, epochs * -(-len(refs) // 64)
    optimiser = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, 1e-3, total_steps=steps, pct_start=0.1
    )

    def predict(x) -> np.ndarray:
        network.eval()
        out = []
        with torch.inference_mode():
            for start in range(0, len(x), 128):
                pixels = read_pixels(x.iloc[start : start + 128, 0].tolist(), size)
                out.append(torch.softmax(network(to_input(pixels)), dim=1)[:, 1].numpy())
        return np.concatenate(out)

    deadline = time.perf_counter() + minutes * 60
    start, done, best, stopped = time.perf_counter(), 0.0, (np.inf, None), False
    rng = np.random.default_rng(seed)
    for epoch in range(epochs):
        network.train()
        order = rng.permutation(len(refs))
        for i, first in enumerate(range(0, len(refs), batch)):
            picked = order[first : first + batch]
            pixels = read_pixels([refs[j] for j in picked], size)
            flip = rng.random(len(picked)) < 0.5
            pixels[flip] = pixels[flip][:, :, ::-1]
            loss = F.cross_entropy(network(to_input(pixels)), targets[picked])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            if time.perf_counter() > deadline:
                done, stopped = epoch + (i + 1) * batch / len(refs), True
                break
        val = predict(x_val)
        loss = float(-np.mean(np.log(np.where(y_val == 1, val, 1 - val) + 1e-9)))
        if loss < best[0]:
            best = (loss, {k: v.clone() for k, v in network.state_dict().items()})
        if stopped:
            break
        done = epoch + 1
    seconds = time.perf_counter() - start
    network.load_state_dict(best[1])
    return {
        "seconds": round(seconds, 1),
        "epochs_done": round(done, 2),
        "stopped_at_limit": stopped,
        **scores(y_test, predict(x_test)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--baseline-minutes", type=float, default=15.0)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--param", action="append", default=[], help="key=value for ImageModel")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from lepton_core.images import load_images

    data = load_images(DATA)
    parts = {}
    for split in ("train", "val", "test"):
        rows = data.part(split)
        parts[split] = (rows[["image"]], rows["label"].to_numpy().astype(int))
    print({k: len(v[1]) for k, v in parts.items()}, flush=True)
    params = {k: ast.literal_eval(v) for k, v in (p.split("=", 1) for p in args.param)}
    lepton = run_lepton(parts, params)
    print("lepton", json.dumps({k: v for k, v in lepton.items() if k != "history"}), flush=True)
    print("history", json.dumps(lepton["history"]), flush=True)
    if not args.skip_baseline:
        epochs = int(lepton["params"]["epochs"])
        size = int(lepton["params"]["image_size_"])
        baseline = run_baseline(parts, epochs, size, args.baseline_minutes)
        print("baseline", json.dumps(baseline), flush=True)


if __name__ == "__main__":
    main()
