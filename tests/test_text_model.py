"""Tests for the text model family: tiny fits of the built-in MiniLM on CPU."""

from __future__ import annotations

import logging
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lepton_core.core import DataError, ModelError, NotFittedError
from lepton_core.models import load_model
from lepton_core.text import (
    LengthStats,
    TextClassifier,
    TextModel,
    length_stats,
    suggest_max_length,
    token_lengths,
    tokenize_dataset,
)
from lepton_core.text import _library as library  # white-box: the MiniLM folder is patched

POSITIVE = ["a great film", "wonderful and moving", "I loved it", "brilliant acting", "so good"]
NEGATIVE = ["a dull mess", "boring and long", "I hated it", "terrible acting", "so bad"]
NEUTRAL = [
    "the film is 90 minutes",
    "it opens on friday",
    "shot in colour",
    "a remake",
    "in french",
]
# Few steps, few evaluations: these check the plumbing, not the accuracy.
FAST = {"batch_size": 8, "epochs": 0.5, "evals_per_epoch": 1}


def _texts(groups: list[list[str]], repeats: int = 4) -> tuple[pd.DataFrame, np.ndarray]:
    texts, labels = [], []
    for label, group in zip(["neg", "pos", "neutral"], groups, strict=False):
        for i in range(repeats):
            texts += [f"{t} {'!' * i}".strip() for t in group]
            labels += [label] * len(group)
    return pd.DataFrame({"review": texts}), np.asarray(labels, dtype=object)


@pytest.fixture(scope="module")
def binary_data() -> tuple[pd.DataFrame, np.ndarray]:
    return _texts([NEGATIVE, POSITIVE])


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("text-cache"))


@pytest.fixture(scope="module")
def finetuned(binary_data, cache) -> TextModel:
    X, y = binary_data
    return TextModel(cache_dir=cache, **FAST).fit(X, y)


@pytest.fixture(scope="module")
def quick(binary_data, cache) -> TextModel:
    X, y = binary_data
    return TextModel(mode="quick", cache_dir=cache).fit(X, y)


# -- token lengths ------------------------------------------------------------------


def test_token_lengths_and_suggestion() -> None:
    tokenizer = library.load_tokenizer("minilm")
    lengths = token_lengths(["hello", "hello world , again", ""], tokenizer)
    assert lengths.tolist() == [3, 6, 2]  # [CLS] ... [SEP]
    assert suggest_max_length(np.arange(1, 101)) == 96  # p95 = 95.05 → 96, a multiple of 8
    assert suggest_max_length([1000] * 10) == 256
    assert suggest_max_length([2, 3]) == 8
    assert suggest_max_length([], cap=32) == 32
    with pytest.raises(ValueError, match="quantile"):
        suggest_max_length([3], quantile=0)


def test_length_stats_histogram_round_trips() -> None:
    texts = ["short", "a somewhat longer text than that", None, "mid length text"]
    stats = length_stats(texts)
    assert stats.n_texts == 4
    assert sum(stats.counts) == 4
    assert len(stats.edges) == len(stats.counts) + 1
    assert stats.edges[0] <= 2 and stats.edges[-1] > stats.max
    assert stats.suggested_max_length == suggest_max_length(
        token_lengths(["short", texts[1], "", texts[3]], library.load_tokenizer("minilm"))
    )
    assert LengthStats.from_json(stats.to_json()) == stats


def test_tokenized_dataset_is_cached(tmp_path: Path) -> None:
    tokenizer = library.load_tokenizer("minilm")
    first = tokenize_dataset(
        ["one text", "two texts here"], tokenizer, base="minilm", max_length=4, cache_dir=tmp_path
    )
    assert first["length"] == [4, 4]  # truncated to 4, not padded
    assert len(list(tmp_path.glob("tokens-*.arrow"))) == 1
    again = tokenize_dataset(
        ["one text", "two texts here"], tokenizer, base="minilm", max_length=4, cache_dir=tmp_path
    )
    assert again["input_ids"] == first["input_ids"]
    assert len(list(tmp_path.glob("tokens-*.arrow"))) == 1
    tokenize_dataset(["one text"], tokenizer, base="minilm", max_length=4, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("tokens-*.arrow"))) == 2


# -- fine-tune and quick ------------------------------------------------------------


def test_finetune_learns_the_contract(finetuned: TextModel, binary_data) -> None:
    X, _ = binary_data
    model = finetuned
    assert model.classes_.tolist() == ["neg", "pos"]
    assert isinstance(model.final_estimator_, TextClassifier)
    assert model.final_estimator_.config.id2label == {0: "neg", 1: "pos"}
    assert model.max_length_ == 8
    assert model.history_ and {"step", "train_loss", "valid_loss", "valid_accuracy"} <= set(
        model.history_[-1]
    )
    assert model.best_iteration_ is not None
    proba = model.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    raw = model.raw_output(X)
    assert raw.shape == (len(X),)
    logits = model.logits(X["review"])
    np.testing.assert_allclose(raw, logits[:, 1] - logits[:, 0], rtol=1e-6)
    assert set(model.predict(X)) <= {"neg", "pos"}
    # Batching and length sorting do not change the numbers.
    np.testing.assert_allclose(model.logits(X["review"], batch_size=3), logits, atol=1e-4)


def test_token_logits_score_token_ids_as_logits_scores_texts(
    finetuned: TextModel, monkeypatch
) -> None:
    from lepton_core.text import _network as text_model  # white-box: its length limit

    texts = ["good", "a long text of many words that goes on and on past the limit", ""]
    rows = finetuned.tokenizer_(texts)["input_ids"]  # untruncated, as token SHAP's masker has them
    monkeypatch.setattr(text_model, "_PREDICT_MAX_LENGTH", 6)  # the long text is cut
    assert len(rows[1]) > 6
    np.testing.assert_allclose(
        finetuned.token_logits(rows), finetuned.logits(texts), rtol=1e-6, atol=1e-6
    )
    assert text_model._closing_specials(finetuned.tokenizer_) == 1  # [SEP]


def test_quick_mode_separates_clear_sentiment(quick: TextModel, binary_data) -> None:
    X, y = binary_data
    assert quick.history_[0]["step"] == 1
    assert "valid_accuracy" in quick.history_[-1]
    assert np.mean(quick.predict(X) == y) >= 0.9


def test_embeddings_are_cached(quick: TextModel, cache: str) -> None:
    assert list(Path(cache).glob("embeddings-*.npy"))


@pytest.mark.parametrize("fixture", ["finetuned", "quick"])
def test_save_load_gives_identical_predictions(fixture, request, binary_data, tmp_path) -> None:
    model = request.getfixturevalue(fixture)
    X, _ = binary_data
    files = model.save(tmp_path / "model")
    assert not [f for f in files if f.endswith((".bin", ".pt", ".pkl"))]
    if fixture == "quick":
        assert sorted(files) == ["head.safetensors", "model.json"]
    else:
        assert "model.safetensors" in files and "tokenizer.json" in files
    loaded = load_model(tmp_path / "model")
    assert isinstance(loaded, TextModel)
    assert loaded.mode == model.mode and loaded.max_length_ == model.max_length_
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X), atol=1e-6)


def test_pipeline_and_save_pretrained(finetuned: TextModel, tmp_path) -> None:
    from transformers import pipeline

    net, tok = finetuned.final_estimator_, finetuned.tokenizer_
    classify = pipeline("text-classification", model=net, tokenizer=tok, device="cpu")
    out = classify(["a great film", "a dull mess"])
    assert [o["label"] for o in out] == finetuned.predict(
        pd.DataFrame({"review": ["a great film", "a dull mess"]})
    ).tolist()
    net.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file()


def test_multiclass(cache) -> None:
    X, y = _texts([NEGATIVE, POSITIVE, NEUTRAL])
    X.loc[0, "review"] = np.nan  # read as empty text
    model = TextModel(task="multiclass", mode="quick", cache_dir=cache).fit(X, y)
    assert model.classes_.tolist() == ["neg", "neutral", "pos"]
    assert model.raw_output(X).shape == (len(X), 3)
    assert model.predict_proba(X).shape == (len(X), 3)
    assert np.mean(model.predict(X) == y) >= 0.8


def test_finetune_multiclass_with_validation_set(cache) -> None:
    X, y = _texts([NEGATIVE, POSITIVE, NEUTRAL], repeats=2)
    model = TextModel(task="multiclass", cache_dir=cache, max_length=6, **FAST)
    model.fit(X[::2], y[::2], X_valid=X[1::2], y_valid=y[1::2])
    assert model.max_length_ == 6
    assert model.raw_output(X[:4]).shape == (4, 3)


def test_cancel_through_progress_stops_training(binary_data, cache) -> None:
    X, y = binary_data
    calls: list[int] = []

    def cancel(step, total, logs):
        calls.append(step)
        return True

    model = TextModel(cache_dir=cache, batch_size=4, epochs=2, probe_init=False)
    model.fit(X, y, progress=cancel)
    assert calls == [1]
    assert model.cancelled_
    assert model.predict(X[:2]).shape == (2,)


# -- errors ---------------------------------------------------------------------------


def test_regression_is_rejected(binary_data) -> None:
    X, _ = binary_data
    with pytest.raises(DataError, match=r"classify .* tabular model"):
        TextModel(task="regression").fit(X, np.arange(len(X), dtype=float))


def test_more_than_one_column_is_rejected(binary_data) -> None:
    X, y = binary_data
    with pytest.raises(DataError, match="exactly one text column"):
        TextModel().fit(X.assign(extra=1), y)


def test_unfitted_model_says_so() -> None:
    with pytest.raises(NotFittedError, match="not trained yet"):
        TextModel().predict(pd.DataFrame({"review": ["x"]}))


def test_tampered_weights_are_refused(tmp_path, monkeypatch, binary_data) -> None:
    folder = tmp_path / "minilm"
    shutil.copytree(library._minilm_folder(), folder)
    weights = folder / library.WEIGHTS_FILE
    with weights.open("r+b") as fh:
        fh.seek(-1, 2)
        last = fh.read(1)
        fh.seek(-1, 2)
        fh.write(bytes([last[0] ^ 0xFF]))
    monkeypatch.setattr(library, "_minilm_folder", lambda: folder)
    X, y = binary_data
    with pytest.raises(ModelError, match="do not match their published SHA-256"):
        TextModel(mode="quick").fit(X, y)


def test_offline_hub_id_gives_a_clear_message(monkeypatch, binary_data) -> None:
    from lepton_core.data import hub_reachable

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub_reachable.cache_clear()  # the answer is cached per process
    X, y = binary_data
    try:
        with pytest.raises(ModelError, match="offline; pick the built-in MiniLM"):
            TextModel(base="someone/not-downloaded-model").fit(X, y)
    finally:
        hub_reachable.cache_clear()


# -- long texts ---------------------------------------------------------------------


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_a_5000_word_text_is_cut_as_stated_with_no_length_warning(cache, tmp_path) -> None:
    """Training cuts texts at ``max_length_`` (at most 256 tokens), prediction and token
    SHAP at the encoder's 512: the first 510 tokens and the closing [SEP]. transformers'
    "sequence length is longer than the maximum" warning reaches neither warnings nor logs."""
    from transformers.utils import logging as hf_logging

    long_text = " ".join(["good"] * 600 + ["bad"] * 4400)  # 5,000 words
    X, y = _texts([NEGATIVE, POSITIVE], repeats=2)
    X.loc[0, "review"] = long_text
    records = _Records()
    hf_logging.get_logger("transformers").addHandler(records)
    logging.getLogger().addHandler(records)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = TextModel(mode="quick", cache_dir=cache).fit(X, y)
            scores = model.logits([long_text, " ".join(["good"] * 510)])
            model.predict(pd.DataFrame({"review": [long_text]}))
            # What token SHAP does first: the whole text, tokenised to find its tokens.
            assert len(model.tokenizer_(long_text)["input_ids"]) == 5002
            model.save(tmp_path / "model")
            loaded = load_model(tmp_path / "model")
            loaded.tokenizer_(long_text)
            finetuned = TextModel(cache_dir=cache, **FAST).fit(X, y)
            finetuned.save(tmp_path / "tuned")
            load_model(tmp_path / "tuned").tokenizer_(long_text)
    finally:
        hf_logging.get_logger("transformers").removeHandler(records)
        logging.getLogger().removeHandler(records)
    said = [str(w.message) for w in caught] + records.messages
    assert not [m for m in said if "sequence length" in m or "longer than" in m], said
    assert model.max_length_ <= 256 and finetuned.max_length_ <= 256
    # Prediction reads the first 510 tokens: the 90 "good" and 4,400 "bad" after them do not count.
    np.testing.assert_allclose(scores[0], scores[1], atol=1e-5)
