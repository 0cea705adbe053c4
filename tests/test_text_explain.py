"""Token SHAP for text models: the text strategy, the text side of Explanation, the token plots."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from lepton_core.explain import (
    Explanation,
    _text,
    explain,
    reason_sentences,
    row_outcome,
    summarize,
    supported_explainer,
    to_probability,
)
from lepton_core.plots import token_highlight_html, token_importance_figure
from lepton_core.runs import one_row

TEXTS = ["a great film, not boring at all", "so bad", "brilliant acting <3"]


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """One torch thread: on a busy 2-core machine OpenMP barrier waits slow small batches."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class StandIn:
    """The text model contract: MiniLM, mean pooling and a seeded random linear head."""

    family = "text"

    def __init__(self, encoder, tokenizer, classes: list[str], seed: int = 0) -> None:
        import torch

        self.task = "binary" if len(classes) == 2 else "multiclass"
        self.classes_ = np.asarray(classes, dtype=object)
        self.feature_names_in_ = np.asarray(["review"], dtype=object)
        self.tokenizer_ = tokenizer
        self.max_length_ = 64
        self.encoder = encoder
        generator = torch.Generator().manual_seed(seed)
        self.head = torch.nn.Linear(encoder.config.hidden_size, len(classes))
        with torch.no_grad():
            self.head.weight.copy_(torch.randn(self.head.weight.shape, generator=generator))
        self.final_estimator_ = self.head
        self.calls: list[int] = []

    def token_logits(self, rows: list, batch_size: int = 64) -> np.ndarray:
        import torch

        self.calls.append(len(rows))
        out = []
        with torch.inference_mode():
            for start in range(0, len(rows), batch_size):
                batch = [[int(i) for i in row] for row in rows[start : start + batch_size]]
                inputs = self.tokenizer_.pad({"input_ids": batch}, return_tensors="pt")
                hidden = self.encoder(**inputs).last_hidden_state
                mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1)
                out.append(self.head(pooled).double().numpy())
        return np.concatenate(out)

    def raw_output(self, X: pd.DataFrame) -> np.ndarray:
        texts = X["review"].fillna("").astype(str).tolist()
        scores = self.token_logits(self.tokenizer_(texts)["input_ids"])
        return scores[:, 1] - scores[:, 0] if self.task == "binary" else scores


@pytest.fixture(scope="module")
def minilm():
    from lepton_core.text import load_encoder, load_tokenizer

    return load_encoder("minilm").eval(), load_tokenizer("minilm")


@pytest.fixture(scope="module")
def binary(minilm) -> StandIn:
    return StandIn(*minilm, ["neg", "pos"])


@pytest.fixture(scope="module")
def multiclass(minilm) -> StandIn:
    return StandIn(*minilm, ["a", "b", "c"], seed=1)


@pytest.fixture(scope="module")
def binary_expl(binary) -> Explanation:
    return explain(binary, pd.DataFrame({"review": TEXTS, "other": [1, 2, 3]}))


@pytest.fixture(scope="module")
def multiclass_expl(multiclass) -> Explanation:
    return explain(multiclass, pd.DataFrame({"review": TEXTS[:2]}))


def _hand_made(tokens: list[list[str]], values: list[list[float]]) -> Explanation:
    """A binary text explanation with given token values (base 0)."""
    return Explanation(
        explainer="hand",
        output_space="log-odds",
        outputs=["pos"],
        feature_names=["review"],
        values=[[[v] for v in row] for row in values],
        base_values=[0.0],
        data=[{"review": "".join(row)} for row in tokens],
        model_output=[[sum(row)] for row in values],
        tokens=tokens,
        row_base_values=[[0.0] for _ in tokens],
    )


def test_binary_shapes_tokens_and_additivity(binary, binary_expl) -> None:
    expl = binary_expl
    assert supported_explainer(binary) == _text.NAME == expl.explainer
    assert expl.is_text and expl.output_space == "log-odds" and expl.outputs == ["pos"]
    assert expl.feature_names == ["review"]
    assert expl.data == [{"review": t} for t in TEXTS]
    for i, text in enumerate(TEXTS):
        tokens = expl.tokens[i]
        # Substrings of the text, special tokens left out.
        assert "".join(tokens).split() == text.lower().split()
        assert all(t.strip() and "[CLS]" not in t and "[SEP]" not in t for t in tokens)
        assert np.asarray(expl.values[i]).shape == (len(tokens), 1)
        assert len(expl.row_base_values[i]) == 1
    np.testing.assert_allclose(
        np.asarray(expl.model_output)[:, 0], binary.raw_output(pd.DataFrame({"review": TEXTS}))
    )
    assert expl.additivity_error() < 1e-4
    assert expl.values_array().shape == (len(TEXTS), 1)
    assert "Partition" in expl.note and "masker" in expl.note


def test_masked_texts_go_through_the_network_in_batches(binary) -> None:
    binary.calls.clear()
    explain(binary, pd.DataFrame({"review": [TEXTS[0]]}))
    # A few hundred masked texts in a handful of calls, not one call per text.
    assert sum(binary.calls) > 50 and len(binary.calls) < 25


def test_row_lists_tokens_largest_first(binary_expl) -> None:
    row = binary_expl.row(0)
    assert all(column == "review" for column, _, _ in row)
    assert sorted(token for _, token, _ in row) == sorted(t.strip() for t in binary_expl.tokens[0])
    sizes = [abs(c) for _, _, c in row]
    assert sizes == sorted(sizes, reverse=True)
    total = binary_expl.base_value(0) + sum(c for _, _, c in row)
    assert total == pytest.approx(binary_expl.model_output[0][0], abs=1e-4)


def test_json_round_trip(binary_expl) -> None:
    back = Explanation.from_json(binary_expl.to_json())
    assert back == binary_expl
    assert back.global_importance() == binary_expl.global_importance()
    assert json.loads(json.dumps(summarize(back)))["importance"]["pos"]


def test_subset_keeps_one_row_with_its_base_value(binary_expl) -> None:
    one = binary_expl.subset(1)
    assert one.tokens == [binary_expl.tokens[1]] and one.data == [binary_expl.data[1]]
    assert one.base_values == binary_expl.row_base_values[1]
    assert one.additivity_error() < 1e-4
    assert one_row(binary_expl, 1) == one
    both = binary_expl.subset([2, 0])
    assert both.tokens == [binary_expl.tokens[2], binary_expl.tokens[0]]
    with pytest.raises(ValueError, match="out of range"):
        binary_expl.subset(7)


def test_multiclass_explains_every_class(multiclass, multiclass_expl) -> None:
    expl = multiclass_expl
    assert expl.outputs == ["a", "b", "c"] and expl.output_space == "raw score"
    assert np.asarray(expl.values[0]).shape == (len(expl.tokens[0]), 3)
    np.testing.assert_allclose(
        expl.model_output,
        multiclass.raw_output(pd.DataFrame({"review": TEXTS[:2]})),
        rtol=1e-5,
        atol=1e-5,
    )
    assert expl.additivity_error() < 1e-4
    assert expl.row(0, "b") == expl.row(0, 1)
    assert expl.row(0, "a") != expl.row(0, "c")
    html_b = token_highlight_html(expl, 0, "b")
    assert "“b”" in html_b and html_b != token_highlight_html(expl, 0, "c")
    with pytest.raises(ValueError, match="Unknown output"):
        expl.row(0, "z")


def test_empty_text_has_no_tokens(binary) -> None:
    expl = explain(binary, pd.DataFrame({"review": ["", None]}))
    assert expl.tokens == [[], []] and expl.values == [[], []]
    assert expl.additivity_error() < 1e-9
    assert "(no tokens)" in token_highlight_html(expl, 0)


def test_global_importance_lower_cases_and_averages_over_rows() -> None:
    expl = _hand_made(
        [["Good ", "film"], ["good ", "bad ", "film"], ["bad"]],
        [[1.0, 0.1], [2.0, -3.0, -0.2], [-1.5]],
    )
    ranked = expl.global_importance()
    assert [t for t, _ in ranked] == ["bad", "good", "film"]
    scores = dict(ranked)
    assert scores["bad"] == pytest.approx(4.5 / 3) and scores["good"] == pytest.approx(1.0)
    assert scores["film"] == pytest.approx(0.1)
    assert expl.global_importance("pos") == ranked
    assert summarize(expl, top=2)["importance"]["pos"] == [["bad", 1.5], ["good", 1.0]]
    assert expl.additivity_error() < 1e-12


def test_token_html_escapes_text() -> None:
    expl = _hand_made([["<script>alert(1)</script> ", "& ", "fine"]], [[2.0, -1.0, 0.5]])
    html = token_highlight_html(expl, 0)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&amp;" in html
    assert 'title="+2"' in html and 'title="-1"' in html
    assert "rgba(214, 39, 40, 0.850)" in html  # the largest push up: full red
    assert "rgba(31, 119, 180" in html  # a push down: blue


def test_token_importance_figure() -> None:
    expl = _hand_made([["Good ", "film"], ["bad"]], [[1.0, 0.1], [-3.0]])
    fig = token_importance_figure(expl, output="pos", top=2)
    bar = fig.data[0]
    assert list(bar.y) == ["good", "bad"]  # largest on top
    assert list(bar.marker.color) == ["#d62728", "#1f77b4"]
    assert "pos" in fig.layout.title.text
    summed = token_importance_figure(expl)
    assert list(summed.data[0].y) == ["film", "good", "bad"]
    marks = _hand_made([["Good", " ,", "。"]], [[1.0, -0.5, 0.2]])
    assert list(token_importance_figure(marks).data[0].y) == ["“。”", "“,”", "good"]


def test_token_views_reject_tabular_explanations() -> None:
    tabular = Explanation(
        explainer="x",
        output_space="log-odds",
        outputs=["1"],
        feature_names=["age"],
        values=[[[0.5]]],
        base_values=[0.0],
        data=[{"age": 30}],
        model_output=[[0.5]],
    )
    assert not tabular.is_text and tabular.subset(0) == tabular
    with pytest.raises(ValueError, match="no tokens"):
        token_highlight_html(tabular, 0)
    with pytest.raises(ValueError, match="no tokens"):
        token_importance_figure(tabular)


def test_real_text_model(tmp_path) -> None:
    from lepton_core.text import TextModel

    texts = ["a great film", "I loved it", "so good", "a dull mess", "I hated it", "so bad"] * 3
    labels = np.asarray(["pos", "pos", "pos", "neg", "neg", "neg"] * 3, dtype=object)
    model = TextModel(mode="quick", cache_dir=str(tmp_path)).fit(
        pd.DataFrame({"review": texts}), labels
    )
    assert supported_explainer(model) == _text.NAME
    X = pd.DataFrame({"review": ["what a great film", "so bad"]})
    expl = explain(model, X)
    assert expl.outputs == ["pos"] and expl.output_space == "log-odds"
    np.testing.assert_allclose(
        np.asarray(expl.model_output)[:, 0], model.raw_output(X), rtol=1e-5, atol=1e-5
    )
    assert expl.additivity_error() < 1e-4
    top = {token: c for _, token, c in expl.row(0)}
    assert top["great"] > 0


def test_additivity_holds_when_evaluations_run_out(binary, monkeypatch) -> None:
    # Few evaluations: shap then spreads a group's credit by size, [CLS]/[SEP] included.
    monkeypatch.setattr(_text, "MAX_EVALS", 40)
    text = "the film contains no good jokes , no good scenes , barely a moment of joy"
    expl = explain(binary, pd.DataFrame({"review": [text]}))
    assert len(expl.tokens[0]) == len(binary.tokenizer_(text, add_special_tokens=False).input_ids)
    assert expl.additivity_error() < 1e-4


def test_a_cheaper_scorer_for_partly_masked_texts_keeps_the_values_additive(binary) -> None:
    # The fully masked and the unmasked text fix the base value and the sum; they are
    # scored precisely up front, and shap's requests for them must hit that cache.
    text = "the film contains no good jokes , no good scenes , barely a moment of joy"
    rng = np.random.default_rng(0)

    def score(batch):
        return _text.raw_scores(binary, batch)

    def noisy(batch):
        return score(batch) + rng.normal(scale=0.05, size=len(batch))

    output = score(binary.tokenizer_([text])["input_ids"])
    exact, tokens, bases = _text.token_shap(binary, [text], score, output)
    approx, approx_tokens, approx_bases = _text.token_shap(
        binary, [text], score, output, fast_score=noisy
    )
    assert approx_tokens == tokens
    assert not np.allclose(approx, exact, atol=1e-3)  # the cheap scorer did the rest
    total = np.sum(exact[0]) + bases[0][0]
    assert np.sum(approx[0]) + approx_bases[0][0] == pytest.approx(total, abs=1e-9)


def test_bf16_twin_only_where_bfloat16_is_native_and_allowed(binary, monkeypatch) -> None:
    import torch

    native = torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported()
    twin = _text.bf16_twin(binary)
    assert (twin is not None) == native
    if twin is not None:
        assert next(twin.final_estimator_.parameters()).dtype == torch.bfloat16
        assert next(binary.final_estimator_.parameters()).dtype == torch.float32
        assert _text.bf16_twin(binary).final_estimator_ is twin.final_estimator_  # made once
        assert "bfloat16" in explain(binary, pd.DataFrame({"review": ["so bad"]})).note
    monkeypatch.setattr(binary, "compression_", object(), raising=False)
    assert _text.bf16_twin(binary) is None  # an int8 version stays as it is
    monkeypatch.delattr(binary, "compression_")
    monkeypatch.setenv("LEPTON_TEXT_SHAP_PRECISION", "float32")
    assert _text.bf16_twin(binary) is None
    assert "bfloat16" not in explain(binary, pd.DataFrame({"review": ["so bad"]})).note


def test_compile_shap_leaves_token_shap_nothing_to_compile() -> None:
    # A fresh process: in this one, earlier tests have compiled shap's code already. The
    # Partition explainer's code alone is what the demo page compiles for a text model.
    import subprocess
    import sys

    code = """
import numpy as np, pandas as pd
import numba.core.event as events
from lepton_core.explain import explain
from lepton_core.explain import compile_shap
from lepton_core.text import load_encoder, load_tokenizer
from tests.test_text_explain import StandIn

model = StandIn(load_encoder("minilm").eval(), load_tokenizer("minilm"), ["neg", "pos"])
np.random.seed(7)
state = np.random.get_state()[1].copy()
compile_shap(only="partition")
assert (np.random.get_state()[1] == state).all(), "numpy's random state changed"
with events.install_recorder("numba:compile") as compiled:
    explain(model, pd.DataFrame({"review": ["a great film"]}))
print("compiled", len(compiled.buffer))
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "compiled 0" in done.stdout


def test_token_chances_add_up_to_each_texts_probability(binary_expl, multiclass_expl) -> None:
    # Each text keeps its own base value; in probability it becomes that text's own chance.
    chances = to_probability(binary_expl)
    assert chances.output_space == "probability" and chances.is_text
    logits = np.asarray(binary_expl.model_output)[:, 0]
    for i in range(len(TEXTS)):
        total = chances.base_value(i) + chances.token_values(i).sum()
        assert total == pytest.approx(1 / (1 + np.exp(-logits[i])), abs=1e-4)
        base = 1 / (1 + np.exp(-binary_expl.base_value(i)))
        assert chances.base_value(i) == pytest.approx(base)
        signs = np.sign(binary_expl.token_values(i)[:, 0])
        assert np.array_equal(np.sign(chances.token_values(i)[:, 0]), signs)
    assert chances.subset(1).base_values == [chances.base_value(1)]
    three = to_probability(multiclass_expl)
    raw = np.asarray(multiclass_expl.model_output)
    softmax = np.exp(raw) / np.exp(raw).sum(axis=1, keepdims=True)
    for i in range(2):
        total = np.asarray(three.row_base_values[i]) + three.token_values(i).sum(axis=0)
        np.testing.assert_allclose(total, softmax[i], atol=1e-4)
    assert three.additivity_error() < 1e-4


def test_reason_sentences_for_a_text_quote_its_words() -> None:
    expl = _hand_made([["a ", "great ", "film"]], [[0.0, 2.0, -0.3]])
    sentences = reason_sentences(to_probability(expl), 0)
    assert sentences[0].startswith("“great” pushed the chance of pos up by ")
    assert sentences[0].endswith(" points") and len(sentences) == 2  # "a" moved nothing
    assert sentences[1].startswith("“film” pushed the chance of pos down by ")
    outcome = row_outcome(expl, 0)
    assert outcome.predicted == "pos" and outcome.probability == pytest.approx(
        1 / (1 + np.exp(-1.7))
    )
