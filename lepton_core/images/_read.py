"""Reading one image wherever it lives, and turning images into network input in batches.

An image in a data set is a *reference*, a string that a table can hold: a file path,
``<archive>.zip!/<member>`` for a file inside a zip, or ``<file>.npz!/<key>/<index>`` for
one image of an array in a NumPy archive. Nothing is decoded until a batch is needed, so
memory grows with the batch, not with the data set. Open archives and arrays are kept
for a few files at a time (keyed on size and modification time, so a changed file is
read again).
"""

from __future__ import annotations

import functools
import io
import os
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lepton_core.core import DataError, Message

__all__ = [
    "IMAGE_EXTENSIONS",
    "MAX_PIXELS",
    "SEPARATOR",
    "decode",
    "image_name",
    "open_image",
    "pixel_batches",
    "read_pixels",
    "to_rgb",
]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")
#: Between a container (a ``.zip`` or ``.npz`` file) and what is inside it.
SEPARATOR = "!/"
#: Larger images are refused: a small file that decodes to gigabytes is a decompression bomb.
MAX_PIXELS = 40_000_000


def image_name(ref: str) -> str:
    """A short name for people: the member or file name, without the folders above it."""
    inner = ref.rsplit(SEPARATOR, 1)[-1]
    return inner.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or ref


def _split(ref: str) -> tuple[str, str | None]:
    if SEPARATOR in ref:
        container, _, inner = ref.partition(SEPARATOR)
        if container.lower().endswith((".zip", ".npz")):
            return container, inner
    return ref, None


def _stamp(path: str) -> tuple[int, int]:
    try:
        stat = os.stat(path)
    except OSError:
        raise DataError(Message("images.missing_file", path=path)) from None
    return stat.st_size, stat.st_mtime_ns


@functools.lru_cache(maxsize=4)
def _zip(path: str, size: int, mtime_ns: int) -> zipfile.ZipFile:
    return zipfile.ZipFile(path)


@functools.lru_cache(maxsize=4)
def _npz_array(path: str, key: str, size: int, mtime_ns: int) -> np.ndarray:
    with np.load(path, allow_pickle=False) as archive:
        return archive[key]


def decode(data: bytes) -> Any:
    """The picture in ``data`` as a Pillow image, fully decoded.

    Raises
    ------
    ValueError
        The bytes are not an image Pillow can read, or it is too large.
    """
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_PIXELS:
                raise ValueError(f"{image.width}×{image.height} pixels is too large")
            image.load()
        except (OSError, SyntaxError, Image.DecompressionBombWarning) as error:
            raise ValueError(str(error) or type(error).__name__) from None
        except Image.DecompressionBombError as error:
            raise ValueError(str(error)) from None
    return image


def open_image(ref: str) -> Any:
    """The image ``ref`` points at, as a Pillow image.

    Raises
    ------
    DataError
        The file is missing, damaged or not an image.
    """
    from PIL import Image

    container, inner = _split(ref)
    stamp = _stamp(container)
    try:
        if inner is None:
            data = Path(container).read_bytes()
        elif container.lower().endswith(".npz"):
            key, _, index = inner.rpartition("/")
            array = _npz_array(container, key, *stamp)
            return Image.fromarray(_as_uint8(array[int(index)]))
        else:
            with _zip(container, *stamp).open(inner) as stream:
                data = stream.read(MAX_PIXELS * 4)
        return decode(data)
    except (ValueError, KeyError, IndexError, OSError, zipfile.BadZipFile) as error:
        raise DataError(
            Message("images.unreadable", name=image_name(ref), reason=str(error)[:120])
        ) from None


def _as_uint8(array: np.ndarray) -> np.ndarray:
    """An array image as 8-bit pixels: floats in 0–1 are scaled, others clipped."""
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.dtype == np.uint8:
        return array
    values = array.astype(np.float64)
    if values.size and np.nanmax(values) <= 1.0:
        values = values * 255.0
    return np.clip(np.nan_to_num(values), 0, 255).astype(np.uint8)


def to_rgb(image: Any) -> Any:
    """``image`` upright (EXIF orientation) in 8-bit RGB; 16-bit greyscale is scaled down."""
    from PIL import Image, ImageOps

    image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        values = np.asarray(image, dtype=np.float64)
        top = values.max() or 1.0
        image = Image.fromarray((values * (255.0 / top)).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "P", "PA"):
        # Transparent parts on white, as a viewer shows them.
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(canvas, rgba)
    return image.convert("RGB")


def square(image: Any, size: int) -> np.ndarray:
    """``image`` with its shorter side scaled to ``size`` and the centre cut square, as
    ``uint8`` of shape ``(size, size, 3)``."""
    from PIL import Image

    image = to_rgb(image)
    width, height = image.size
    scale = size / min(width, height)
    new = (max(size, round(width * scale)), max(size, round(height * scale)))
    image = image.resize(new, Image.Resampling.BILINEAR)
    left, top = (new[0] - size) // 2, (new[1] - size) // 2
    return np.asarray(image.crop((left, top, left + size, top + size)), dtype=np.uint8)


def read_pixels(refs: Sequence[str], size: int) -> np.ndarray:
    """The images ``refs`` as ``uint8`` of shape ``(n, size, size, 3)``."""
    out = np.empty((len(refs), size, size, 3), dtype=np.uint8)
    for i, ref in enumerate(refs):
        out[i] = square(open_image(ref), size)
    return out


def pixel_batches(refs: Sequence[str], size: int, batch: int) -> Iterator[np.ndarray]:
    """:func:`read_pixels` ``batch`` images at a time, so memory holds one batch."""
    for start in range(0, len(refs), batch):
        yield read_pixels(refs[start : start + batch], size)
