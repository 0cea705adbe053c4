"""Token SHAP for text models: shap's Partition explainer over a ``Text`` masker.

The masker splits each text with the model's own tokenizer and hides tokens by
replacing them with the mask token (``[MASK]``); the Partition explainer walks
a hierarchy of word groups and computes Owen values, which approximate the
Shapley values of the tokens. The values add up exactly to the model's output
minus the base value, the output for the fully masked text (plus any credit
shap leaves on the never-masked ``[CLS]``/``[SEP]``, which are not shown as
tokens); the base value depends on the text's length, so each row keeps its
own (``Explanation.row_base_values``). How well the token values approximate the
Shapley values depends on ``MAX_EVALS`` and on how the masker hides tokens.

Speed comes from how the masked texts reach the network: the masker hands
them over as token ids (the text's own tokens with some replaced by the mask
token's id), so they are never tokenised again; every batch the explainer asks
for is scored in one :meth:`TextModel.token_logits` call (a forward pass per
``FORWARD_BATCH`` texts), and a masked text already scored for this row is not
scored again (the hierarchy asks for the same text from several paths; about a
third of the evaluations repeat).
Where the processor computes bfloat16 natively (AMX or AVX-512 BF16, or a CUDA
GPU), the partly masked texts go through a bfloat16 copy of the network, about
twice as fast; the fully masked and the unmasked text, which fix the base value
and the sum of the values, are scored in float32 (the unmasked one is the
model's output itself), so the values add up exactly as before. Token ranks
agree with float32's (Spearman about 0.997 on SST-2);
``LEPTON_TEXT_SHAP_PRECISION=float32`` scores everything in float32.

The values are in the model's raw output space, as ``model.raw_output``: the
log-odds of the positive class (binary) or one logit per class (multiclass).
"""

from __future__ import annotations

import copy
import os
import sys
import weakref
from typing import Any

import numpy as np
import pandas as pd

from lepton_core.core import Message
from lepton_core.explain._base import (
    ExplainProgress,
    Explanation,
    class_names,
    import_shap,
    in_chunks,
    join_notes,
    output_names,
    raw_space,
    records,
)

NAME = "shap.PartitionExplainer (Text masker)"
#: The training run explains a sample of test texts for the global view.
DEFAULT_MAX_ROWS = 20
#: Model evaluations per text; shap's default, so the values match
#: ``shap.Explainer(pipeline)`` on the same model.
MAX_EVALS = 500
#: Masked texts the explainer hands over at once. Larger batches feed the network
#: better but change the order in which the hierarchy is refined a little.
EXPLAIN_BATCH = 64
FORWARD_BATCH = 64


def supports(model: Any) -> bool:
    """Models that read text: a tokenizer and a batched ``token_logits(rows of token ids)``."""
    return hasattr(model, "tokenizer_") and callable(getattr(model, "token_logits", None))


def raw_scores(model: Any, rows: Any) -> np.ndarray:
    """``model.raw_output`` for token-id rows: log-odds (binary) or logits, one batched call."""
    logits = np.asarray(model.token_logits(rows, batch_size=FORWARD_BATCH), dtype=float)
    if model.task == "binary":
        return logits[:, -1] - logits[:, 0] if logits.shape[1] > 1 else logits[:, 0]
    return logits


_BF16_NETWORKS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def bf16_twin(model: Any) -> Any | None:
    """A copy of ``model`` whose network runs in bfloat16, where that is native and allowed.

    None when ``LEPTON_TEXT_SHAP_PRECISION=float32``, for compressed versions (their
    network is int8 already), and on processors without native bfloat16, where it
    would be slower than float32. The bfloat16 network is made once per network.
    """
    if "torch" not in sys.modules:  # then the network is no torch module: nothing to copy
        return None
    import torch

    network = getattr(model, "final_estimator_", None)
    if (
        os.environ.get("LEPTON_TEXT_SHAP_PRECISION", "auto") == "float32"
        or getattr(model, "compression_", None) is not None
        or not isinstance(network, torch.nn.Module)
    ):
        return None
    device = next(network.parameters()).device
    native = (
        torch.cuda.is_bf16_supported()
        if device.type == "cuda"
        else device.type == "cpu"
        and (torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())
    )
    if not native:
        return None
    fast = _BF16_NETWORKS.get(network)
    if fast is None:
        fast = _BF16_NETWORKS[network] = copy.deepcopy(network).to(torch.bfloat16).eval()
    twin = copy.copy(model)
    twin.final_estimator_ = fast
    return twin


class _CachedScorer:
    """The function shap calls: masked texts (token-id rows) in, outputs out, repeats scored once.

    Rows shap asks for are scored by ``fast`` (default ``score``); :meth:`anchor`
    scores rows with ``score`` before shap asks for them, or takes their known value.
    """

    def __init__(self, score: Any, fast: Any = None) -> None:
        self.score, self.fast = score, fast or score
        self.cache: dict[bytes, np.ndarray] = {}
        self.evaluations = 0

    def anchor(self, rows: list[np.ndarray], values: np.ndarray | None = None) -> None:
        """Score ``rows`` precisely now, or take their ``values``; shap's requests hit the cache."""
        rows = [np.asarray(row, dtype=np.int64) for row in rows]
        if values is None:
            self._add(rows, self.score)
        else:
            keys = (row.tobytes() for row in rows)
            self.cache.update(zip(keys, _per_row(values, len(rows)), strict=True))

    def __call__(self, rows: Any) -> np.ndarray:
        rows = [np.asarray(row, dtype=np.int64) for row in rows]
        self._add(rows, self.fast)
        return np.stack([self.cache[row.tobytes()] for row in rows])

    def _add(self, rows: list[np.ndarray], score: Any) -> None:
        todo = {row.tobytes(): row for row in rows}
        todo = {key: row for key, row in todo.items() if key not in self.cache}
        if todo:
            self.evaluations += len(todo)
            self.cache.update(
                zip(todo, _per_row(score(list(todo.values())), len(todo)), strict=True)
            )

    def reset(self) -> None:
        # A new row: its masked texts will hardly ever equal the previous row's.
        self.cache.clear()


def explain(
    model: Any,
    X: pd.DataFrame,
    background: pd.DataFrame,
    seed: int,
    progress: ExplainProgress | None = None,
) -> Explanation:
    """Token SHAP values of ``model`` for the texts of ``X``.

    ``background`` is not used: a masked token is replaced by the mask token,
    not by text from other rows. ``progress`` hears after every text.
    """
    column = X.columns[0]
    texts = X[column].astype(object).where(X[column].notna(), "").astype(str).tolist()
    # The model's own output first: it rejects unusable input with a clear message.
    model_output = np.asarray(model.raw_output(X), dtype=float).reshape(len(X), -1)
    names = output_names(model)
    mask = model.tokenizer_.convert_ids_to_tokens(_masker(model.tokenizer_).mask_token_id)
    twin = bf16_twin(model)
    values, tokens, bases = token_shap(
        model,
        texts,
        lambda batch: raw_scores(model, batch),
        model_output,
        seed=seed,
        fast_score=None if twin is None else lambda batch: raw_scores(twin, batch),
        progress=progress,
    )
    # Stopped early: the texts explained so far.
    done = len(values)
    X, texts, model_output = X.iloc[:done], texts[:done], model_output[:done]
    precision = "" if twin is None else Message("explain.note.bfloat16")
    return Explanation(
        explainer=NAME,
        output_space=raw_space(model),
        outputs=names,
        feature_names=[str(column)],
        values=values,
        base_values=np.asarray(bases, dtype=float).reshape(len(X), -1).mean(axis=0).tolist(),
        data=records(pd.DataFrame({column: texts}, index=X.index)),
        model_output=model_output.tolist(),
        note=join_notes(
            Message("explain.note.tokens", evals=MAX_EVALS, mask=repr(mask)), precision
        ),
        tokens=tokens,
        row_base_values=bases,
        classes=class_names(model),
    )


def token_shap(
    model: Any,
    texts: list[str],
    score: Any,
    outputs: np.ndarray,
    *,
    seed: int = 0,
    fast_score: Any = None,
    progress: ExplainProgress | None = None,
) -> tuple[list, list[list[str]], list[list[float]]]:
    """Token values, tokens and base values of ``texts`` for the batched function ``score``.

    ``score`` maps a list of texts as token-id rows (what the tokenizer makes of
    them, some ids replaced by the mask token's) to an array ``(n,)`` or
    ``(n, n_outputs)``; ``outputs`` holds its value for each unmasked text, which
    fixes the sum of that text's values. ``fast_score``, a cheaper approximation
    of ``score``, scores the partly masked texts. ``progress(done, total)`` hears after
    every text; True from it stops, and the texts done so far are returned.
    :func:`explain` passes the raw outputs; ``bench/text_shap.py`` passes
    probabilities to compare with shap's pipeline wrapper, which explains those.
    """
    shap = import_shap()
    outputs = np.asarray(outputs, dtype=float).reshape(len(texts), -1)
    scorer = _CachedScorer(score, fast_score)
    masker = _masker(model.tokenizer_)
    explainer = shap.PartitionExplainer(scorer, masker, seed=seed)
    values, tokens, bases = [], [], []
    # shap seeds numpy's global generator; give the caller's state back afterwards.
    state = np.random.get_state()
    try:
        for rows in in_chunks(len(texts), 1, progress):
            text, output = texts[rows.start], outputs[rows.start]
            scorer.reset()
            row_values, row_tokens, base = _explain_one(explainer, masker, scorer, text, output)
            values.append(row_values.tolist())
            tokens.append(row_tokens)
            bases.append(base.tolist())
    finally:
        np.random.set_state(state)
    return values, tokens, bases


def _per_row(scores: Any, n: int) -> np.ndarray:
    """Scores as ``(n, n_outputs)``: one output per row comes as ``(n,)`` or ``(n, 1)``."""
    return np.asarray(scores, dtype=float).reshape(n, -1)


def _masker(tokenizer: Any) -> Any:
    """shap's Text masker, handing masked texts over as token ids.

    A hidden token becomes the tokenizer's mask token (``[MASK]``), or the first
    token of "..." for a tokenizer without one.
    """
    return import_shap().maskers.Text(tokenizer, output_type="token_ids")


def _explain_one(
    explainer: Any, masker: Any, scorer: _CachedScorer, text: str, output: np.ndarray
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Values ``(n_tokens, n_outputs)``, the tokens and the base value of one text."""
    n_outputs = output.shape[0]
    if not len(masker.tokenizer(text)["input_ids"]):
        # A tokenizer without special tokens gives an empty text no ids, which shap's
        # masker cannot split; there is nothing to attribute (as below).
        return np.zeros((0, n_outputs)), [], output.copy()
    segments = masker.data_transform(text)[0]
    first = masker.keep_prefix
    last = len(segments) - masker.keep_suffix
    if last <= first:
        # No tokens (an empty text): nothing to attribute, the output is the base value.
        return np.zeros((0, n_outputs)), [], output.copy()
    # The fully masked and the unmasked text fix the base value and the sum of the
    # values: score the one precisely up front and take the other's known output (the
    # masker makes the very rows shap asks for).
    masked, unmasked = (masker(np.full(len(segments), keep), text)[0][0] for keep in (False, True))
    scorer.anchor([masked])
    scorer.anchor([unmasked], output[None])
    if len(segments) == 1:
        # shap's partition tree needs two segments; one token's Shapley value is exact.
        base = scorer([masked])[0]
        return (output - base)[None], [str(segments[0])], base
    result = explainer([text], max_evals=MAX_EVALS, batch_size=EXPLAIN_BATCH, silent=True)
    values = np.asarray(result.values[0], dtype=float).reshape(len(segments), n_outputs)
    base = np.asarray(result.base_values[0], dtype=float).reshape(n_outputs)
    # [CLS]/[SEP] are never masked, but when the evaluations run out shap spreads a
    # group's remaining credit over its members by size, specials included. Leave them
    # out and keep their share in the base value, so the values still add up.
    kept = np.zeros(len(segments), dtype=bool)
    kept[first:last] = True
    base = base + values[~kept].sum(axis=0)
    return values[kept], [str(s) for s in segments[first:last]], base
