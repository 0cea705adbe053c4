"""Image classification: loading each format, the verified weights, the ``image`` family's
modes, region SHAP and the run it makes through ``train``; all on tiny generated images."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from lepton_core.core import DataError, ModelError
from lepton_core.data import InputLimits
from lepton_core.explain import explain, supported_explainer
from lepton_core.images import (
    ImageExplanation,
    ImageModel,
    load_images,
    open_image,
    verify_weights,
)
from lepton_core.models import family_class, load_model, make_model

PNEUMONIA = Path("/work/shared/data/pneumoniamnist/pneumoniamnist_reconstructed.npz")


def _picture(brightness: int, size: tuple[int, int], seed: int, mode: str = "RGB") -> Image.Image:
    rng = np.random.default_rng(seed)
    pixels = np.clip(brightness + rng.normal(0, 20, (size[1], size[0], 3)), 0, 255)
    return Image.fromarray(pixels.astype(np.uint8)).convert(mode)


def _class_folder(root: Path, per_class: int = 10) -> Path:
    """Bright and dark squares: PNG and JPEG, colour and greyscale, odd sizes."""
    for label, brightness in (("bright", 200), ("dark", 50)):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            mode = "L" if i % 3 == 0 else "RGB"
            picture = _picture(brightness, (20 + i, 24 + 2 * i), seed=i + brightness, mode=mode)
            picture.save(root / label / f"{i}.{'jpg' if i % 2 else 'png'}")
    return root


@pytest.fixture(autouse=True, scope="module")
def _fewer_shap_evaluations():
    # Additivity holds at any budget; fewer network passes keep the file within seconds.
    # Module-wide, so the shared run below is explained with the same budget.
    from lepton_core.images import _explain

    mp = pytest.MonkeyPatch()
    mp.setattr(_explain, "MAX_EVALS", 24)
    yield
    mp.undo()


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = _class_folder(tmp_path_factory.mktemp("images") / "photos")
    (root / "dark" / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    (root / "notes.txt").write_text("not an image")
    return root


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("image-cache"))


@pytest.fixture(scope="module")
def run(folder, cache, tmp_path_factory):
    """One Quick run through ``train`` (fairness by a metadata column), shared by the tests
    of the family: ``(workspace, result, table)``."""
    from lepton_core.runs import TrainConfig, train
    from lepton_core.workspace import Workspace, confirm_dataset

    table = load_images(folder).table.assign(site=["a", "b"] * 10)
    workspace = Workspace(tmp_path_factory.mktemp("ws"))
    info = confirm_dataset(
        workspace, table, name="squares", target="label", sensitive=["site"], text_column="image"
    )
    config = TrainConfig(
        data=f"dataset:{info.id}",
        model="image",
        params={"mode": "quick", "cache_dir": cache},
        explain_rows=1,
        test_size=0.3,
    )
    return workspace, train(config, workspace=workspace), table


@pytest.fixture(scope="module")
def quick(run) -> tuple[ImageModel, pd.DataFrame]:
    """The shared run's model (trained on its training rows) and every image."""
    workspace, result, table = run
    return workspace.load_model(result.model_name, result.model_version), table


# -- data -------------------------------------------------------------------------------


def test_a_folder_with_one_subfolder_per_class_loads_and_lists_the_damaged_file(folder):
    data = load_images(folder)
    assert data.format == "folder" and data.class_counts() == {"bright": 10, "dark": 10}
    assert [s.name for s in data.skipped] == ["broken.jpg"]
    assert "damaged or not an image" in data.skipped[0].reason
    assert set(data.examples(per_class=3)) == {"bright", "dark"}
    assert open_image(data.table["image"][0]).size[0] >= 20
    again = type(data).from_json(data.to_json())
    assert again.table.equals(data.table) and again.skipped == data.skipped


def test_a_zip_loads_and_its_images_are_read_from_inside_it(folder, tmp_path):
    archive = tmp_path / "photos.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, f"photos/{path.relative_to(folder)}")
        zf.writestr("__MACOSX/photos/._0.png", b"resource fork")
    data = load_images(archive)
    assert data.format == "zip" and data.class_counts() == {"bright": 10, "dark": 10}
    assert [s.name for s in data.skipped] == ["broken.jpg"]
    assert open_image(data.table["image"].iloc[-1]).mode in ("RGB", "L")


def test_a_zip_with_one_class_or_none_gets_one_clear_sentence(folder, tmp_path):
    one = tmp_path / "one.zip"
    with zipfile.ZipFile(one, "w") as zf:
        for path in sorted((folder / "bright").iterdir()):
            zf.write(path, f"bright/{path.name}")
    with pytest.raises(DataError, match="All 10 images have the label 'bright'; a classifier"):
        load_images(one)
    empty = tmp_path / "empty.zip"
    zipfile.ZipFile(empty, "w").close()
    with pytest.raises(DataError, match=r"'empty\.zip' holds no images"):
        load_images(empty)


def test_a_zip_bomb_is_refused_before_it_is_inflated(tmp_path):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a/big.png", b"\0" * 3_000_000)
        zf.writestr("b/big.png", b"\0" * 3_000_000)
    assert bomb.stat().st_size < 50_000
    limits = InputLimits(max_decompressed_bytes=1_000_000)
    with pytest.raises(DataError, match="zip archive"):
        load_images(bomb, limits=limits)


def test_a_table_of_paths_keeps_its_metadata_columns(folder, tmp_path):
    rows = [
        {"file": str(path.relative_to(folder)), "diagnosis": path.parent.name, "sex": sex}
        for path, sex in zip(sorted(folder.rglob("*.png")), ["f", "m"] * 20, strict=False)
    ]
    rows.append({"file": "bright/missing.png", "diagnosis": "bright", "sex": "f"})
    pd.DataFrame(rows).to_csv(folder / "labels.csv", index=False)
    data = load_images(folder / "labels.csv")
    assert data.format == "table" and list(data.table.columns) == ["image", "label", "sex"]
    assert len(data.table) == len(rows) - 1 and [s.name for s in data.skipped] == ["missing.png"]
    (folder / "labels.csv").unlink()
    # Any table format the Data page reads: JSON lines under their other name, say.
    pd.DataFrame(rows).to_json(folder / "labels.ndjson", orient="records", lines=True)
    assert len(load_images(folder / "labels.ndjson").table) == len(rows) - 1
    (folder / "labels.ndjson").unlink()


def test_npz_arrays_load_with_their_splits(tmp_path):
    with np.load(PNEUMONIA) as npz:
        arrays = {
            f"{split}_{kind}": npz[f"{split}_{kind}"][:12]
            for split in ("train", "val", "test")
            for kind in ("images", "labels")
        }
    np.savez(tmp_path / "small.npz", **arrays)
    data = load_images(tmp_path / "small.npz")
    assert data.splits() == ["train", "val", "test"] and len(data.part("test")) == 12
    assert open_image(data.table["image"][0]).size == (28, 28)
    np.savez(tmp_path / "bad.npz", pictures=arrays["train_images"])
    with pytest.raises(DataError, match="has no images and labels arrays"):
        load_images(tmp_path / "bad.npz")


# -- weights ----------------------------------------------------------------------------


def test_weights_whose_hash_differs_are_refused(tmp_path):
    fake = tmp_path / "efficientnet-lite0.pth"
    fake.write_bytes(b"tampered")
    with pytest.raises(ModelError, match="do not match their published SHA-256"):
        verify_weights(fake)


# -- the family -------------------------------------------------------------------------


def test_the_family_is_registered_and_reads_images():
    cls = family_class("image")
    assert cls is ImageModel and cls.reads == "image" and not cls.searchable
    assert {s.name for s in cls.settings} <= set(ImageModel().get_params())
    with pytest.raises(DataError, match="cannot predict numbers"):
        make_model("image", "regression").fit(pd.DataFrame({"image": ["x"]}), [1.0])


def test_quick_trains_and_predicts_above_chance(quick):
    model, table = quick
    assert model.image_size_ == 96 and len(model.history_) == 4
    proba = model.predict_proba(table[["image"]])  # one pass over the images
    assert proba.shape == (20, 2) and np.allclose(proba.sum(axis=1), 1)
    accuracy = (model.classes_[proba.argmax(axis=1)] == table["label"]).mean()
    assert accuracy >= 0.9
    assert list(model.predict(table[["image"]].head(2))) == list(table["label"].head(2))


def test_region_shap_adds_up_and_gives_a_heat_map(quick):
    model, table = quick
    assert supported_explainer(model).startswith("shap.PartitionExplainer (Image")
    expl = explain(model, table[["image"]], max_rows=1)
    assert isinstance(expl, ImageExplanation) and len(expl.values) == 1
    assert expl.additivity_error() < 1e-6
    assert expl.heat_map(0).shape == (16, 16)
    raw = model.raw_output(table[["image"]].iloc[expl.positions])
    assert np.allclose(np.asarray(expl.model_output)[:, 0], raw, atol=1e-4)
    assert ImageExplanation.from_json(expl.to_json()).maps == expl.maps


def test_save_and_load_give_the_same_predictions(quick, tmp_path):
    model, table = quick
    files = model.save(tmp_path / "model")
    assert "head.safetensors" in files
    again = load_model(tmp_path / "model")
    few = table[["image"]].iloc[[0, -1]]  # one of each class
    assert np.allclose(again.predict_proba(few), model.predict_proba(few))


def test_finetune_trains_the_tail_and_round_trips(folder, cache, tmp_path):
    table = load_images(folder).table
    # Two blocks (of the default five) keep the epoch cheap; what is trained is still a tail.
    model = ImageModel(mode="finetune", epochs=1, batch_size=8, tune_blocks=2, cache_dir=cache)
    steps = []
    model.fit(table[["image"]], table["label"], progress=lambda s, n, logs: steps.append(s))
    assert steps == list(range(1, len(steps) + 1)) and len(model.history_) == 1
    model.save(tmp_path / "tuned")
    again = load_model(tmp_path / "tuned")
    few = table[["image"]].iloc[[0, -1]]
    assert np.allclose(again.raw_output(few), model.raw_output(few))


def test_train_records_an_image_run_with_fairness_by_a_metadata_column(run, quick):
    _, result, _ = run
    assert result.family == "image" and result.evaluation.metrics["accuracy"] >= 0.8
    assert result.fairness and result.fairness[0].attribute == "site"
    assert result.shap_summary["explainer"].startswith("shap.PartitionExplainer (Image")
    assert isinstance(quick[0], ImageModel)  # the registered version loads (fixture ``quick``)
