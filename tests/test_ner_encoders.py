"""Chinese named entities with an encoder that reads Chinese: the built-in MiniLM (English)
is refused for Chinese sentences, while a Chinese or multilingual model named as the base
(a hub id such as ``bert-base-chinese`` for online users, or a folder, as here) is fine-tuned
a character at a time and finds names it never saw, with their character offsets.
Offline: a tiny random BERT with a Chinese vocabulary is built in a temporary folder."""

from __future__ import annotations

from pathlib import Path

from test_ner_flow import chinese_conll

from lepton_core.ner import read_conll
from lepton_core.runs import TrainConfig, train

_CHARACTERS = "张三李四王五赵六北京上海广州深圳成都去了。"


def _tiny_chinese_bert(folder: Path) -> Path:
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder.mkdir(parents=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(set(_CHARACTERS))]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    BertTokenizerFast(vocab_file=str(folder / "vocab.txt")).save_pretrained(folder)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(folder, safe_serialization=True)
    return folder


def test_a_chinese_encoder_named_as_the_base_learns_chinese_names(tmp_path, workspace):
    encoder = _tiny_chinese_bert(tmp_path / "tiny-zh-bert")
    path = tmp_path / "travels.bio"
    path.write_text(chinese_conll(60), encoding="utf-8")
    params = {
        "base": str(encoder),
        "epochs": 30,
        "learning_rate": 3e-3,
        "batch_size": 8,
        "freeze_embeddings": False,
    }
    run = train(TrainConfig(data=str(path), model="ner_minilm", params=params), workspace=workspace)
    assert run.evaluation.metrics["f1"] > 0.9
    model = workspace.load_model(run.model_name, run.model_version)
    (found,) = model.predict(["赵六去了成都。"])  # names it never saw
    assert [(e["text"], e["type"], e["start"], e["end"]) for e in found] == [
        ("赵六", "PER", 0, 2),
        ("成都", "LOC", 4, 6),
    ]


def test_the_built_in_minilm_is_not_offered_for_chinese_but_a_named_encoder_is():
    from lepton_core.ner._minilm import NerMiniLMModel
    from lepton_core.text import detect_language

    sentences = read_conll(chinese_conll(10).encode(), "zh.bio").sentences
    language = detect_language(s.text for s in sentences)
    assert "reads English only" in str(NerMiniLMModel.language_note(language))
    assert NerMiniLMModel.language_note(language, {"base": "bert-base-chinese"}) == ""
