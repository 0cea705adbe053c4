"""Image data sets as people have them: a folder or a ``.zip`` with one sub-folder per class,
a table of image paths and labels, or NumPy arrays in an ``.npz`` file.

:func:`load_images` returns an :class:`ImageData`: a table with one row per image (its
reference, see :mod:`._read`, its label and any other columns of the source table, which
can serve as sensitive attributes) and the files it skipped, with the reason. Files are
decoded once, one at a time, to find the damaged ones; no pixels are kept. Archives are
checked against :class:`~lepton_core.data.InputLimits` before anything is inflated.
"""

from __future__ import annotations

import json
import posixpath
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lepton_core.core import DataError, JsonMixin, Message
from lepton_core.data import TABLE_EXTENSIONS, InputLimits, load_table
from lepton_core.images._read import IMAGE_EXTENSIONS, SEPARATOR, decode, image_name

__all__ = ["IMAGE_COLUMN", "LABEL_COLUMN", "ImageData", "SkippedImage", "load_images"]

IMAGE_COLUMN = "image"
LABEL_COLUMN = "label"
#: Files an image archive may hold; beyond it the directory alone is a burden.
MAX_FILES = 200_000
_LABEL_NAMES = ("label", "labels", "class", "category", "target", "y", "diagnosis")
_SHOWN_SKIPPED = 5


@dataclass
class SkippedImage(JsonMixin):
    """A file left out of the data set, and why (in the reader's language)."""

    name: str
    reason: str


@dataclass
class ImageData(JsonMixin):
    """A labelled image data set, one row per image.

    Attributes
    ----------
    table : DataFrame
        ``image`` (a reference :func:`~lepton_core.images.open_image` reads), ``label``,
        then the source table's other columns; ``split`` where the source was split
        (an ``.npz`` with ``train``/``val``/``test`` arrays).
    source : str
        What was read.
    format : str
        ``"folder"``, ``"zip"``, ``"table"`` or ``"npz"``.
    skipped : list of SkippedImage
        Files that are not readable images, with the reason.
    image_column, target : str
        The names of the reference and label columns.
    """

    table: pd.DataFrame
    source: str
    format: str
    skipped: list[SkippedImage] = field(default_factory=list)
    image_column: str = IMAGE_COLUMN
    target: str = LABEL_COLUMN

    def to_dict(self) -> dict[str, Any]:
        # The table travels as records; JSON has no DataFrame.
        return {
            "table": json.loads(self.table.to_json(orient="split", index=False)),
            "source": self.source,
            "format": self.format,
            "skipped": [s.to_dict() for s in self.skipped],
            "image_column": self.image_column,
            "target": self.target,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImageData:
        split = data["table"]
        return cls(
            table=pd.DataFrame(split["data"], columns=split["columns"]),
            source=data["source"],
            format=data["format"],
            skipped=[SkippedImage.from_dict(s) for s in data["skipped"]],
            image_column=data["image_column"],
            target=data["target"],
        )

    def class_counts(self) -> dict[str, int]:
        """Images per class, most common first."""
        counts = self.table[self.target].astype(str).value_counts()
        return {str(k): int(v) for k, v in counts.items()}

    def examples(self, per_class: int = 8, *, seed: int = 0) -> dict[str, list[str]]:
        """A seeded sample of up to ``per_class`` image references for each class."""
        out: dict[str, list[str]] = {}
        for label, rows in self.table.groupby(self.table[self.target].astype(str), sort=True):
            picked = rows.sample(min(per_class, len(rows)), random_state=seed)
            out[str(label)] = picked[self.image_column].tolist()
        return out

    def part(self, name: str) -> pd.DataFrame:
        """The rows of one split (``"train"``, ``"val"``, ``"test"``) of a split source."""
        if "split" not in self.table.columns:
            raise ValueError("This data set has no splits; split it with lepton_core.data.")
        rows = self.table[self.table["split"] == name]
        if rows.empty:
            raise ValueError(f"There is no split {name!r}; use one of {self.splits()}.")
        return rows.drop(columns="split").reset_index(drop=True)

    def splits(self) -> list[str]:
        """The source's split names, in order; empty when it was not split."""
        if "split" not in self.table.columns:
            return []
        return list(dict.fromkeys(self.table["split"].tolist()))


def load_images(
    source: str | Path,
    *,
    label: str | None = None,
    image_column: str | None = None,
    limits: InputLimits | None = None,
) -> ImageData:
    """Read the labelled images at ``source``.

    Parameters
    ----------
    source : str or Path
        A folder or ``.zip`` with one sub-folder per class, a table (CSV, Parquet, ...)
        with a column of image paths (relative to the table's folder or absolute), or an
        ``.npz`` with ``images``/``labels`` arrays (or MedMNIST's ``train_images``, ...).
    label, image_column : str, optional
        The table's label and image-path columns; found by name and content otherwise.
    limits : InputLimits, optional
        Size limits; the defaults (or ``LEPTON_MAX_*`` settings) otherwise.

    Raises
    ------
    DataError
        Nothing usable was found, only one class, or the source breaks a size limit;
        one sentence that says what to do.
    """
    limits = limits or InputLimits.from_env()
    path = Path(source).expanduser()
    if not path.exists():
        raise DataError(Message("images.missing_file", path=str(source)))
    suffix = path.suffix.lower()
    if path.is_dir():
        data = _from_folder(path, limits)
    elif suffix == ".zip":
        data = _from_zip(path, limits)
    elif suffix == ".npz":
        data = _from_npz(path, limits)
    elif suffix in TABLE_EXTENSIONS:
        data = _from_table(path, label, image_column, limits)
    else:
        raise DataError(Message("images.unknown_source", name=path.name))
    _check_classes(data)
    return data


# -- one sub-folder per class ---------------------------------------------------------


def _class_files(names: list[str]) -> tuple[list[tuple[str, str]], list[SkippedImage]]:
    """``(name, class)`` of each image name, the class being its first folder below the
    common root; images not inside a class folder are skipped."""
    parts = [n.replace("\\", "/").strip("/").split("/") for n in names]
    depth = 0  # strip folders every image shares ("photos/cats/1.jpg" → "cats/1.jpg")
    while parts and all(len(p) > depth + 2 for p in parts) and len({p[depth] for p in parts}) == 1:
        depth += 1
    found, skipped = [], []
    for name, p in zip(names, parts, strict=True):
        if len(p) < depth + 2:
            skipped.append(SkippedImage(image_name(name), Message("images.no_class_folder")))
        else:
            found.append((name, p[depth]))
    return found, skipped


def _is_image_name(name: str) -> bool:
    base = posixpath.basename(name.replace("\\", "/"))
    hidden = base.startswith(".") or "__MACOSX/" in name.replace("\\", "/")
    return not hidden and base.lower().endswith(IMAGE_EXTENSIONS)


def _from_folder(folder: Path, limits: InputLimits) -> ImageData:
    files = sorted(
        p for p in folder.rglob("*") if p.is_file() and _is_image_name(str(p.relative_to(folder)))
    )
    if len(files) > MAX_FILES:
        raise DataError(Message("images.too_many", files=len(files), limit=MAX_FILES))
    found, skipped = _class_files([str(p.relative_to(folder)) for p in files])
    rows = []
    for name, label in found:
        path = folder / name
        reason = _check_image(path.read_bytes, path.stat().st_size, limits)
        if reason:
            skipped.append(SkippedImage(image_name(name), reason))
        else:
            rows.append((str(path.resolve()), label))
    table = pd.DataFrame(rows, columns=[IMAGE_COLUMN, LABEL_COLUMN])
    return ImageData(table, str(folder), "folder", skipped)


def _from_zip(path: Path, limits: InputLimits) -> ImageData:
    limits.check_file_size(path.stat().st_size)
    try:
        archive = zipfile.ZipFile(path)
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError):
        raise DataError(Message("images.bad_zip", name=path.name)) from None
    if len(members) > MAX_FILES:
        raise DataError(Message("images.too_many", files=len(members), limit=MAX_FILES))
    # The directory's sizes first (cheap); each member is then read with a cap, so a
    # member that lies about its size cannot inflate past the limit either.
    limits.check_decompressed(sum(m.file_size for m in members), what="The zip archive")
    images = [m for m in members if not m.is_dir() and _is_image_name(m.filename)]
    by_name = {m.filename: m for m in images}
    found, skipped = _class_files([m.filename for m in images])
    rows, total = [], 0
    container = str(path.resolve())
    with archive:
        for name, label in found:
            member = by_name[name]

            def read(member: zipfile.ZipInfo = member) -> bytes:
                with archive.open(member) as stream:
                    return stream.read(limits.max_file_bytes + 1)

            reason = _check_image(read, member.file_size, limits)
            total += member.file_size
            limits.check_decompressed(total, more=True, what="The zip archive")
            if reason:
                skipped.append(SkippedImage(image_name(name), reason))
            else:
                rows.append((f"{container}{SEPARATOR}{name}", label))
    table = pd.DataFrame(rows, columns=[IMAGE_COLUMN, LABEL_COLUMN])
    return ImageData(table, str(path), "zip", skipped)


def _check_image(read: Any, size: int, limits: InputLimits) -> str:
    """Why the file cannot be used (a Message), or ``""``."""
    if size > limits.max_file_bytes:
        return Message("images.file_too_large", size=size)
    try:
        data = read()
    except (OSError, zipfile.BadZipFile, EOFError, NotImplementedError) as error:
        return Message("images.damaged", reason=str(error)[:80] or type(error).__name__)
    if len(data) > limits.max_file_bytes:
        return Message("images.file_too_large", size=len(data))
    try:
        decode(data)
    except ValueError as error:
        return Message("images.damaged", reason=str(error)[:80])
    return ""


# -- a table of paths ------------------------------------------------------------------


def _from_table(
    path: Path, label: str | None, image_column: str | None, limits: InputLimits
) -> ImageData:
    df = load_table(str(path))
    column = image_column or _path_column(df)
    if column not in df.columns:
        raise DataError(Message("images.no_path_column", name=path.name))
    target = label or _label_column(df, column)
    if target not in df.columns or target == column:
        raise DataError(Message("images.no_label_column", name=path.name))
    df = df[df[target].notna()].reset_index(drop=True)
    refs, keep, skipped = [], [], []
    for i, value in enumerate(df[column].tolist()):
        ref = str(value) if isinstance(value, str) else ""
        file = Path(ref).expanduser()
        if ref and not file.is_absolute():
            file = path.parent / file
        if not ref or not file.is_file():
            skipped.append(SkippedImage(image_name(ref or "?"), Message("images.not_found")))
            continue
        reason = _check_image(file.read_bytes, file.stat().st_size, limits)
        if reason:
            skipped.append(SkippedImage(image_name(ref), reason))
            continue
        refs.append(str(file.resolve()))
        keep.append(i)
    rest = [c for c in df.columns if c not in (column, target)]
    table = pd.DataFrame({IMAGE_COLUMN: refs, LABEL_COLUMN: df[target].iloc[keep].to_numpy()})
    for name in rest:
        if name not in (IMAGE_COLUMN, LABEL_COLUMN):
            table[name] = df[name].iloc[keep].to_numpy()
    return ImageData(table, str(path), "table", skipped)


def _path_column(df: pd.DataFrame) -> str:
    """The column whose values most often name image files."""
    best, share = "", 0.0
    for name in df.columns:
        values = df[name].dropna()
        if values.empty or values.dtype.kind not in "OSU":
            continue
        text = values.astype(str).str.lower()
        ratio = float(text.str.endswith(IMAGE_EXTENSIONS).mean())
        if ratio > share:
            best, share = str(name), ratio
    return best if share >= 0.5 else ""


def _label_column(df: pd.DataFrame, image_column: str) -> str:
    names = {str(c).lower(): str(c) for c in df.columns if c != image_column}
    for candidate in _LABEL_NAMES:
        if candidate in names:
            return names[candidate]
    return ""


# -- NumPy arrays ----------------------------------------------------------------------


def _npz_keys(keys: list[str]) -> list[tuple[str, str, str]]:
    """``(split, images key, labels key)``: MedMNIST's ``<split>_images``/``<split>_labels``,
    else one pair such as ``images``/``labels`` or ``x``/``y``."""
    pairs = []
    for split in ("train", "val", "test"):
        if f"{split}_images" in keys and f"{split}_labels" in keys:
            pairs.append((split, f"{split}_images", f"{split}_labels"))
    if pairs:
        return pairs
    for images, labels in (("images", "labels"), ("x", "y"), ("X", "y"), ("images", "label")):
        if images in keys and labels in keys:
            return [("", images, labels)]
    return []


def _from_npz(path: Path, limits: InputLimits) -> ImageData:
    limits.check_file_size(path.stat().st_size)
    try:
        with zipfile.ZipFile(path) as archive:
            limits.check_decompressed(
                sum(m.file_size for m in archive.infolist()), what="The zip archive"
            )
        npz = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise DataError(Message("images.bad_npz", name=path.name)) from None
    with npz:
        keys = list(npz.files)
        pairs = _npz_keys(keys)
        if not pairs:
            raise DataError(Message("images.npz_keys", name=path.name, keys=", ".join(keys[:8])))
        container = str(path.resolve())
        frames = []
        for split, image_key, label_key in pairs:
            images, labels = npz[image_key], np.asarray(npz[label_key])
            if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] not in (1, 3)):
                raise DataError(
                    Message("images.npz_shape", key=image_key, shape=str(tuple(images.shape)))
                )
            labels = labels.reshape(len(labels), -1)
            if len(labels) != len(images) or labels.shape[1] != 1:
                raise DataError(
                    Message("images.npz_labels", key=label_key, shape=str(tuple(labels.shape)))
                )
            frame = pd.DataFrame(
                {
                    IMAGE_COLUMN: [
                        f"{container}{SEPARATOR}{image_key}/{i}" for i in range(len(images))
                    ],
                    LABEL_COLUMN: labels[:, 0],
                }
            )
            if split:
                frame["split"] = split
            frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    return ImageData(table, str(path), "npz", [])


def _check_classes(data: ImageData) -> None:
    table, shown = data.table, data.skipped[:_SHOWN_SKIPPED]
    if table.empty:
        detail = ", ".join(f"{s.name} ({s.reason})" for s in shown)
        raise DataError(
            Message("images.none_readable", skipped=len(data.skipped), detail=detail)
            if data.skipped
            else Message("images.empty", name=Path(data.source).name)
        )
    classes = table[data.target].astype(str).unique()
    if len(classes) < 2:
        raise DataError(Message("images.one_class", label=str(classes[0]), n=len(table)))
