"""SHAP on image regions: shap's Partition explainer over an ``Image`` masker.

The image is divided into a ``GRID`` × ``GRID`` board of cells, and shap's ``Image``
masker works on that board: a masked cell shows the matching part of a blurred copy of
the image (Pillow's Gaussian blur; shap's own ``"blur(...)"`` needs OpenCV). The
Partition explainer splits the board into halves, quarters, ... and computes Owen
values for the regions, at most ``MAX_EVALS`` network passes per image. Masking cells
rather than pixels keeps shap's bookkeeping small (256 leaves instead of 37,632 for a
112-pixel colour image) and gives the heat map its cells directly.

The values add up exactly to the model's output minus the output for the fully blurred
image, which depends on the image, so each row keeps its own base value
(``Explanation.row_base_values``) as for text. The background rows are not used: the
blurred image is each image's own reference.

The result is an :class:`ImageExplanation`, the one :class:`~lepton_core.explain.Explanation`
with each row's heat map added: ``maps[i]`` has shape ``(GRID, GRID, n_outputs)``, one
value per cell (so a map adds up to the row's one value). This module is a strategy of
:func:`lepton_core.explain.explain`, reached through the family's ``explain_strategy``.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lepton_core.explain import ExplainProgress, Explanation

__all__ = [
    "DEFAULT_MAX_ROWS",
    "MAX_EVALS",
    "NAME",
    "ImageExplanation",
    "explain",
    "supports",
]

NAME = "shap.PartitionExplainer (Image masker)"
DEFAULT_MAX_ROWS = 4
#: Network passes per image: enough to refine the regions to about 1/16 of the image.
MAX_EVALS = 256
ENV_EVALS = "LEPTON_IMAGE_SHAP_EVALS"
#: Cells on each side of the board SHAP masks (and of the heat map).
GRID = 16
_BATCH = 64


@dataclass
class ImageExplanation(Explanation):
    """An :class:`~lepton_core.explain.Explanation` of an image model, with heat maps.

    ``feature_names`` is the one image column, ``values[i]`` the row's total
    ``(1, n_outputs)`` (the sum of its map), ``data[i]`` is ``{image_column: reference}``.

    Attributes
    ----------
    maps : list
        One heat map per row, shape ``(GRID, GRID, n_outputs)``: the SHAP value of
        each cell. Cell ``[r][c]`` covers pixel rows ``r*h/GRID`` to ``(r+1)*h/GRID`` (and
        columns likewise) of the squared image the network read.
    image_size : int
        The side of that squared image.
    """

    maps: list | None = None
    image_size: int | None = None

    def heat_map(self, index: int, output: int | str = 0) -> np.ndarray:
        """Row ``index``'s map for ``output``, shape ``(grid, grid)``."""
        self._check_row(index)
        k = self.output_index(output)
        return np.asarray(self.maps[index], dtype=float)[..., k]  # type: ignore[index]

    def subset(self, rows: Any) -> ImageExplanation:
        picked = [rows] if isinstance(rows, (int, np.integer)) else [int(i) for i in rows]
        part = super().subset(picked)
        return dataclasses.replace(part, maps=[self.maps[i] for i in picked] if self.maps else None)


def max_evals() -> int:
    """Network passes per image: ``$LEPTON_IMAGE_SHAP_EVALS`` (at least 16) where set, for a
    slow computer (coarser maps, sooner), else :data:`MAX_EVALS`."""
    try:
        return max(16, int(os.environ[ENV_EVALS]))
    except (KeyError, ValueError):
        return MAX_EVALS


def supports(model: Any) -> bool:
    """Models that score images: ``image_pixels`` and a batched ``image_logits``."""
    return callable(getattr(model, "image_logits", None)) and hasattr(model, "image_size_")


def _import_shap() -> Any:
    with warnings.catch_warnings():
        # shap 0.51 builds its colour maps with matplotlib calls that warn on import.
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        import shap
    return shap


def _raw(model: Any, pixels: np.ndarray) -> np.ndarray:
    logits = np.asarray(model.image_logits(pixels, batch_size=_BATCH), dtype=np.float64)
    if model.task == "binary":
        return logits[:, 1] - logits[:, 0]
    return logits


def _blurred(image: np.ndarray) -> np.ndarray:
    from PIL import Image, ImageFilter

    radius = max(2.0, image.shape[0] / 16)
    return np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(radius)))


def _composite(board: np.ndarray, image: np.ndarray, blurred: np.ndarray) -> np.ndarray:
    """Images for boards of shown (1) and hidden (0) cells ``(n, GRID, GRID, 1)``: each
    pixel from ``image`` where its cell is shown, from ``blurred`` where it is hidden."""
    side = image.shape[0]
    cells = (np.arange(side) * GRID) // side  # the cell of each pixel row (and column)
    shown = board[:, cells][:, :, cells]  # (n, side, side, 1)
    return shown * image[None].astype(np.float32) + (1.0 - shown) * blurred[None]


def explain(
    model: Any,
    X: pd.DataFrame,
    background: pd.DataFrame,
    seed: int,
    progress: ExplainProgress | None = None,
) -> ImageExplanation:
    """Region SHAP values of ``model`` for the images in ``X``, one image at a time."""
    shap = _import_shap()
    column = model.feature_names_in_[0]
    classes = [str(c) for c in model.classes_]
    outputs = classes[1:] if model.task == "binary" else classes
    k = len(outputs)
    budget = max_evals()
    values, maps, bases, outs, data = [], [], [], [], []
    board = np.ones((GRID, GRID, 1), np.float32)  # every cell shown: the image itself
    masker = shap.maskers.Image(np.zeros_like(board), shape=board.shape)  # hidden: 0
    state = np.random.get_state()  # shap reseeds numpy's global generator
    try:
        np.random.seed(seed)
        for i, ref in enumerate(X[column].tolist()):
            image = model.image_pixels(X.iloc[[i]])[0]
            blurred = _blurred(image).astype(np.float32)

            def score(boards: np.ndarray, image=image, blurred=blurred) -> np.ndarray:
                return _raw(model, _composite(np.asarray(boards, np.float32), image, blurred))

            explainer = shap.PartitionExplainer(score, masker)
            result = explainer(board[None], max_evals=budget, batch_size=_BATCH, silent=True)
            cells = np.asarray(result.values[0], dtype=float).reshape(GRID, GRID, k)
            maps.append(cells.round(8).tolist())
            values.append([cells.sum(axis=(0, 1)).tolist()])
            bases.append(np.asarray(result.base_values, dtype=float).reshape(-1)[:k].tolist())
            outs.append(np.asarray(_raw(model, image[None]), dtype=float).reshape(k).tolist())
            data.append({column: ref})
            if progress is not None and progress(i + 1, len(X)):
                break
    finally:
        np.random.set_state(state)
    space = "log-odds" if model.task == "binary" else "raw score"
    base_values = np.asarray(bases, dtype=float).mean(axis=0).tolist() if bases else [0.0] * k
    return ImageExplanation(
        explainer=NAME,
        output_space=space,
        outputs=outputs,
        feature_names=[column],
        values=values,
        base_values=base_values,
        data=data,
        model_output=outs,
        row_base_values=bases,
        classes=classes,
        maps=maps,
        image_size=int(model.image_size_),
    )
