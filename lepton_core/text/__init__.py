"""Text classification: pretrained transformer encoders fine-tuned on the user's labelled text,
and word and character n-grams with a linear model.

The ``text`` model family (:class:`TextModel`, found by the model registry), its
differentially private variant, the base-model library, tokenising with cached
length statistics, and ONNX export; the ``ngram`` family (:class:`NgramTextModel`),
the fast one that needs no pretrained model and the default in every language; and a
guess at a text column's language (:func:`detect_language`), which decides what else
Text Auto tries. Importing the package, or reading the family's title and settings,
does not import torch or transformers: the network
(:class:`TextClassifier`, :func:`mean_pool`) and DP fine-tuning are loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from lepton_core.text._language import (
    DEFAULT_TEXT_FAMILY,
    TextLanguage,
    default_text_family,
    detect_language,
    language_title,
)
from lepton_core.text._library import (
    DEFAULT_BASE,
    LIBRARY,
    BaseModel,
    base_language,
    base_title,
    load_encoder,
    load_tokenizer,
    resolve_base,
)
from lepton_core.text._model import DPTextModel, TextModel
from lepton_core.text._ngram import NGRAM_KINDS, NgramTextModel, NgramTokenizer, token_pattern
from lepton_core.text._onnx import quantize_text_onnx, text_onnx_scorer, text_to_onnx
from lepton_core.text._settings import DP_TEXT_MAX_LENGTH, MODES
from lepton_core.text._tokens import (
    LengthStats,
    default_cache_dir,
    length_stats,
    suggest_max_length,
    token_lengths,
    tokenize_dataset,
)

if TYPE_CHECKING:
    from lepton_core.text._network import TextClassifier, mean_pool
    from lepton_core.text._private import DP_FINETUNE_SCOPE

__all__ = [
    "DEFAULT_BASE",
    "DEFAULT_TEXT_FAMILY",
    "DP_FINETUNE_SCOPE",
    "DP_TEXT_MAX_LENGTH",
    "LIBRARY",
    "MODES",
    "NGRAM_KINDS",
    "BaseModel",
    "DPTextModel",
    "LengthStats",
    "NgramTextModel",
    "NgramTokenizer",
    "TextClassifier",
    "TextLanguage",
    "TextModel",
    "base_language",
    "base_title",
    "default_cache_dir",
    "default_text_family",
    "detect_language",
    "language_title",
    "length_stats",
    "load_encoder",
    "load_tokenizer",
    "mean_pool",
    "quantize_text_onnx",
    "resolve_base",
    "suggest_max_length",
    "text_onnx_scorer",
    "text_to_onnx",
    "token_lengths",
    "token_pattern",
    "tokenize_dataset",
]

# Names from the modules that import torch and transformers at the top: loaded on first use.
_LAZY = {
    "TextClassifier": "lepton_core.text._network",
    "mean_pool": "lepton_core.text._network",
    "DP_FINETUNE_SCOPE": "lepton_core.text._private",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
