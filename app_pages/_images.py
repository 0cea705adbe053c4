"""Image-classification widgets for the Data, Train, Explain, Deploy and demo pages.

Uploads are copied into the workspace (``uploads/images/<hash>/``) before they are read,
because an image data set holds references to files, which must outlive the upload.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from app_pages._common import TABLE_TYPES, choose_dataset, fmt, guard, python_cell, workspace
from app_pages._i18n import language, say, tr
from lepton_core.core import DataError, LeptonError, Message
from lepton_core.data import InputLimits, profile_table
from lepton_core.images import (
    IMAGE_EXTENSIONS,
    ImageData,
    image_name,
    load_images,
    open_image,
    read_pixels,
)
from lepton_core.models import family_class
from lepton_core.plots import (
    class_balance_figure,
    class_maps_figure,
    heat_in_points,
    image_heat_map_figure,
)
from lepton_core.workspace import DatasetInfo, confirm_dataset

#: Image data sets are confirmed with this source prefix, so later pages know them.
SOURCE = "images:"
_DRAFT = "image_draft"  # the loaded ImageData, not yet confirmed
_PER_CLASS = 8
_SHOWN_CLASSES = 12
_IMAGE_TYPES = [e.lstrip(".") for e in IMAGE_EXTENSIONS]
#: One demo picture's size (a phone photo is 2–6 MB).
MAX_PICTURE_BYTES = 10 * 1024 * 1024


# ------------------------------------------------------------------ which data, which runs
def is_image_dataset(dataset: DatasetInfo) -> bool:
    """Whether the data set's one input column holds image references."""
    if dataset.source.startswith(SOURCE):
        return True
    return bool(dataset.text_column) and _holds_images(dataset.id, dataset.text_column)


@st.cache_data(show_spinner=False, max_entries=32)
def _holds_images(dataset_id: str, column: str) -> bool:
    df, _ = workspace().load_dataset(dataset_id)
    values = df[column].dropna().astype(str).head(20).str.lower()
    looks = values.str.endswith(IMAGE_EXTENSIONS) | values.str.contains(r"\.npz!/", regex=True)
    return bool(len(values)) and bool(looks.all())


def reads(dataset: DatasetInfo) -> str:
    """What the data set's models read: ``"image"``, ``"text"`` or ``"table"``."""
    if is_image_dataset(dataset):
        return "image"
    return "text" if dataset.text_column else "table"


def is_image_family(family: str) -> bool:
    try:
        return family_class(family).reads == "image"
    except ValueError:
        return False


# ------------------------------------------------------------------------ uploads
def _folder(payloads: list[tuple[str, bytes]]) -> Path:
    """A workspace folder for these files: the same upload gets the same folder."""
    digest = hashlib.sha256()
    for name, data in payloads:
        digest.update(name.encode("utf-8", "replace") + b"\0")
        digest.update(hashlib.sha256(data).digest())
    folder = workspace().root / "uploads" / "images" / digest.hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _safe_parts(name: str) -> tuple[str, ...] | None:
    """The path's parts inside an upload, or None for one that would leave it."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if not parts or parts[0] == "/" or any(p in ("", ".", "..") or ":" in p for p in parts):
        return None
    return parts


def _base(name: str) -> str:
    return _safe_parts(name)[-1] if _safe_parts(name) else "upload"


def _extract(archive: Path, dest: Path, limits: InputLimits) -> None:
    """The zip's files under ``dest``, within the size limits; names that would leave
    ``dest`` are skipped."""
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [m for m in zf.infolist() if not m.is_dir()]
            limits.check_decompressed(sum(m.file_size for m in members), what="The zip archive")
            total = 0
            for member in members:
                parts = _safe_parts(member.filename)
                if parts is None:
                    continue
                with zf.open(member) as stream:
                    data = stream.read(limits.max_file_bytes + 1)
                total += len(data)
                limits.check_decompressed(total, more=True, what="The zip archive")
                target = dest.joinpath(*parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError):
        raise DataError(Message("images.bad_zip", name=archive.name)) from None


def store_upload(kind: str, files: list[Any], limits: InputLimits | None = None) -> Path:
    """Copy an upload into the workspace; returns what :func:`load_images` reads.

    ``kind`` is ``"zip"``, ``"npz"`` (one file), ``"folder"`` (a directory upload: names
    are paths inside it) or ``"table"`` (a table and a zip of the images it names).
    """
    limits = limits or InputLimits.from_env()
    payloads = [(f.name, f.getvalue()) for f in files]
    total = sum(len(data) for _, data in payloads)
    if kind == "folder":
        limits.check_decompressed(total, what="The zip archive")
    else:
        for _, data in payloads:
            limits.check_file_size(len(data))
    if kind == "sample":
        return _digits()
    folder = _folder(payloads)
    if kind == "folder":
        root = folder / "images"
        for name, data in payloads:
            parts = _safe_parts(name)
            if parts is not None:
                (root / Path(*parts)).parent.mkdir(parents=True, exist_ok=True)
                (root / Path(*parts)).write_bytes(data)
        return root
    for name, data in payloads:
        (folder / _base(name)).write_bytes(data)
    if kind == "table":
        table, images = payloads
        _extract(folder / _base(images[0]), folder, limits)
        return folder / _base(table[0])
    return folder / _base(payloads[0][0])


def _digits() -> Path:
    """scikit-learn's handwritten digits as an ``.npz`` in the workspace (written once)."""
    path = workspace().root / "uploads" / "images" / "sample-digits" / "digits.npz"
    if not path.exists():
        from sklearn.datasets import load_digits

        digits = load_digits()
        path.parent.mkdir(parents=True, exist_ok=True)
        pixels = np.round(digits.images * (255 / 16)).astype(np.uint8)  # 0–16 → 0–255
        np.savez_compressed(path, images=pixels, labels=digits.target)
    return path


# ----------------------------------------------------------------------- Data page
def _thumbnail(ref: str, side: int = 112) -> Any:
    from PIL import Image

    image = open_image(ref).convert("RGB")
    image.thumbnail((side, side))
    if max(image.size) < side:  # small pictures (28-pixel X-rays) drawn large, not blurred
        scale = side / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.NEAREST)
    return image


def example_grid(data: ImageData, per_class: int = _PER_CLASS) -> None:
    """A row of example images for each class (a few classes when there are many)."""
    examples = data.examples(per_class=per_class)
    counts = data.class_counts()
    for label in list(examples)[:_SHOWN_CLASSES]:
        st.markdown(tr("**{label}** · {n:,} images").format(label=label, n=counts.get(label, 0)))
        pictures, names = [], []
        for ref in examples[label]:
            try:
                pictures.append(_thumbnail(ref))
                names.append(image_name(ref))
            except LeptonError:  # moved since loading: leave it out of the grid
                continue
        if pictures:
            st.image(pictures, caption=names, width=112)
    if len(examples) > _SHOWN_CLASSES:
        st.caption(
            tr("Showing {shown} of {total} classes.").format(
                shown=_SHOWN_CLASSES, total=len(examples)
            )
        )


def _balance(data: ImageData) -> None:
    profile = profile_table(data.table[[data.target]], target=data.target)
    if profile.class_balance:
        st.plotly_chart(class_balance_figure(profile, language=language()))


def _skipped(data: ImageData) -> None:
    if not data.skipped:
        st.caption(tr("Every file was a readable image."))
        return
    st.warning(
        tr("Some files are not readable images and were left out ({n:,}); see the list.").format(
            n=len(data.skipped)
        ),
        icon=":material/warning:",
    )
    with st.expander(tr("Files left out ({n:,})").format(n=len(data.skipped))):
        st.dataframe(
            pd.DataFrame(
                {
                    tr("file"): [s.name for s in data.skipped],
                    tr("why"): [say(s.reason) for s in data.skipped],
                }
            ),
            hide_index=True,
        )


def _choose_upload() -> tuple[str, list[Any]] | None:
    """The upload widgets for one kind of image source; the files once all are chosen."""
    kinds = {
        "zip": tr("A .zip with one folder per class"),
        "folder": tr("A folder with one sub-folder per class"),
        "table": tr("A table of image paths and a .zip of the images"),
        "npz": tr("NumPy arrays (.npz)"),
        "sample": tr("Sample: handwritten digits"),
    }
    kind = st.radio(tr("Your images are"), list(kinds), format_func=kinds.get, horizontal=True)
    if kind == "zip":
        up = st.file_uploader(tr("Zip file: one folder per class, named by the class"), ["zip"])
        return (kind, [up]) if up is not None else None
    if kind == "folder":
        ups = st.file_uploader(
            tr("Folder: one sub-folder per class, named by the class"),
            _IMAGE_TYPES,
            accept_multiple_files="directory",
        )
        return (kind, list(ups)) if ups else None
    if kind == "sample":
        st.caption(
            tr(
                "1,797 handwritten digits, 8×8 pixels, ten classes (0–9), from the UCI copy "
                "bundled with scikit-learn: small and quick to try."
            )
        )
        return kind, []
    if kind == "npz":
        up = st.file_uploader(
            tr("NumPy file with 'images' and 'labels' arrays (or MedMNIST's)"), ["npz"]
        )
        return (kind, [up]) if up is not None else None
    c1, c2 = st.columns(2)
    table = c1.file_uploader(
        tr("Table with an image-path column, a label column and any other columns"),
        TABLE_TYPES,  # not zip: a zip here holds the images
    )
    images = c2.file_uploader(tr("Zip of the images (paths in the table are inside it)"), ["zip"])
    st.caption(
        tr(
            "Other columns (sex, age, hospital…) are kept: mark them sensitive below to "
            "compare the model's fairness across their groups."
        )
    )
    return (kind, [table, images]) if table is not None and images is not None else None


def data_section() -> None:
    """The Data page for images: upload, look (examples, balance, skipped files), confirm."""
    st.caption(
        tr(
            "JPEG, PNG, BMP, GIF, TIFF or WebP, any size, colour or greyscale. Damaged files "
            "are left out and listed. Uploads are copied into the workspace."
        )
    )
    chosen = _choose_upload()
    if chosen is not None and st.button(tr("Load images"), type="primary"):
        kind, files = chosen
        with st.spinner(tr("Copying and checking the images…")):
            source = guard(store_upload, kind, files)
            data = guard(load_images, source)
        name = Path(files[0].name).stem if files else "digits"
        st.session_state[_DRAFT] = {"data": data, "name": name or "images"}
    draft = st.session_state.get(_DRAFT)
    if draft is None:
        st.info(tr("Upload images to begin."))
        python_cell(
            """
from lepton_core.images import load_images
data = load_images("my_images.zip")  # one folder per class
print(data.class_counts(), data.skipped)
"""
        )
        return
    data: ImageData = draft["data"]
    counts = data.class_counts()
    c1, c2, c3 = st.columns(3)
    c1.metric(tr("Images"), f"{len(data.table):,}")
    c2.metric(tr("Classes"), len(counts))
    c3.metric(tr("Left out"), f"{len(data.skipped):,}")
    _skipped(data)
    left, right = st.columns([3, 2])
    with left:
        st.subheader(tr("Examples"))
        example_grid(data)
    with right:
        st.subheader(tr("Class balance"))
        _balance(data)
    _confirm(data, draft["name"])


def _confirm(data: ImageData, name: str) -> None:
    st.subheader(tr("What to predict"))
    table = data.table
    others = [c for c in table.columns if c not in (data.image_column, data.target, "split")]
    st.markdown(
        tr("The model learns the **{target}** of each picture in **{column}**.").format(
            target=data.target, column=data.image_column
        )
    )
    sensitive = st.multiselect(
        tr("Sensitive columns (fairness is compared across their groups)"),
        others,
        default=[],
        disabled=not others,
        help=tr(
            "Columns that came with the images, such as sex or age; none when the images came "
            "in folders."
        ),
    )
    test = None
    if "test" in data.splits():  # MedMNIST's own test split is kept as the test set
        test = data.part("test")
        table = table[table["split"] != "test"].drop(columns="split").reset_index(drop=True)
        st.caption(
            tr("The file's own test split ({n:,} images) is kept apart for testing.").format(
                n=len(test)
            )
        )
    elif "split" in table.columns:
        table = table.drop(columns="split")
    if st.button(tr("Use these images"), type="primary"):
        info = guard(
            confirm_dataset,
            workspace(),
            table,
            name=name,
            target=data.target,
            sensitive=sensitive,
            text_column=data.image_column,
            test=test,
            source=f"{SOURCE}{Path(data.source).name}",
        )
        choose_dataset(info.id)
        st.success(
            tr("Data set **{name}** is ready ({rows:,} images); next, train a model.").format(
                name=info.name, rows=info.n_rows
            )
        )
        st.page_link(
            "app_pages/train.py", label=tr("Go to Train"), icon=":material/model_training:"
        )
    python_cell(
        f"""
from lepton_core.images import load_images
from lepton_core.workspace import Workspace, confirm_dataset
data = load_images({Path(data.source).name!r})
info = confirm_dataset(Workspace(), data.table, name={name!r}, target={data.target!r},
                       text_column={data.image_column!r}, sensitive={sensitive!r})
"""
    )


# --------------------------------------------------------------------- Explain page
@st.cache_resource(show_spinner=False, max_entries=8, ttl=3600)
def _image_explanation(root: str, run_id: str) -> Any:
    from lepton_core.images import ImageExplanation

    return ImageExplanation.from_dict(workspace().load_report(run_id, "explanation"))


@st.cache_data(show_spinner=False, max_entries=8, ttl=3600)
def _test_refs(root: str, run_id: str, dataset_id: str) -> list[str]:
    """The run's test images in the order of its stored test predictions."""
    from dataclasses import replace

    from lepton_core.runs import TrainConfig, prepare_data

    ws = workspace()
    config = TrainConfig.from_dict(ws.load_report(run_id, "config"))
    data = prepare_data(replace(config, data=f"dataset:{dataset_id}"), ws)
    return data.x_test.iloc[:, 0].tolist()


def _toward(heat: np.ndarray, expl: Any, label: str) -> np.ndarray | None:
    """A map toward ``label``: a binary model's map is toward its positive class."""
    if label in expl.outputs:
        return heat
    if len(expl.outputs) == 1:
        return -heat  # toward the other class of two
    return None


def heat_figure(raw: Any, row: int, output: int, pixels: np.ndarray, title: str | None = None):
    """The row's heat map in points of the chance of ``output``, over its picture."""
    from lepton_core.explain import to_probability

    chances = to_probability(raw)
    points = chances.output_space == "probability"
    heat = heat_in_points(raw, chances, row, output) if points else raw.heat_map(row, output)
    return image_heat_map_figure(
        pixels, heat, label=raw.outputs[output], points=points, title=title, language=language()
    )


def explain_section(run: Any, output: int, row_summary: Callable[[Any, int, int], None]) -> None:
    """The Explain page for an image model: one test image's heat map, the classes' average
    maps, and the most confidently wrong test images."""
    from lepton_core.explain import to_probability

    raw = _image_explanation(str(workspace().root), run.run_id)
    if not raw.maps:
        st.info(tr("This run has no heat maps stored; train the model again to get them."))
        return
    predictions = workspace().find_report(run.run_id, "test_predictions")
    chances = to_probability(raw)
    refs = [next(iter(record.values())) for record in raw.data]
    st.subheader(tr("One test image"))
    row = st.selectbox(
        tr("Image (one of the {n} explained test images)").format(n=len(refs)),
        range(len(refs)),
        format_func=lambda i: f"{i + 1}. {image_name(refs[i])}",
    )
    # The reasons name the picture by its file name, not by its reference's long path.
    named = [{k: image_name(str(v)) for k, v in record.items()} for record in chances.data]
    row_summary(dataclasses.replace(chances, data=named), row, output)
    pixels = guard(read_pixels, [refs[row]], raw.image_size)[0]
    left, right = st.columns([1, 2])
    left.image(_thumbnail(refs[row], 240), caption=image_name(refs[row]))
    right.plotly_chart(heat_figure(raw, row, output, pixels))
    st.caption(
        tr(
            "Red parts of the picture raised the chance of “{label}”, blue parts lowered it; "
            "clear parts hardly mattered. The 16 × 16 squares' numbers add up to how far the "
            "picture moves the chance from that of a blurred copy."
        ).format(label=raw.outputs[output])
    )

    st.subheader(tr("Where the model looks, per class"))
    maps, counts = _class_maps(raw, predictions)
    if maps:
        st.plotly_chart(class_maps_figure(maps, counts, language=language()))
        st.caption(
            tr(
                "The average map of the explained test images of each class, toward that "
                "class (red: pushes toward it). Only {n} test images are explained per run, "
                "so read these as a hint."
            ).format(n=len(refs))
        )
    _confidently_wrong(run, predictions, output)


def _class_maps(raw: Any, predictions: dict | None) -> tuple[dict, dict]:
    """Each true class's average map toward that class, over the explained rows."""
    from lepton_core.explain import row_outcome

    sums: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}
    for i in range(len(raw.values)):
        actual = row_outcome(raw, i, predictions=predictions).actual
        label = str(actual) if actual is not None else None
        if label is None:
            continue
        k = raw.outputs.index(label) if label in raw.outputs else 0
        heat = _toward(raw.heat_map(i, k), raw, label)
        if heat is None:
            continue
        sums[label] = sums.get(label, 0) + heat
        counts[label] = counts.get(label, 0) + 1
    return {c: sums[c] / counts[c] for c in sorted(sums)}, counts


def _confidently_wrong(run: Any, predictions: dict | None, output: int, shown: int = 4) -> None:
    st.subheader(tr("Most confidently wrong"))
    if not predictions or predictions.get("proba") is None:
        st.caption(tr("This run kept no test predictions."))
        return
    classes = [str(c) for c in predictions["classes"]]
    proba = np.asarray(predictions["proba"], dtype=float)
    wrong = [
        (float(proba[i][classes.index(str(p))]), i)
        for i, (t, p) in enumerate(zip(predictions["y_true"], predictions["y_pred"], strict=True))
        if str(t) != str(p) and str(p) in classes
    ]
    if not wrong:
        st.success(tr("The model got every test image right."))
        return
    wrong.sort(reverse=True)
    refs = guard(_test_refs, str(workspace().root), run.run_id, run.dataset_id)
    picked = [i for _, i in wrong[:shown]]
    st.caption(
        tr(
            "The test images the model was surest about and still got wrong ({n:,} wrong in "
            "all): look for labelling mistakes, or for what misled it."
        ).format(n=len(wrong))
    )
    for col, (chance, i) in zip(st.columns(shown), wrong[:shown], strict=False):
        col.image(
            _thumbnail(refs[i], 200),
            caption=tr("{name}: truly {actual}, predicted {predicted} ({chance:.0%})").format(
                name=image_name(refs[i]),
                actual=fmt(predictions["y_true"][i]),
                predicted=fmt(predictions["y_pred"][i]),
                chance=chance,
            ),
        )
    if st.button(tr("Show their heat maps"), help=tr("Takes a few seconds per image.")):
        from lepton_core.explain import explain

        model = guard(workspace().load_model, run.model_name, run.model_version)
        column = model.feature_names_in_[0]
        frame = pd.DataFrame({column: [refs[i] for i in picked]})
        with st.spinner(tr("Working out which parts of the pictures mattered…")):
            mine = guard(explain, model, frame, max_rows=len(picked))
        pixels = guard(read_pixels, frame[column].tolist(), mine.image_size)
        for col, i in zip(st.columns(len(picked)), range(len(picked)), strict=False):
            label = str(predictions["y_pred"][picked[i]])
            k = mine.outputs.index(label) if label in mine.outputs else 0
            col.plotly_chart(heat_figure(mine, i, k, pixels[i], title=" "), key=f"wrong-{i}")
        st.caption(tr("Each map shows what pushed toward the wrong answer (red)."))


# ---------------------------------------------------------------- Deploy and demo
def api_record(model: Any) -> dict[str, str]:
    """An image model's API record for the examples: the picture as base64 text."""
    return {model.feature_names_in_[0]: "<base64 of a JPEG or PNG file>"}


def try_record(bundle: Any) -> dict[str, str]:
    """A real record for "Try it": one training picture, as PNG base64."""
    column = bundle.model.feature_names_in_[0]
    ref = str(bundle.background[column].iloc[0])
    buffer = io.BytesIO()
    guard(open_image, ref).convert("RGB").save(buffer, format="PNG")
    return {column: base64.b64encode(buffer.getvalue()).decode("ascii")}


def api_note() -> None:
    st.caption(
        tr(
            "An image model takes the picture file itself, as base64 text (`base64 -w0 "
            "photo.jpg`), up to 10 MB and 32 pictures per call."
        )
    )


def demo_section(bundle: Any, log: Callable[[dict, Any, float], None]) -> None:
    """The demo page for an image model: a picture in (upload or camera), the prediction
    with its chances and heat map out. ``log(record, label, probabilities, started)`` records it
    (``started``: ``time.perf_counter()`` before predicting)."""
    import time

    how = {"upload": tr("Upload a picture"), "camera": tr("Take a picture")}
    choice = st.radio(tr("Picture"), list(how), format_func=how.get, horizontal=True)
    if choice == "upload":
        picture = st.file_uploader(tr("Picture"), _IMAGE_TYPES, label_visibility="collapsed")
    else:
        picture = st.camera_input(tr("Picture"), label_visibility="collapsed")
    if picture is None:
        st.info(tr("Choose a picture to see what the model says and why."))
        return
    data = picture.getvalue()
    if len(data) > MAX_PICTURE_BYTES:
        st.error(tr("This picture is over 10 MB; choose a smaller one."))
        return
    column = bundle.model.feature_names_in_[0]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lepton-demo-") as folder:
        path = Path(folder) / "picture"
        path.write_bytes(data)
        with st.spinner(tr("Looking at the picture…")):
            prediction = guard(bundle.predict, [{column: str(path)}])[0]
            raw = prediction.explanation
            pixels = guard(read_pixels, [str(path)], raw.image_size)[0]
    name = image_name(picture.name or "picture")
    log({column: name}, prediction.label, prediction.probabilities, started)
    label = str(prediction.label)
    left, right = st.columns([1, 2])
    with left:
        st.metric(tr("Prediction"), label)
        chances = prediction.probabilities or {}
        if label in chances:
            st.metric(
                tr("Chance of {label}").format(label=label),
                f"{chances[label]:.0%}",
                help=tr("How sure the model is; 50% would be a coin toss between two answers."),
            )
        st.dataframe(
            {
                tr("answer"): list(chances),
                tr("chance"): [f"{p:.0%}" for p in chances.values()],
            },
            hide_index=True,
        )
    with right:
        k = raw.outputs.index(label) if label in raw.outputs else 0
        st.plotly_chart(heat_figure(raw, 0, k, pixels))
        st.caption(
            tr(
                "Red parts of the picture raised the chance of “{label}”, blue parts lowered it."
            ).format(label=raw.outputs[k])
        )
