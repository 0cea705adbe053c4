"""The MiniLM tagger's training shortcuts: batches padded to their own longest sentence,
seeded runs, frozen lower blocks and bfloat16 autocast only where the CPU has it."""

from __future__ import annotations

import contextlib

import pytest

torch = pytest.importorskip("torch")

from lepton_core.ner import NerMiniLMModel, read_conll  # noqa: E402
from lepton_core.ner._minilm import _autocast, _layers  # noqa: E402
from lepton_core.ner._network import length_batches, pad  # noqa: E402


def _toy():
    """Eight sentences of different lengths: people before a verb, places after "in"."""
    people, places = ["Alice", "Bob", "Carol", "Dan"], ["Paris", "Rome", "Oslo"]
    lines = []
    for i in range(8):
        lines += [f"{people[i % 4]}\tB-PER", "visited\tO"]
        lines += ["old\tO"] * (i % 3) + ["friends\tO", "in\tO", f"{places[i % 3]}\tB-LOC", ""]
    return read_conll("\n".join(lines).encode())


def test_batches_are_padded_to_their_own_longest_sentence():
    lengths = [3, 9, 4, 8, 3, 9, 4, 8]
    items = [{"ids": list(range(n))} for n in lengths]
    batches = length_batches(lengths, 2, torch.Generator().manual_seed(0))
    assert sorted(i for b in batches for i in b) == list(range(8))
    for batch in batches:
        ids = pad([items[i] for i in batch], "ids", 0)
        assert ids.shape == (len(batch), max(lengths[i] for i in batch))
    # Sorted by length within the chunk: short sentences never share a batch with long ones.
    assert sorted(tuple(sorted(lengths[i] for i in b)) for b in batches) == [
        (3, 3),
        (4, 4),
        (8, 8),
        (9, 9),
    ]


def test_same_seed_same_network_and_frozen_blocks_stay_pretrained():
    from lepton_core.text import DEFAULT_BASE, load_encoder

    data = _toy()

    def network():
        model = NerMiniLMModel(epochs=1, batch_size=4, learning_rate=1e-3, frozen_layers=1)
        return model.fit(data).final_estimator_

    first, second = network(), network()
    for name, value in first.state_dict().items():
        assert torch.equal(value, second.state_dict()[name]), name
    pretrained = load_encoder(DEFAULT_BASE)
    blocks, before = _layers(first.encoder), _layers(pretrained)
    assert len(blocks) == 6
    for name, value in blocks[0].state_dict().items():
        assert torch.equal(value, before[0].state_dict()[name]), name
    assert not torch.equal(blocks[-1].output.dense.weight, before[-1].output.dense.weight)
    embeddings = first.encoder.get_input_embeddings().weight
    assert torch.equal(embeddings, pretrained.get_input_embeddings().weight)


def test_bfloat16_only_when_asked_and_native(monkeypatch):
    assert isinstance(_autocast(False), contextlib.nullcontext)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    assert isinstance(_autocast(True), contextlib.nullcontext)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    with _autocast(True):
        assert torch.get_autocast_dtype("cpu") == torch.bfloat16
        assert torch.is_autocast_enabled("cpu")
    assert not torch.is_autocast_enabled("cpu")
