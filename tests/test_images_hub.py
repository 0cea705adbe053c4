"""Image models on a transformers backbone from a folder or the Hugging Face Hub: Quick on a
tiny random ViT saved in a temporary folder, and the one sentences for what cannot load.
Offline: nothing is downloaded."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

# The family's own test images, and its smaller SHAP budget (an autouse fixture).
from test_images import _class_folder, _fewer_shap_evaluations  # noqa: F401

from lepton_core.core import ModelError
from lepton_core.explain import explain
from lepton_core.images import ImageExplanation, ImageModel, load_images
from lepton_core.models import load_model

pytest.importorskip("transformers")


def _tiny_vit(folder: Path) -> Path:
    from transformers import ViTConfig, ViTImageProcessor, ViTModel

    config = ViTConfig(
        image_size=32,
        patch_size=8,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=37,
        num_channels=3,
    )
    ViTModel(config).save_pretrained(folder, safe_serialization=True)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> pd.DataFrame:
    return load_images(_class_folder(tmp_path_factory.mktemp("images") / "photos", 12)).table


@pytest.fixture(scope="module")
def vit(tmp_path_factory) -> Path:
    return _tiny_vit(tmp_path_factory.mktemp("tiny-vit"))


@pytest.fixture(scope="module")
def quick(table, vit, tmp_path_factory) -> ImageModel:
    cache = str(tmp_path_factory.mktemp("image-cache"))
    model = ImageModel(mode="quick", backbone=str(vit), cache_dir=cache)
    return model.fit(table[["image"]], table["label"])


def test_quick_on_a_folder_backbone_reads_at_its_size_and_predicts(quick, table):
    assert quick.image_size_ == 32  # the processor's size, not the built-in's choice
    assert quick.final_estimator_.pooled  # the saved ViTModel holds its pooler's weights
    assert quick.final_estimator_.fc.in_features == 32  # the ViT's hidden size
    proba = quick.predict_proba(table[["image"]])
    assert proba.shape == (24, 2) and np.allclose(proba.sum(axis=1), 1)
    assert (quick.predict(table[["image"]]) == table["label"]).mean() >= 0.75
    assert "transformers" in quick.requirements


def test_region_shap_adds_up_on_a_folder_backbone(quick, table):
    expl = explain(quick, table[["image"]], max_rows=2)
    assert isinstance(expl, ImageExplanation) and len(expl.values) == 2
    assert expl.additivity_error() < 1e-6
    assert expl.heat_map(1).shape == (16, 16)
    raw = quick.raw_output(table[["image"]].iloc[expl.positions])
    assert np.allclose(np.asarray(expl.model_output)[:, 0], raw, atol=1e-4)


def test_save_and_load_record_the_backbone_and_give_the_same_predictions(quick, table, tmp_path):
    quick.save(tmp_path / "model")
    meta = json.loads((tmp_path / "model" / "model.json").read_text())
    recorded = meta["estimator"]["weights_sha256"]
    assert meta["params"]["backbone"] == quick.backbone
    assert meta["estimator"]["backbone"] == str(Path(quick.backbone).resolve())
    assert list(recorded) == ["model.safetensors"] and len(recorded["model.safetensors"]) == 64
    again = load_model(tmp_path / "model")
    X = table[["image"]]
    assert np.allclose(again.predict_proba(X), quick.predict_proba(X), atol=1e-6)


def test_a_changed_weights_file_is_refused_on_load(table, vit, tmp_path):
    from safetensors.torch import load_file, save_file

    backbone = shutil.copytree(vit, tmp_path / "vit")
    # No mode given: Quick, the only mode another backbone has.
    model = ImageModel(backbone=str(backbone), cache_dir=str(tmp_path / "cache"))
    model.fit(table[["image"]], table["label"]).save(tmp_path / "model")
    saved = json.loads((tmp_path / "model" / "model.json").read_text())
    assert saved["estimator"]["mode"] == "quick"
    load_model(tmp_path / "model")  # as trained: loads
    weights = load_file(backbone / "model.safetensors")
    weights = {k: v + 0.01 if k.startswith("pooler.") else v for k, v in weights.items()}
    save_file(weights, backbone / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ModelError, match=r"differ from the ones this model was trained with"):
        load_model(tmp_path / "model")


def test_onnx_export_scores_as_the_model_does(quick, table):
    from lepton_core.images import image_onnx_scorer

    graph, output = quick.to_onnx()
    scorer = image_onnx_scorer(quick, graph)
    X = table[["image"]].iloc[:6]
    assert output == "raw"
    assert np.allclose(scorer.predict_proba(X), quick.predict_proba(X), atol=1e-4)


def test_fine_tune_on_a_folder_backbone_is_refused_in_one_sentence(table, vit):
    with pytest.raises(ModelError, match=r"works in Quick mode; pick Quick"):
        ImageModel(mode="finetune", backbone=str(vit)).fit(table[["image"]], table["label"])


def test_a_folder_without_safetensors_is_refused(table, vit, tmp_path):
    folder = shutil.copytree(vit, tmp_path / "no-weights")
    (folder / "model.safetensors").unlink()
    with pytest.raises(ModelError, match=r"has no \.safetensors weights; Lepton only loads"):
        ImageModel(mode="quick", backbone=str(folder)).fit(table[["image"]], table["label"])


def test_a_hub_id_while_offline_gives_one_sentence(monkeypatch, table):
    from lepton_core.data import hub_reachable

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub_reachable.cache_clear()  # the answer is cached per process
    try:
        model = ImageModel(mode="quick", backbone="someone/not-downloaded-image-model")
        with pytest.raises(ModelError) as caught:
            model.fit(table[["image"]], table["label"])
    finally:
        hub_reachable.cache_clear()
    text = str(caught.value)
    assert "is offline; pick the built-in EfficientNet-Lite0 or a model folder" in text
    assert text.count(". ") == 0 and "\n" not in text


def test_a_checkpoint_without_pooler_weights_pools_its_last_hidden_state(tmp_path):
    # A ViT classification checkpoint has no pooler: transformers would start one at random.
    import torch
    from transformers import ViTConfig, ViTImageProcessor, ViTModel

    from lepton_core.images._hub import load_backbone, new_hub_network

    config = ViTConfig(
        image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=1, num_attention_heads=2
    )
    ViTModel(config, add_pooling_layer=False).save_pretrained(tmp_path, safe_serialization=True)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(tmp_path)
    backbone = load_backbone(str(tmp_path))
    assert not backbone.pooled
    network = new_hub_network(backbone, 2)
    x = torch.zeros(1, 3, 32, 32)
    hidden = backbone.encoder(pixel_values=x * network.scale + network.shift).last_hidden_state
    assert torch.allclose(network.features(x), hidden.mean(dim=1))


def test_the_network_scales_pixels_as_the_processor_does(quick, vit):
    from transformers import AutoImageProcessor

    from lepton_core.images._backbone import to_input

    pixels = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    processor = AutoImageProcessor.from_pretrained(vit)
    expected = processor(images=list(pixels), return_tensors="np")["pixel_values"]
    network = quick.final_estimator_
    ours = (to_input(pixels) * network.scale + network.shift).numpy()
    assert np.allclose(ours, expected, atol=1e-5)
