"""The token classifier: a pretrained encoder with a linear layer over every sub-word, and
how words' tags are spread onto sub-words and read back. Imports torch at the top, so
the family imports it on first use."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["IGNORE", "TokenTagger", "encode_words", "length_batches"]

#: The label of sub-words the loss skips (all but each word's first, and special tokens).
IGNORE = -100


class TokenTagger(nn.Module):
    """``encoder`` (a transformers model without a head) and a linear layer giving each
    sub-word one score per tag."""

    def __init__(self, encoder: Any, n_labels: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.hidden_size, n_labels)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.head(self.dropout(hidden))


def encode_words(
    tokenizer: Any, words: list[list[str]], max_length: int, labels: list[list[int]] | None = None
) -> list[dict[str, Any]]:
    """Each sentence's sub-word ids, and for each word the index of its first sub-word
    (-1 when the word has none or was cut at ``max_length``); with ``labels`` (one per
    word) the sub-words' labels, :data:`IGNORE` but on each word's first sub-word."""
    encoded = tokenizer(words, is_split_into_words=True, truncation=True, max_length=max_length)
    out = []
    for i in range(len(words)):
        ids = encoded["input_ids"][i]
        first = [-1] * len(words[i])
        for position, word in enumerate(encoded.word_ids(i)):
            if word is not None and first[word] < 0:
                first[word] = position
        item: dict[str, Any] = {"ids": ids, "first": first}
        if labels is not None:
            sub = [IGNORE] * len(ids)
            for word, position in enumerate(first):
                if position >= 0:
                    sub[position] = labels[i][word]
            item["labels"] = sub
        out.append(item)
    return out


def length_batches(
    lengths: list[int], batch_size: int, generator: torch.Generator | None = None
) -> list[list[int]]:
    """Batches of indices of similar length (little padding): shuffled in chunks of 50
    batches, each chunk sorted by length, the batches shuffled again; sorted by length
    when ``generator`` is None (prediction)."""
    n = len(lengths)
    if generator is None:
        order = sorted(range(n), key=lambda i: lengths[i])
        return [order[s : s + batch_size] for s in range(0, n, batch_size)]
    order = torch.randperm(n, generator=generator).tolist()
    chunk = batch_size * 50
    batches = []
    for s in range(0, n, chunk):
        part = sorted(order[s : s + chunk], key=lambda i: lengths[i])
        batches += [part[b : b + batch_size] for b in range(0, len(part), batch_size)]
    return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]


def pad(items: list[dict[str, Any]], key: str, value: int) -> torch.Tensor:
    """The ``key`` lists of ``items`` as one tensor, padded with ``value`` on the right."""
    width = max(len(item[key]) for item in items)
    return torch.tensor([item[key] + [value] * (width - len(item[key])) for item in items])
