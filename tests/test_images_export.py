"""ONNX export and int8 compression of image models: the graph gives the model's
probabilities, int8 makes a smaller version that loads compressed, and the Deploy page exports
and compresses an image version; on 20-pixel chest X-rays, Quick mode."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import onnx
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from test_images_pages import PNEUMONIA, ROOT, xray_zip

from app_pages._common import Keys
from lepton_core.core import ModelError
from lepton_core.images import image_onnx_scorer, image_to_onnx, load_images
from lepton_core.runs import TrainConfig, compress, export_onnx, train
from lepton_core.workspace import confirm_dataset

pytestmark = pytest.mark.skipif(not PNEUMONIA.exists(), reason="needs shared/data/pneumoniamnist")


@pytest.fixture(scope="module")
def image_run(workspace, tmp_path_factory):
    """A Quick run on 24 X-rays of 20 pixels (a TrainResult) and its image table."""
    folder = tmp_path_factory.mktemp("xrays")
    with zipfile.ZipFile(io.BytesIO(xray_zip(12, side=20))) as zf:
        zf.extractall(folder)
    table = load_images(folder / "xrays").table
    info = confirm_dataset(
        workspace, table, name="xrays-export", target="label", text_column="image"
    )
    config = TrainConfig(
        data=f"dataset:{info.id}",
        model="image",
        params={"mode": "quick", "image_size": 96, "cache_dir": str(folder / "cache")},
        model_name="xrays-export",
        explain_rows=1,
        test_size=0.3,
    )
    return train(config, workspace=workspace), table


def test_the_onnx_graph_gives_the_models_probabilities(image_run, workspace):
    run, table = image_run
    model = workspace.load_model(run.model_name, run.model_version)
    graph = image_to_onnx(model)
    onnx.checker.check_model(onnx.load_from_string(graph))
    X = table[["image"]]
    ours = model.predict_proba(X)
    theirs = image_onnx_scorer(model, graph).predict_proba(X)
    assert theirs.shape == ours.shape == (24, 2)
    np.testing.assert_allclose(theirs, ours, atol=1e-4, rtol=0)
    assert model.final_estimator_.__class__.__name__ == "ImageNetwork"  # the model is unchanged


def test_export_onnx_checks_an_image_version_on_its_test_rows(image_run, workspace, tmp_path):
    run, _ = image_run
    result = export_onnx(workspace, run.model_name, run.model_version, tmp_path)
    assert result.family == "image" and result.output == "raw"
    assert result.n_rows > 0 and result.label_agreement == 1.0
    assert result.max_abs_diff < 1e-4
    assert result.size_bytes > 1_000_000  # the whole network, not only its head


def test_the_deploy_page_exports_and_compresses_an_image_version(image_run):
    run, _ = image_run
    at = AppTest.from_file(ROOT / "app.py", default_timeout=120).switch_page("app_pages/deploy.py")
    at.session_state[Keys.RUN_ID] = run.run_id
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    next(b for b in at.button if b.label == "Export ONNX").click().run()
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    assert any("image → ONNX" in c.value for c in at.caption), [c.value for c in at.caption]
    assert any(b.label == "Download the ONNX file" for b in at.get("download_button"))
    next(b for b in at.button if b.label == "Compress into a new version").click().run()
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    table = next(d.value for d in at.dataframe if "original" in d.value.columns)
    assert list(table.columns) == ["original", "ONNX int8 (onnxruntime)"]
    assert table.loc["size (KiB)", "ONNX int8 (onnxruntime)"] < table.loc["size (KiB)", "original"]


def test_int8_compression_makes_a_smaller_image_version_that_loads_compressed(
    image_run, workspace, tmp_path
):
    run, table = image_run
    report = compress(workspace, run.model_name, run.model_version, method="onnx-int8")
    assert report.after.size_bytes < report.before.size_bytes / 2
    assert report.label_agreement >= 0.75  # a handful of test rows: one may change sides
    model = workspace.load_model(run.model_name, report.new_version)
    assert model.family == "image" and model.compression_.method == "onnx-int8"
    X = table[["image"]]
    parent = workspace.load_model(run.model_name, run.model_version)
    assert np.abs(model.predict_proba(X) - parent.predict_proba(X)).max() < 0.5
    exported = export_onnx(workspace, run.model_name, report.new_version, tmp_path)
    assert exported.size_bytes == report.after.size_bytes and exported.label_agreement == 1.0


def test_int8_needs_the_training_images_it_calibrates_on(image_run, workspace, tmp_path):
    run, table = image_run
    model = workspace.load_model(run.model_name, run.model_version)
    with pytest.raises(ModelError, match="text and image models"):
        model.quantise("torch-int8")
    with pytest.raises(ModelError, match="needs some of its training images"):
        model.quantise("onnx-int8")
    with pytest.raises(ModelError, match="can no longer be read"):
        model.quantise("onnx-int8", pd.DataFrame({"image": ["/nowhere/gone.png"]}))
    compressed = model.quantise("onnx-int8", table[["image"]])
    assert compressed.compression_.method == "onnx-int8"
    # The calibration images are read while compressing, not kept: no file name is saved.
    saved = [tmp_path / name for name in compressed.save(tmp_path)]
    written = " ".join(path.read_text() for path in saved if path.suffix == ".json")
    assert written and not any(ref in written for ref in table["image"])
