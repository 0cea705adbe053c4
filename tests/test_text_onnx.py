"""Tests for the ONNX export of text models: tiny Quick-mode fits of the built-in MiniLM."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lepton_core.core import ModelError, NotFittedError
from lepton_core.text import TextModel, quantize_text_onnx, text_onnx_scorer, text_to_onnx
from tests.test_text_model import NEGATIVE, NEUTRAL, POSITIVE, _texts

# Lengths from 3 to over 60 tokens, so batches mix heavy padding with none.
MIXED = [
    "good",
    "a dull, boring and far too long mess of a film that I hated from start to finish, "
    "with terrible acting, a plot that goes nowhere and jokes that never land at all",
    "I loved it",
    "",
    "wonderful and moving, brilliant acting throughout",
]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("text-onnx-cache"))


@pytest.fixture(scope="module")
def binary(cache) -> TextModel:
    X, y = _texts([NEGATIVE, POSITIVE])
    return TextModel(mode="quick", cache_dir=cache).fit(X, y)


@pytest.fixture(scope="module")
def graph(binary) -> bytes:
    return text_to_onnx(binary)


@pytest.fixture(scope="module")
def int8_graph(graph) -> bytes:
    return quantize_text_onnx(graph)


def _session(data: bytes):
    import onnxruntime as ort

    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


def _run(session, model: TextModel, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The graph's and the torch network's logits for ``texts`` padded as one batch."""
    import torch

    enc = model.tokenizer_(texts, padding=True, return_tensors="pt")
    feed = {k: enc[k].numpy() for k in ("input_ids", "attention_mask")}
    with torch.inference_mode():
        network = model.final_estimator_
        expected = network(**{k: torch.as_tensor(v) for k, v in feed.items()}).logits.numpy()
    return session.run(["logits"], feed)[0], expected


def test_graph_takes_ids_and_mask_with_dynamic_axes(graph) -> None:
    import onnx

    proto = onnx.load_from_string(graph)
    inputs = {i.name: i.type.tensor_type for i in proto.graph.input}
    assert set(inputs) == {"input_ids", "attention_mask"}
    for tensor in inputs.values():
        assert tensor.elem_type == onnx.TensorProto.INT64
        assert all(d.dim_param for d in tensor.shape.dim)  # named, not fixed sizes
    assert [o.name for o in proto.graph.output] == ["logits"]


def test_export_matches_torch_on_texts_of_different_lengths(binary, graph) -> None:
    session = _session(graph)
    # One padded batch of five (the export example was two short texts), then each
    # text alone (no padding): the same logits either way, and torch's.
    batch, expected = _run(session, binary, MIXED)
    assert batch.shape == (len(MIXED), 2)
    np.testing.assert_allclose(batch, expected, atol=1e-4)
    for i, text in enumerate(MIXED):
        alone, _ = _run(session, binary, [text])
        np.testing.assert_allclose(alone[0], batch[i], atol=1e-4)
    assert (batch.argmax(axis=1) == expected.argmax(axis=1)).all()


def test_scorer_agrees_with_the_model(binary, graph) -> None:
    scorer = text_onnx_scorer(binary, graph)
    assert (scorer.task, scorer.family) == ("binary", "text")
    assert scorer.classes_.tolist() == ["neg", "pos"]
    # Batches of 2 sort and pad as TextModel.logits does; rows come back in order.
    np.testing.assert_allclose(
        scorer.logits(MIXED, batch_size=2), binary.logits(MIXED, batch_size=2), atol=1e-4
    )
    X = pd.DataFrame({"review": [*MIXED, None]})
    proba = scorer.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(proba, binary.predict_proba(X), atol=1e-5)
    assert scorer.predict(X).tolist() == binary.predict(X).tolist()
    with pytest.raises(ModelError, match="review"):
        scorer.predict(pd.DataFrame({"text": MIXED}))


def test_int8_graph_mostly_agrees(binary, graph, int8_graph) -> None:
    import onnx

    assert len(int8_graph) < 0.8 * len(graph)
    ops = {n.op_type for n in onnx.load_from_string(int8_graph).graph.node}
    assert "MatMulInteger" in ops
    X, _ = _texts([NEGATIVE, POSITIVE])
    X = pd.concat([X, pd.DataFrame({"review": MIXED})], ignore_index=True)
    ours = text_onnx_scorer(binary, int8_graph).predict(X)
    assert np.mean(ours == binary.predict(X)) >= 0.9


def test_multiclass_scorer_shapes(cache) -> None:
    X, y = _texts([NEGATIVE, POSITIVE, NEUTRAL])
    model = TextModel(task="multiclass", mode="quick", cache_dir=cache).fit(X, y)
    scorer = text_onnx_scorer(model, text_to_onnx(model), threads=1)
    proba = scorer.predict_proba(X.head(7))
    assert proba.shape == (7, 3)
    assert scorer.classes_.tolist() == ["neg", "neutral", "pos"]
    assert set(scorer.predict(X.head(7))) <= set(scorer.classes_)
    np.testing.assert_allclose(proba, model.predict_proba(X.head(7)), atol=1e-5)


def test_export_needs_a_fitted_text_model() -> None:
    with pytest.raises(NotFittedError, match="fit it"):
        text_to_onnx(TextModel())
    from lepton_core.models import MLPModel

    with pytest.raises(ValueError, match="text model"):
        text_to_onnx(MLPModel())
