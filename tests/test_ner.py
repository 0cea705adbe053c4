"""Named-entity recognition: readers, the CRF, MiniLM and spaCy families, entity-level scores."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from lepton_core.core import DataError, ModelError, TrainingError
from lepton_core.models import family_names, load_model
from lepton_core.ner import (
    NerCrfModel,
    NerData,
    Sentence,
    evaluate_ner,
    join_tokens,
    load_ner,
    ner_from_jsonl,
    ner_from_table,
    normalise_tags,
    read_conll,
    tokenize,
    train_ner,
)

CONLL = b"""-DOCSTART-\tO

Alice\tB-PER
lives\tO
in\tO
New\tB-LOC
York\tI-LOC
.\tO

Bob\tB-PER
met\tO
Alice\tB-PER
in\tO
Paris\tB-LOC

Carol\tB-PER
flew\tO
to\tO
Berlin\tB-LOC
"""

CHINESE = "张\tB-PER\n三\tI-PER\n在\tO\n北\tB-LOC\n京\tI-LOC\n，\tO\n好\tO\n".encode()


def _toy() -> NerData:
    """Twelve short sentences: people before a verb, places after "in"."""
    people, places = ["Alice", "Bob", "Carol", "Dan"], ["Paris", "Rome", "Oslo"]
    lines = []
    for i in range(12):
        person, place = people[i % 4], places[i % 3]
        lines += [f"{person}\tB-PER", "visited\tO", "friends\tO", "in\tO", f"{place}\tB-LOC", ""]
    return read_conll("\n".join(lines).encode())


# -- readers -----------------------------------------------------------------


def test_conll_reads_sentences_tokens_offsets_and_counts():
    data = read_conll(CONLL, "toy.conll")
    assert len(data) == 3 and data.notes == []
    first = data.sentences[0]
    assert first.text == "Alice lives in New York ."
    assert [(e.text, e.type, e.start, e.end) for e in first.entities] == [
        ("Alice", "PER", 0, 5),
        ("New York", "LOC", 15, 23),
    ]
    assert data.counts == {"PER": 4, "LOC": 3} and data.types == ["LOC", "PER"]


def test_the_table_form_reads_back_to_the_same_entities():
    data = read_conll(CONLL)
    table = data.table()
    assert list(table.columns) == ["text", "entities"]
    assert json.loads(table["entities"][0]) == [[0, 5, "PER"], [15, 23, "LOC"]]
    again = ner_from_table(table)
    assert [s.entities for s in again.sentences] == [s.entities for s in data.sentences]


def test_json_lines_with_spans_in_either_form(tmp_path):
    path = tmp_path / "spans.jsonl"
    rows = [
        {"text": "Alice lives in New York.", "entities": [[0, 5, "PER"], [15, 23, "LOC"]]},
        {"text": "Bob left.", "label": [{"start": 0, "end": 3, "label": "PER"}]},
        {"text": "Nothing here."},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    data = load_ner(path)
    assert [e.text for e in data.sentences[0].entities] == ["Alice", "New York"]
    assert data.sentences[0].tokens[-1] == "."  # punctuation is a token of its own
    assert data.counts == {"PER": 2, "LOC": 1}


def test_chinese_is_read_a_character_per_token():
    data = read_conll(CHINESE)
    sentence = data.sentences[0]
    assert sentence.text == "张三在北京，好"  # no spaces between Chinese characters
    assert [(e.text, e.type) for e in sentence.entities] == [("张三", "PER"), ("北京", "LOC")]
    tokens, _ = tokenize("我住在北京 with Bob.")
    assert tokens == ["我", "住", "在", "北", "京", "with", "Bob", "."]
    assert join_tokens(["北", "京", "is", "big"])[0] == "北京 is big"
    spans = ner_from_jsonl(json.dumps({"text": "我住在北京", "entities": [[3, 5, "LOC"]]}).encode())
    assert spans.sentences[0].tags == ["O", "O", "O", "B-LOC", "I-LOC"]


def test_iob1_and_bioes_become_bio():
    assert normalise_tags(["I-PER", "I-PER", "B-PER", "O"]) == (
        ["B-PER", "I-PER", "B-PER", "O"],
        1,
    )
    assert normalise_tags(["S-LOC", "B-PER", "E-PER", "E-PER"])[0] == [
        "B-LOC",
        "B-PER",
        "I-PER",
        "B-PER",  # an entity closed by E- cannot be continued
    ]
    assert normalise_tags(["PER", "PER", "O"])[0] == ["B-PER", "I-PER", "O"]  # IO


def test_tags_that_do_not_nest_start_a_new_entity_and_say_so():
    data = read_conll(b"Paris\tB-LOC\nHilton\tI-PER\nsang\tO\nloud\tI-PER\n", "bad.bio")
    assert data.sentences[0].tags == ["B-LOC", "B-PER", "O", "B-PER"]
    assert len(data.notes) == 1
    note = "Tags in bad.bio that continued no entity of their type (e.g. I-PER after B-LOC or O): 2"
    assert note in data.notes[0]
    assert "二" not in data.notes[0].render("zh") and "bad.bio" in data.notes[0].render("zh")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", "has no sentences"),
        (b"\n\n-DOCSTART- O\n\n", "has no sentences"),
        (b"Alice\n", "Line 1 of the file has a token but no tag"),
        (b"Alice\tX-PER\n", "is not a BIO tag"),
        (b"\xff\xfe\x00bad", "is not UTF-8 text"),
    ],
)
def test_bad_conll_files_get_one_clear_sentence(raw, expected):
    with pytest.raises(DataError, match=expected):
        read_conll(raw)


def test_bad_spans_and_tables_get_one_clear_sentence():
    with pytest.raises(DataError, match="lies outside its text of 3 characters"):
        ner_from_jsonl(b'{"text": "Bob", "entities": [[0, 9, "PER"]]}')
    with pytest.raises(DataError, match='is not a JSON object with a "text"'):
        ner_from_jsonl(b"[1, 2]")
    with pytest.raises(DataError, match="The table has no column 'entities'"):
        ner_from_table(pd.DataFrame({"text": ["a"]}))
    with pytest.raises(DataError, match="are not a list of"):
        ner_from_table(pd.DataFrame({"text": ["Bob"], "entities": ["PER"]}))
    nested = ner_from_jsonl(
        b'{"text": "New York City", "entities": [[0, 13, "LOC"], [0, 8, "LOC"]]}'
    )
    assert [e.text for e in nested.sentences[0].entities] == ["New York City"]
    assert "1 entities in the file overlapped an earlier one" in nested.notes[0]


# -- evaluation ----------------------------------------------------------------


def test_seqeval_figures_equal_a_hand_count():
    true = read_conll(CONLL).sentences
    predicted = [
        ["B-PER", "O", "O", "B-LOC", "O", "O"],  # PER right; LOC's span too short
        ["B-PER", "O", "B-LOC", "O", "B-LOC"],  # PER right, Alice called LOC, LOC right
        ["B-PER", "O", "O", "O"],  # PER right, Berlin missed
    ]
    report = evaluate_ner(true, predicted)
    # 7 true entities, 6 predicted, 4 exactly right (3 PER, 1 LOC).
    assert report.precision == pytest.approx(4 / 6)
    assert report.recall == pytest.approx(4 / 7)
    assert report.f1 == pytest.approx(8 / 13)
    assert report.by_type["PER"]["precision"] == pytest.approx(1.0)
    assert report.by_type["PER"]["recall"] == pytest.approx(3 / 4)
    assert report.by_type["LOC"]["precision"] == pytest.approx(1 / 3)
    assert report.by_type["LOC"]["recall"] == pytest.approx(1 / 3)
    assert report.by_type["LOC"]["support"] == 3
    # The confusion view: Alice (PER) read as LOC, Berlin missed, New York's short span LOC.
    assert report.confusion["PER"] == {"PER": 3, "LOC": 1}
    assert report.confusion["LOC"] == {"LOC": 2, "—": 1}
    # Errors per sentence: wrong or missed entities on either side (2, 2, 1).
    assert [(w["index"], w["errors"]) for w in report.worst] == [(0, 2), (1, 2), (2, 1)]
    assert report.metrics()["f1_PER"] == pytest.approx(2 * 0.75 / 1.75)


# -- the CRF ---------------------------------------------------------------------


def test_crf_trains_predicts_spans_and_round_trips_in_its_own_format(tmp_path):
    data = _toy()
    steps = []
    model = NerCrfModel(max_iterations=30).fit(data, progress=lambda s, n, logs: steps.append(s))
    assert steps and steps[-1] <= 30 and model.history_
    assert list(model.classes_) == ["LOC", "PER"]
    found = model.predict(["Carol visited friends in Rome"])[0]
    assert {"start": 0, "end": 5, "type": "PER", "text": "Carol"} in found
    assert {"start": 25, "end": 29, "type": "LOC", "text": "Rome"} in found
    assert model.evaluate(data).f1 == pytest.approx(1.0)
    files = model.save(tmp_path / "m")
    assert "model.crfsuite" in files
    assert (tmp_path / "m" / "model.crfsuite").read_bytes()[:4] == b"lCRF"  # crfsuite's own
    again = load_model(tmp_path / "m")
    assert isinstance(again, NerCrfModel)
    assert again.predict_tags(data) == model.predict_tags(data)
    assert (
        again.predict(["Dan visited friends in Oslo"])[0]
        == model.predict(["Dan visited friends in Oslo"])[0]
    )
    with pytest.raises(ModelError, match="character spans"):
        again.predict_proba(pd.DataFrame({"text": ["Bob"]}))


def test_train_ner_from_tables_and_refusals():
    table = _toy().table()
    result = train_ner(table, "ner_crf", test=table, max_iterations=20)
    assert result.report is not None and result.report.f1 > 0.9
    assert set(family_names(reads="ner")) == {"ner_crf", "ner_minilm", "ner_spacy"}
    with pytest.raises(TrainingError, match="'lightgbm' is not an entity model"):
        train_ner(table, "lightgbm")
    empty = [Sentence("no entities here", ["no", "entities", "here"], [0, 3, 12], ["O"] * 3)]
    with pytest.raises(DataError, match="no entities to learn from"):
        NerCrfModel().fit(empty)
    assert (
        NerCrfModel(max_iterations=10)
        .fit(table["text"], table["entities"])
        .predict(pd.Series(["", "Bob"]))[0]
        == []
    )  # an empty text has no entities


def test_token_shap_of_one_entity_adds_up_and_credits_the_words_before_it():
    from lepton_core.core import ExplainError
    from lepton_core.explain import reason_sentences
    from lepton_core.ner import explain_entity

    model = NerCrfModel(max_iterations=30).fit(_toy())
    text = "Carol visited friends in Rome"
    rome = next(e for e in model.predict([text])[0] if e["text"] == "Rome")
    expl = explain_entity(model, text, rome)
    assert expl.tokens == [["Carol ", "visited ", "friends ", "in ", "Rome"]]
    assert expl.outputs == ["Rome (LOC)"] and expl.output_space == "probability"
    assert expl.additivity_error() < 1e-9
    chances = model.tag_probabilities([text.split()])[0]
    assert expl.model_output[0][0] == pytest.approx(chances[4, model.labels_.index("B-LOC")])
    assert np.allclose(chances.sum(axis=1), 1.0)
    # "in" is what marks a place in these sentences: it pushes the chance up the most.
    values = expl.token_values(0)[:, 0]
    assert int(np.argmax(values)) == 3 and values[3] > 0.05
    assert "“in” pushed the chance of Rome (LOC) up" in str(reason_sentences(expl, 0)[0])
    # Hidden words are read as unknown words, and the model evaluations stay bounded.
    hidden = model.tag_probabilities([[None] * 5])[0]
    assert np.allclose(hidden.sum(axis=1), 1.0)
    scored = []
    counting = model.tag_probabilities
    model.tag_probabilities = lambda s: scored.append(len(s)) or counting(s)
    long = "Carol visited friends in Rome and then Oslo and Paris with Bob and Dan"
    small = explain_entity(model, long, rome, max_evals=12)
    assert sum(scored) <= 12 and small.additivity_error() < 1e-9
    one = explain_entity(model, "Rome", {"start": 0, "end": 4, "type": "LOC"})
    assert one.additivity_error() < 1e-12 and one.tokens == [["Rome"]]
    with pytest.raises(ExplainError, match="pick one of the names it found"):
        explain_entity(model, text, {"start": 0, "end": 5, "type": "ORG"})


# -- MiniLM ----------------------------------------------------------------------


def test_minilm_head_trains_a_step_and_round_trips(tmp_path):
    from lepton_core.ner import NerMiniLMModel

    data = _toy()
    steps = []
    model = NerMiniLMModel(epochs=1, batch_size=8, learning_rate=1e-3)
    model.fit(
        data.sentences[:8],
        X_valid=data.sentences[8:],
        progress=lambda s, n, logs: steps.append(logs),
    )
    assert len(steps) == 1 and np.isfinite(steps[0]["train_loss"])
    assert model.history_[0]["valid_f1"] >= 0.0 and model.best_iteration_ == 1
    tags = model.predict_tags(data)
    assert [len(t) for t in tags] == [len(s.tokens) for s in data.sentences]
    assert model.predict(["", "  "]).tolist() == [[], []]  # nothing to tag
    model.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        "config.json",
        "model.json",
        "tagger.safetensors",
    ]
    assert load_model(tmp_path / "m").predict_tags(data) == tags
    # Token SHAP of a labelled name: the softmax chances add up, masked words included.
    from lepton_core.ner import explain_entity

    sentence = data.sentences[0]
    chances = model.tag_probabilities([sentence.tokens, [None, *sentence.tokens[1:]]])
    assert all(np.allclose(c.sum(axis=1), 1.0, atol=1e-5) for c in chances)
    expl = explain_entity(model, sentence, sentence.entities[0], max_evals=30)
    assert expl.additivity_error() < 1e-6 and len(expl.tokens[0]) == len(sentence.tokens)


# -- spaCy's ready-made English names ---------------------------------------------------


def _english(start: int, n: int, extra: bool = False) -> NerData:
    """People travelling to places, with a date spaCy finds and no data set kind covers;
    ``extra`` also labels "friends" as a THING, a kind spaCy has no match for."""
    people = ["Alice Smith", "Barack Obama", "Angela Merkel", "John Brown", "Mary Jones"]
    places = ["Paris", "London", "Germany", "Texas", "China"]
    lines = []
    for i in range(start, start + n):
        person = people[i % 5].split()
        lines += [f"{w}\t{'B' if k == 0 else 'I'}-PER" for k, w in enumerate(person)]
        lines += ["flew\tO", "to\tO", f"{places[i % 5]}\tB-LOC", "with\tO"]
        lines += ["friends\tB-THING" if extra else "friends\tO", "on\tO", "Monday\tO", ".\tO", ""]
    return read_conll("\n".join(lines).encode())


def test_spacy_matches_its_own_kinds_on_the_training_sentences_only(tmp_path):
    from lepton_core.ner import NerSpacyModel

    train, test = _english(0, 10, extra=True), _english(10, 5, extra=True)
    steps = []
    model = NerSpacyModel().fit(train, progress=lambda s, n, logs: steps.append((s, n)))
    assert steps == [(10, 10)]
    assert model.mapping_ == {"PERSON": "PER", "GPE": "LOC"}
    # spaCy's dates overlap no labelled name: dropped, and counted as such.
    assert model.spacy_kinds_["DATE"]["kept"] is False
    assert model.spacy_kinds_["PERSON"] == {
        "names": 10,
        "kind": "PER",
        "overlap": 10,
        "right": 10,
        "kept": True,
    }
    note = str(model.kinds_note())
    assert "PERSON → PER" in note and "GPE → LOC" in note and "never found: THING" in note
    assert list(model.classes_) == ["LOC", "PER", "THING"]
    report = model.evaluate(test)
    assert report.by_type["PER"]["f1"] == 1.0 and report.by_type["LOC"]["f1"] == 1.0
    assert report.by_type["THING"]["recall"] == 0.0  # honest: never found, still scored
    text = "Angela Merkel flew to Paris on Monday ."
    assert [(e["text"], e["type"]) for e in model.predict([text])[0]] == [
        ("Angela Merkel", "PER"),
        ("Paris", "LOC"),
    ]
    assert model.save(tmp_path / "m") == ["model.json"]  # only the mapping; no weights
    again = load_model(tmp_path / "m")
    assert isinstance(again, NerSpacyModel) and again.mapping_ == model.mapping_
    assert again.predict_tags(test) == model.predict_tags(test)
    assert str(again.kinds_note()) == note
    # No chances from spaCy: its decisions count as certain, hidden words included.
    chances = again.tag_probabilities([text.split(), [None, *text.split()[1:]]])
    assert all(np.array_equal(c.sum(axis=1), np.ones(len(c))) for c in chances)


def test_spacy_refuses_sentences_that_are_not_english_in_one_sentence():
    from lepton_core.ner import NerSpacyModel

    with pytest.raises(DataError) as caught:
        NerSpacyModel().fit(read_conll(CHINESE * 3))
    text = str(caught.value)
    assert "read English only" in text and "look Chinese" in text and "\n" not in text
    german = read_conll(
        "\n\n".join(
            "Der\tO\nMann\tO\nist\tO\nnicht\tO\nin\tO\nBerlin\tB-LOC\nund\tO\nauch\tO\nnoch\tO"
            for _ in range(4)
        ).encode()
    )
    with pytest.raises(DataError, match="look German"):
        NerSpacyModel().fit(german)
    things = read_conll(b"The\tO\nfriends\tB-THING\nof\tO\nthe\tO\ncat\tB-THING\n")
    with pytest.raises(DataError, match=r"None of spaCy's kinds of names matches .*THING"):
        NerSpacyModel().fit(things)


def test_spacy_keeps_a_kind_only_while_it_raises_the_training_f1():
    from lepton_core.ner import NerSpacyModel

    kinds = {
        "PERSON": {"names": 10, "kind": "PER", "overlap": 10, "right": 9, "kept": False},
        "GPE": {"names": 20, "kind": "LOC", "overlap": 15, "right": 10, "kept": False},
        "ORG": {"names": 100, "kind": "LOC", "overlap": 30, "right": 5, "kept": False},
        "LAW": {"names": 2, "kind": "PER", "overlap": 2, "right": 2, "kept": False},
    }
    # PERSON (0.9 right) and GPE (0.5) raise F1 on 30 labelled names; ORG (0.05) would
    # lower it, and LAW has too few right names to tell.
    assert NerSpacyModel()._choose(kinds, 30) == {"PERSON": "PER", "GPE": "LOC"}
    assert [k for k, v in kinds.items() if v["kept"]] == ["PERSON", "GPE"]
