"""Pictures in API records: an image model's column holds the image file as base64 text.

A record never names a file on the server (that would let a caller read the server's
files): each picture is decoded, checked (size, a readable image) and written to a
temporary folder that lives as long as the request, and the record points at it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lepton_core.core import DataError, Message

__all__ = [
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_RECORDS",
    "image_records",
    "logged_records",
    "reads_images",
]

#: One picture's decoded size; a phone photo is 2–6 MB.
MAX_IMAGE_BYTES = 10 * 1024 * 1024
#: Pictures per request: each is decoded and run through the network.
MAX_IMAGE_RECORDS = 32


def reads_images(model: Any) -> bool:
    return getattr(model, "reads", "table") == "image"


def _picture(row: int, column: str, value: Any) -> bytes:
    from lepton_core.images._read import decode

    if not isinstance(value, str) or not value:
        raise DataError(Message("serving.image.not_base64", row=row, column=column))
    text = value.split(",", 1)[1] if value.startswith("data:") else value
    if len(text) * 3 // 4 > MAX_IMAGE_BYTES + 3:  # checked before decoding anything
        raise DataError(
            Message(
                "serving.image.too_large",
                row=row,
                size=f"{len(text) * 3 / 4 / 1e6:.1f} MB",
                limit=f"{MAX_IMAGE_BYTES / 1e6:.0f} MB",
            )
        )
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise DataError(Message("serving.image.not_base64", row=row, column=column)) from None
    try:
        decode(data)
    except ValueError as error:
        raise DataError(
            Message("serving.image.unreadable", row=row, reason=str(error)[:80])
        ) from None
    return data


@contextmanager
def image_records(model: Any, records: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """``records`` as ``model`` reads them: for an image model, each picture (base64) saved
    to a temporary file the record then names; for other models, unchanged.

    Raises
    ------
    DataError
        More than :data:`MAX_IMAGE_RECORDS` pictures, or one that is not base64, too large
        or not an image.
    """
    if not reads_images(model):
        yield records
        return
    if len(records) > MAX_IMAGE_RECORDS:
        raise DataError(Message("inputs.too_many", records=len(records), limit=MAX_IMAGE_RECORDS))
    column = model.feature_names_in_[0]
    with tempfile.TemporaryDirectory(prefix="lepton-images-") as folder:
        out = []
        for i, record in enumerate(records):
            path = Path(folder) / f"{i}.img"
            path.write_bytes(_picture(i, column, record.get(column)))
            out.append({**record, column: str(path)})
        yield out


def logged_records(model: Any, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``records`` as the prediction log keeps them: an image model's pictures by a short
    fingerprint (``sha256:<16 hex>``), not megabytes of base64 per row."""
    if not reads_images(model):
        return records
    column = model.feature_names_in_[0]
    return [
        {
            **record,
            column: "sha256:"
            + hashlib.sha256(str(record.get(column, "")).encode()).hexdigest()[:16],
        }
        for record in records
    ]
