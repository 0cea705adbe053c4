"""The text family's network and the batched passes that score texts with it.

One network class, :class:`TextClassifier`, serves both training modes: mean
pooling over the encoder's last hidden state (all-MiniLM-L6-v2, the built-in
base, was trained with mean pooling), dropout and a linear head. It is a
``transformers.PreTrainedModel``, so ``Trainer``, ``pipeline("text-classification")``
and ``save_pretrained`` work with it unchanged.

This module imports torch and transformers at the top; the estimator
(:mod:`._model`) imports it on first use so that ``import lepton_core.text`` stays light.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import AutoConfig, AutoModel, AutoTokenizer, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput

from lepton_core.core import ModelError
from lepton_core.text._library import quiet_length_warning

__all__ = [
    "HEAD_FILE",
    "Stopped",
    "TextClassifier",
    "device",
    "embed",
    "encoder_limit",
    "load_network",
    "load_saved_tokenizer",
    "mean_pool",
    "new_network",
    "save_network",
    "text_logits",
    "token_logits",
]

HEAD_FILE = "head.safetensors"
#: Prediction reads texts up to this many tokens (or the encoder's limit, if lower).
_PREDICT_MAX_LENGTH = 512


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average of the token vectors ``hidden`` over the tokens ``attention_mask`` keeps."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


class TextClassifier(PreTrainedModel):
    """Encoder → mean pooling → dropout → linear head; outputs one logit per class.

    ``config`` is the encoder's own config with ``num_labels`` and
    ``id2label`` set. Pass ``encoder`` to wrap pretrained weights; without it
    the encoder is built from ``config`` (weights to be loaded afterwards).
    """

    config_class = PretrainedConfig
    base_model_prefix = "encoder"
    main_input_name = "input_ids"
    # Attention runs inside the encoder, which chose its implementation when it loaded.
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_attention_backend = True

    def __init__(self, config: PretrainedConfig, encoder: nn.Module | None = None) -> None:
        super().__init__(config)
        if encoder is None:
            encoder = AutoModel.from_config(config)
        self.encoder = encoder
        dropout = getattr(config, "classifier_dropout", None)
        if dropout is None:
            dropout = getattr(config, "hidden_dropout_prob", 0.1)
        self.dropout = nn.Dropout(float(dropout))
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        # Initialise the head only: post_init() would also touch the pretrained encoder.
        nn.init.normal_(self.classifier.weight, std=getattr(config, "initializer_range", 0.02))
        nn.init.zeros_(self.classifier.bias)

    def embed(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids=None
    ) -> torch.Tensor:
        """Mean-pooled sentence embeddings, shape ``(batch, hidden_size)``."""
        kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids
        hidden = self.encoder(**kwargs).last_hidden_state
        return mean_pool(hidden, attention_mask)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> SequenceClassifierOutput:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        logits = self.classifier(
            self.dropout(self.embed(input_ids, attention_mask, token_type_ids))
        )
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits, labels.view(-1))
        return SequenceClassifierOutput(loss=loss, logits=logits)


def new_network(encoder: nn.Module, classes: np.ndarray) -> TextClassifier:
    """A classifier over the pretrained ``encoder`` with a fresh head, one output per class."""
    _label(encoder.config, classes)
    return TextClassifier(encoder.config, encoder=encoder)


def device() -> torch.device:
    """Where networks train and predict: the GPU when there is one."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def encoder_limit(tokenizer: Any) -> int:
    """The longest text, in tokens, the encoder reads (at most 512)."""
    limit = getattr(tokenizer, "model_max_length", None) or _PREDICT_MAX_LENGTH
    return int(min(limit, _PREDICT_MAX_LENGTH))


# -- batched passes -----------------------------------------------------------------


def text_logits(
    network: Any, tokenizer: Any, texts: list[str], *, max_length: int, batch_size: int
) -> np.ndarray:
    """Logits of ``texts`` cut at ``max_length`` tokens, shape ``(n, n_classes)``."""
    rows = _encode(tokenizer, texts, max_length)
    return _token_logits(network, tokenizer, rows, batch_size=batch_size)


def token_logits(
    network: Any, tokenizer: Any, rows: Sequence[Sequence[int]], *, batch_size: int
) -> np.ndarray:
    """Logits of texts given as token ids, cut as texts are: the closing special tokens stay."""
    limit = encoder_limit(tokenizer)
    closing = _closing_specials(tokenizer)
    cut = [
        list(row[: limit - closing]) + list(row[len(row) - closing :]) if len(row) > limit else row
        for row in rows
    ]
    return _token_logits(network, tokenizer, cut, batch_size=batch_size)


class Stopped(Exception):
    """A batched pass stopped before its end because ``should_stop`` said so."""


def embed(
    network: TextClassifier,
    tokenizer: Any,
    texts: list[str],
    *,
    max_length: int,
    batch_size: int,
    should_stop: Callable[[], bool] | None = None,
) -> np.ndarray:
    """Mean-pooled embeddings of ``texts``, float32, shape ``(n, hidden_size)``.

    ``should_stop`` is asked before each batch; when it says so, :class:`Stopped` is raised.
    """
    return _run(
        network,
        tokenizer,
        _encode(tokenizer, texts, max_length),
        lambda batch: network.embed(**batch),
        width=network.config.hidden_size,
        batch_size=batch_size,
        should_stop=should_stop,
    ).astype(np.float32)


def _closing_specials(tokenizer: Any) -> int:
    """How many special tokens the tokenizer puts after a text (``[SEP]``: 1)."""
    with_specials = tokenizer("a")["input_ids"]
    plain = tokenizer("a", add_special_tokens=False)["input_ids"]
    opening = next(
        (i for i in range(len(with_specials)) if with_specials[i : i + len(plain)] == plain), 0
    )
    return len(with_specials) - opening - len(plain)


def _encode(tokenizer: Any, texts: list[str], max_length: int) -> list[list[int]]:
    return tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]


def _token_logits(
    network: Any, tokenizer: Any, rows: Sequence[Sequence[int]], *, batch_size: int
) -> np.ndarray:
    return _run(
        network,
        tokenizer,
        rows,
        lambda batch: network(**batch).logits,
        width=network.config.num_labels,
        batch_size=batch_size,
    )


def _batches(
    tokenizer: Any, rows: Sequence[Sequence[int]], *, batch_size: int, device: torch.device
) -> Iterator[tuple[np.ndarray, dict[str, torch.Tensor]]]:
    """Yield ``(positions, inputs)`` over token-id rows sorted by length (least padding).

    Each batch is padded to its own longest row.
    """
    lengths = np.fromiter((len(row) for row in rows), dtype=np.int64, count=len(rows))
    order = np.argsort(-lengths, kind="stable")  # longest first: memory peaks early
    pad_id = tokenizer.pad_token_id or 0
    left = getattr(tokenizer, "padding_side", "right") == "left"
    # One text is one segment: its segment ids are all 0.
    segments = "token_type_ids" in getattr(tokenizer, "model_input_names", ())
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        width = int(lengths[idx].max())
        input_ids = np.full((len(idx), width), pad_id, dtype=np.int64)
        mask = np.zeros((len(idx), width), dtype=np.int64)
        for row, i in enumerate(idx):
            cols = slice(width - lengths[i], width) if left else slice(0, lengths[i])
            input_ids[row, cols] = rows[i]
            mask[row, cols] = 1
        inputs = {
            "input_ids": torch.from_numpy(input_ids),
            "attention_mask": torch.from_numpy(mask),
        }
        if segments:
            inputs["token_type_ids"] = torch.zeros_like(inputs["input_ids"])
        yield idx, {k: v.to(device) for k, v in inputs.items()}


def _run(
    network: Any,
    tokenizer: Any,
    rows: Sequence[Sequence[int]],
    forward: Callable[[dict[str, torch.Tensor]], torch.Tensor],
    *,
    width: int,
    batch_size: int,
    should_stop: Callable[[], bool] | None = None,
) -> np.ndarray:
    """``forward(batch)`` over token-id ``rows`` in length-sorted batches, in the given order."""
    network.eval()
    where = next(network.parameters()).device
    out = np.zeros((len(rows), width), dtype=np.float64)
    with torch.inference_mode():
        for idx, inputs in _batches(tokenizer, rows, batch_size=batch_size, device=where):
            if should_stop is not None and should_stop():
                raise Stopped
            out[idx] = forward(inputs).float().cpu().numpy()
    return out


# -- saving and loading -------------------------------------------------------------


def save_network(
    network: TextClassifier, tokenizer: Any, folder: Path, *, quick: bool
) -> list[str]:
    """Write the network into ``folder``; return the names of the files written.

    A quick model's encoder is the pretrained one, so only its head is written
    (:data:`HEAD_FILE`); a fine-tuned one writes the whole network and the tokenizer.
    """
    if quick:
        head = {
            k: v.detach().cpu().contiguous() for k, v in network.classifier.state_dict().items()
        }
        save_file(head, folder / HEAD_FILE)
        return [HEAD_FILE]
    before = {p.name for p in folder.iterdir()}
    network.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    weights = list(folder.glob("*.bin")) + list(folder.glob("*.pt"))
    if weights:  # pragma: no cover - transformers writes safetensors
        raise ModelError("The network was not saved as safetensors; update transformers.")
    return sorted(p.name for p in folder.iterdir() if p.name not in before)


def load_network(folder: Path, classes: np.ndarray, encoder: nn.Module | None) -> TextClassifier:
    """Read back what :func:`save_network` wrote; ``encoder`` is a quick model's pretrained one."""
    if encoder is not None:
        network = new_network(encoder, classes)
        network.classifier.load_state_dict(load_file(folder / HEAD_FILE))
        return network
    weights = folder / "model.safetensors"
    if not weights.is_file():
        raise ModelError(
            f"The text model in '{folder}' has no model.safetensors; train and save it again."
        )
    config = AutoConfig.from_pretrained(folder, trust_remote_code=False)
    _label(config, classes)
    network = TextClassifier(config)
    missing, unexpected = network.load_state_dict(load_file(weights), strict=False)
    if missing or unexpected:
        raise ModelError(
            f"The weights in '{weights}' do not fit the saved network; train and save it again."
        )
    return network


def load_saved_tokenizer(folder: Path) -> Any:
    """The tokenizer a fine-tuned model saved next to its network."""
    return quiet_length_warning(AutoTokenizer.from_pretrained(folder, trust_remote_code=False))


def _label(config: PretrainedConfig, classes: np.ndarray) -> None:
    config.num_labels = len(classes)
    config.id2label = {i: str(c) for i, c in enumerate(classes)}
    config.label2id = {str(c): i for i, c in enumerate(classes)}
    config.problem_type = "single_label_classification"
