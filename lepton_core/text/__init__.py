"""Text classification: pretrained transformer encoders fine-tuned on the user's labelled text.

``TextModel`` and ``TextClassifier`` live in :mod:`lepton_core.text.model`,
which imports torch and transformers; they are loaded on first use, so
``import lepton_core.text`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lepton_core.text.library import (
    DEFAULT_BASE,
    LIBRARY,
    BaseModel,
    base_title,
    load_encoder,
    load_tokenizer,
    resolve_base,
)
from lepton_core.text.tokens import (
    LengthStats,
    default_cache_dir,
    length_stats,
    suggest_max_length,
    token_lengths,
    tokenize_dataset,
)

if TYPE_CHECKING:
    from lepton_core.text.model import MODES, TextClassifier, TextModel

__all__ = [
    "DEFAULT_BASE",
    "LIBRARY",
    "MODES",
    "BaseModel",
    "LengthStats",
    "TextClassifier",
    "TextModel",
    "base_title",
    "default_cache_dir",
    "length_stats",
    "load_encoder",
    "load_tokenizer",
    "resolve_base",
    "suggest_max_length",
    "token_lengths",
    "tokenize_dataset",
]

_LAZY = {"MODES", "TextClassifier", "TextModel"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from lepton_core.text import model

        return getattr(model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
