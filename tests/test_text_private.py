"""Differentially private text models: a tiny DP fine-tune of the built-in MiniLM on CPU."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lepton_core.core import TrainingError
from lepton_core.dp import PrivacyOptions, PrivacyReport, default_delta, make_private_model
from lepton_core.models import load_model
from lepton_core.text import DP_FINETUNE_SCOPE, DP_TEXT_MAX_LENGTH, DPTextModel, TextModel

SAMPLE = (
    Path(__file__).resolve().parents[1]
    / "lepton_core"
    / "data"
    / "sample_files"
    / "sst2_train.parquet"
)
# A couple of DP-SGD steps on short texts: these check the plumbing, not the accuracy.
TINY = {"max_length": 16, "batch_size": 8, "epochs": 0.4, "evals_per_epoch": 1}


@pytest.fixture(scope="module")
def sst2_rows() -> tuple[pd.DataFrame, pd.Series]:
    rows = pd.read_parquet(SAMPLE).iloc[:40]
    return rows[["sentence"]], rows["sentiment"]


@pytest.fixture(scope="module")
def private_finetune(sst2_rows, tmp_path_factory) -> tuple[DPTextModel, list]:
    X, y = sst2_rows
    calls: list = []
    model = DPTextModel(cache_dir=str(tmp_path_factory.mktemp("cache")), **TINY)
    model.set_privacy(PrivacyOptions(epsilon=8.0))
    model.fit(X, y, progress=lambda step, total, logs: calls.append((step, total, logs)))
    return model, calls


def test_dp_finetune_reports_epsilon_within_target(private_finetune) -> None:
    model, _ = private_finetune
    report = model.privacy_
    assert isinstance(report, PrivacyReport)
    assert report.delta == pytest.approx(default_delta(report.n_train))
    assert set(report.epsilon_by_accountant) == {"prv", "rdp"}
    assert report.epsilon == max(report.epsilon_by_accountant.values())
    assert 0 < report.epsilon <= 8.0  # calibrated with the looser accountant
    assert report.poisson_sampling and report.noise_multiplier > 0
    assert 0 < report.steps <= report.planned_steps == 2
    assert report.sample_rate == pytest.approx(1 / 5)  # 36 training rows, batches of 8
    assert any("frozen" in note for note in report.notes)


def test_dp_finetune_trains_the_encoder_and_keeps_the_embeddings(private_finetune) -> None:
    model, calls = private_finetune
    base = TextModel(max_length=16, mode="quick").fit(*_two_rows())
    trained, public = model.final_estimator_, base.final_estimator_
    same = dict(public.named_parameters())
    for name, weight in trained.named_parameters():
        if name.startswith(("encoder.embeddings.", "encoder.pooler.")):
            assert np.array_equal(weight.detach().numpy(), same[name].detach().numpy()), name
        assert weight.requires_grad  # frozen only while training
    learned = dict(trained.named_parameters())
    for name in ("encoder.encoder.layer.5.output.dense.bias", "classifier.weight"):
        assert not np.array_equal(learned[name].detach().numpy(), same[name].detach().numpy())
    if DP_FINETUNE_SCOPE == "bias":  # the weight matrices stay as pretrained
        name = "encoder.encoder.layer.5.output.dense.weight"
        assert np.array_equal(learned[name].detach().numpy(), same[name].detach().numpy())
    # Progress went through the same callback: train loss, then the final evaluation.
    assert calls and calls[-1][1] == 2 and "valid_loss" in calls[-1][2]
    assert model.history_[-1]["step"] == model.best_iteration_ == 2 and not model.cancelled_


def test_dp_finetune_saves_as_a_text_model_and_reloads(private_finetune, sst2_rows, tmp_path):
    model, _ = private_finetune
    X, _ = sst2_rows
    model.save(tmp_path / "model")
    loaded = load_model(tmp_path / "model")
    assert type(loaded) is TextModel and loaded.mode == "finetune"
    assert loaded.max_length_ == 16
    np.testing.assert_array_equal(loaded.predict(X.head(8)), model.predict(X.head(8)))
    meta = model._estimator_meta()
    assert PrivacyReport.from_dict(meta["privacy"]).epsilon == model.privacy_.epsilon


def test_cancel_stops_after_the_step_it_answers(sst2_rows, tmp_path) -> None:
    X, y = sst2_rows
    model = DPTextModel(cache_dir=str(tmp_path), **{**TINY, "epochs": 1.0})
    model.set_privacy(PrivacyOptions(epsilon=8.0)).fit(X, y, progress=lambda *a: True)
    assert model.cancelled_ and model.privacy_.steps == 1 < model.privacy_.planned_steps


def test_private_text_defaults_and_refusals(sst2_rows) -> None:
    private = make_private_model(TextModel(epochs=2), PrivacyOptions(epsilon=3))
    assert isinstance(private, DPTextModel) and private.mode == "finetune"
    assert private.epochs == 2  # the user's choice stays
    assert private.max_length == DP_TEXT_MAX_LENGTH  # not read from the private texts
    assert private.batch_size > TextModel().batch_size
    X, y = sst2_rows
    with pytest.raises(TrainingError, match="fixed maximum text length"):
        DPTextModel(max_length=None).fit(X, y)
    with pytest.raises(TrainingError, match="probe_init"):
        DPTextModel(probe_init=True).fit(X, y)


def _two_rows() -> tuple[pd.DataFrame, np.ndarray]:
    return pd.DataFrame({"sentence": ["good", "bad", "fine", "awful"]}), np.array([1, 0, 1, 0])


@pytest.mark.filterwarnings("ignore::UserWarning")  # Opacus: secure RNG off, hooks' notes
def test_chunks_of_similar_length_give_the_whole_batch_clipped_gradient() -> None:
    import torch
    from opacus import PrivacyEngine
    from torch import nn
    from torch.utils.data import DataLoader

    from lepton_core.text import TextClassifier, load_encoder, load_tokenizer

    # white-box: the DP fine-tune's own pieces
    from lepton_core.text._network import _label
    from lepton_core.text._private import _by_length, _freeze_public_layers, _PadBatch, _TokenRows

    tokenizer = load_tokenizer("minilm")
    texts = ["a good film", "bad", "a dull plot, overall", "wonderful", "meh", "a long mess"]
    rows = _TokenRows(tokenizer(texts)["input_ids"], np.array([1, 0, 0, 1, 0, 0]))

    def clipped_sum(chunk: int) -> torch.Tensor:
        torch.manual_seed(0)
        encoder = load_encoder("minilm")
        _label(encoder.config, np.array([0, 1]))
        network = TextClassifier(encoder.config, encoder=encoder)
        for m in network.modules():  # the same network in both runs: no dropout
            if isinstance(m, nn.Dropout):
                m.p = 0.0
        _freeze_public_layers(network, "layers")
        optimizer = torch.optim.SGD([p for p in network.parameters() if p.requires_grad], lr=0)
        loader = DataLoader(rows, batch_size=len(rows), collate_fn=_PadBatch(tokenizer))
        module, dp_optimizer, criterion, _ = PrivacyEngine().make_private(
            module=network,
            optimizer=optimizer,
            data_loader=loader,
            criterion=nn.CrossEntropyLoss(),
            noise_multiplier=0.0,
            max_grad_norm=0.5,
            poisson_sampling=False,
            grad_sample_mode="ghost",
        )
        module.train()  # from_pretrained left the encoder in eval mode
        chunks = _by_length(*next(iter(loader)), chunk)
        for i, (ids, mask, labels) in enumerate(chunks):
            criterion(module(input_ids=ids, attention_mask=mask).logits, labels).backward()
            if i < len(chunks) - 1:
                dp_optimizer.signal_skip_step(do_skip=True)
                dp_optimizer.step()
        dp_optimizer.step()
        return torch.cat([p.grad.flatten() for p in dp_optimizer.params])

    whole, chunked = clipped_sum(len(texts)), clipped_sum(2)
    assert torch.allclose(whole, chunked, atol=1e-6 * float(whole.abs().max()))


def test_an_empty_poisson_batch_has_the_batch_structure() -> None:
    from opacus.data_loader import wrap_collate_with_empty

    from lepton_core.text import load_tokenizer

    # white-box: the DP fine-tune's own pieces
    from lepton_core.text._private import _by_length, _PadBatch, _TokenRows

    rows = _TokenRows(load_tokenizer("minilm")(["a film"])["input_ids"], np.array([1]))
    collate = wrap_collate_with_empty(
        collate_fn=_PadBatch(load_tokenizer("minilm")),
        sample_empty_shapes=[(0, *x.shape) for x in rows[0]],
        dtypes=[x.dtype for x in rows[0]],
    )
    input_ids, mask, labels = collate([])  # a first batch that Poisson sampling left empty
    assert labels.numel() == 0 and _by_length(input_ids, mask, labels, 16) == []
