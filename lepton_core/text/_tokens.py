"""Tokenising text columns: cached ``datasets.map`` and the length statistics behind truncation.

Tokenised data sets are written under a cache folder (by default
``<workspace>/cache/text``) named by the base model, a fingerprint of the
texts (and labels) and the truncation length, so training the same data again
skips tokenisation. The length histogram the Data page draws comes from
:func:`length_stats`; :func:`suggest_max_length` picks the truncation length
from it (the 95th percentile, capped). ``datasets`` is imported on first use: it
is slow to import and only training needs it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lepton_core.core import JsonMixin, default_workspace_path
from lepton_core.text._library import DEFAULT_BASE, load_tokenizer

__all__ = [
    "LengthStats",
    "cache_key",
    "default_cache_dir",
    "length_stats",
    "suggest_max_length",
    "token_lengths",
    "tokenize_dataset",
]

#: Longest truncation :func:`suggest_max_length` proposes by default.
MAX_LENGTH_CAP = 256
_MIN_LENGTH = 8


def default_cache_dir() -> Path:
    """``<workspace>/cache/text``: where tokenised data and embeddings are kept."""
    return default_workspace_path() / "cache" / "text"


def cache_key(base: str, texts: Sequence[str], *parts: Any) -> str:
    """A short hex key for ``texts`` under base model ``base`` and extra ``parts``.

    Equal keys mean equal inputs: the hash covers every text (length-prefixed,
    so no two lists collide by concatenation) and the parts' ``repr``.
    """
    digest = hashlib.sha256()
    digest.update(repr((str(base), *parts)).encode())
    for text in texts:
        data = str(text).encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()[:32]


def tokenize_dataset(
    texts: Sequence[str],
    tokenizer: Any,
    *,
    base: str,
    max_length: int,
    labels: Sequence[int] | None = None,
    cache_dir: str | Path | None = None,
) -> Any:
    """Tokenise ``texts`` with ``datasets.map`` (batched), cached on disk.

    Parameters
    ----------
    texts : sequence of str
    tokenizer : transformers tokenizer
    base : str
        The base model name; part of the cache key.
    max_length : int
        Truncation length; texts are not padded (the collator pads each batch).
    labels : sequence of int, optional
        Encoded targets, kept as the ``labels`` column the model's loss reads.
    cache_dir : path, optional
        Where the Arrow cache files go; default :func:`default_cache_dir`.

    Returns
    -------
    datasets.Dataset
        Columns ``input_ids``, ``attention_mask`` (and ``token_type_ids`` when
        the tokenizer makes them), ``length`` and, with ``labels``, ``labels``.
    """
    import datasets

    texts = [str(t) for t in texts]
    columns: dict[str, list] = {"text": texts}
    if labels is not None:
        columns["labels"] = [int(v) for v in labels]
    key = cache_key(
        base,
        texts,
        "tokens",
        int(max_length),
        type(tokenizer).__name__,
        len(tokenizer),
        None if labels is None else cache_key("", [str(v) for v in columns["labels"]]),
    )
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    folder.mkdir(parents=True, exist_ok=True)

    def tokenize(batch: dict[str, list]) -> dict[str, list]:
        encoded = tokenizer(batch["text"], truncation=True, max_length=int(max_length))
        encoded["length"] = [len(ids) for ids in encoded["input_ids"]]
        return dict(encoded)

    was_enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        return datasets.Dataset.from_dict(columns).map(
            tokenize,
            batched=True,
            remove_columns=["text"],
            new_fingerprint=key,
            cache_file_name=str(folder / f"tokens-{key}.arrow"),
            load_from_cache_file=True,
        )
    finally:
        if was_enabled:
            datasets.enable_progress_bars()


def token_lengths(texts: Sequence[str], tokenizer: Any) -> np.ndarray:
    """Tokens per text with special tokens and without truncation, as ``int64``."""
    texts = [str(t) for t in texts]
    if not texts:
        return np.zeros(0, dtype=np.int64)
    encoded = tokenizer(texts, add_special_tokens=True, truncation=False, verbose=False)
    return np.fromiter((len(ids) for ids in encoded["input_ids"]), dtype=np.int64, count=len(texts))


def suggest_max_length(lengths: Any, quantile: float = 0.95, cap: int = MAX_LENGTH_CAP) -> int:
    """The truncation length that keeps ``quantile`` of the texts whole, at most ``cap``.

    Rounded up to a multiple of 8 (friendlier to matrix kernels) and at least 8.
    """
    if not 0 < quantile <= 1:
        raise ValueError(f"quantile must be in (0, 1], got {quantile}.")
    values = np.asarray(lengths, dtype=np.float64)
    if values.size == 0:
        return min(int(cap), _MIN_LENGTH * 8)
    length = int(np.ceil(np.quantile(values, quantile)))
    length = max(_MIN_LENGTH, int(np.ceil(length / 8) * 8))
    return int(min(length, int(cap)))


@dataclass
class LengthStats(JsonMixin):
    """How long the texts of a column are, in tokens of one base model.

    Attributes
    ----------
    base : str
        The base model whose tokenizer counted.
    n_texts : int
    counts, edges : list of int
        Histogram: ``counts[i]`` texts have ``edges[i] <= length < edges[i + 1]``
        (the last bin includes its right edge).
    median, p95 : float
    max : int
    suggested_max_length : int
        :func:`suggest_max_length` of the lengths.
    truncated_share : float
        Share of texts longer than ``suggested_max_length``.
    """

    base: str
    n_texts: int
    counts: list[int]
    edges: list[float]
    median: float
    p95: float
    max: int
    suggested_max_length: int
    truncated_share: float


def length_stats(
    texts: Sequence[str],
    base: str = DEFAULT_BASE,
    *,
    bins: int = 30,
    tokenizer: Any = None,
) -> LengthStats:
    """Token-length histogram and summary of ``texts`` (missing values count as empty).

    ``tokenizer`` saves loading the base model's tokenizer again when the caller has it.
    """
    if tokenizer is None:
        tokenizer = load_tokenizer(base)
    series = pd.Series(list(texts), dtype=object)
    lengths = token_lengths(series.fillna("").astype(str).tolist(), tokenizer)
    if lengths.size == 0:
        return LengthStats(base, 0, [], [], 0.0, 0.0, 0, suggest_max_length(lengths), 0.0)
    top = int(lengths.max())
    low = int(lengths.min())
    n_bins = max(1, min(int(bins), top - low + 1))
    counts, edges = np.histogram(lengths, bins=n_bins, range=(low, top + 1))
    suggested = suggest_max_length(lengths)
    return LengthStats(
        base=base,
        n_texts=int(lengths.size),
        counts=counts.astype(int).tolist(),
        edges=edges.astype(float).tolist(),
        median=float(np.median(lengths)),
        p95=float(np.quantile(lengths, 0.95)),
        max=top,
        suggested_max_length=suggested,
        truncated_share=float(np.mean(lengths > suggested)),
    )
