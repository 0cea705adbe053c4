"""Entity recognition in the notebook's flow: ``train()`` on CoNLL files (English and
Chinese) registers a version with a seqeval report; bad files get one sentence; the Data
page previews labelled sentences and confirms them; Train offers the entity families;
Evaluate shows the per-kind scores and the worst sentences; Explain shows the words behind
one name; Deploy shows the entity answer; spaCy's ready-made English names train nothing,
say which of their kinds stand for the data set's, and are refused for Chinese."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app_pages._common import Keys
from lepton_core.core import DataError
from lepton_core.ner import looks_like_ner
from lepton_core.runs import NER_TASK, TrainConfig, load_ner_dataset, train

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 120
PEOPLE = ["Alice", "Bob", "Carol", "Dan", "Eve"]
PLACES = [["Paris"], ["Rome"], ["Oslo"], ["New", "York"]]
VERBS = ["visited", "left", "loves"]


def english_conll(n: int = 40) -> str:
    """``n`` short sentences: a person, a verb, a place (one of two words)."""
    lines = ["-DOCSTART-\tO", ""]
    for i in range(n):
        place = PLACES[i % 4]
        lines += [f"{PEOPLE[i % 5]}\tB-PER", f"{VERBS[i % 3]}\tO"]
        lines += [f"{w}\t{'B' if k == 0 else 'I'}-LOC" for k, w in enumerate(place)]
        lines += [".\tO", ""]
    return "\n".join(lines)


def chinese_conll(n: int = 40) -> str:
    """``n`` Chinese sentences, a character per line: "<person>去了<place>。"."""
    people, places = ["张三", "李四", "王五"], ["北京", "上海", "广州", "深圳"]
    lines = []
    for i in range(n):
        person, place = people[i % 3], places[i % 4]
        lines += [f"{c}\t{'B' if k == 0 else 'I'}-PER" for k, c in enumerate(person)]
        lines += ["去\tO", "了\tO"]
        lines += [f"{c}\t{'B' if k == 0 else 'I'}-LOC" for k, c in enumerate(place)]
        lines += ["。\tO", ""]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def ner_run(tmp_path_factory, workspace):
    path = tmp_path_factory.mktemp("ner") / "people.conll"
    path.write_text(english_conll(), encoding="utf-8")
    return train(TrainConfig(data=str(path), model="ner_crf"), workspace=workspace)


def test_train_on_a_conll_file_registers_a_version_with_per_type_f1(ner_run, workspace):
    assert ner_run.task == NER_TASK and ner_run.family == "ner_crf"
    assert (ner_run.n_train, ner_run.n_valid, ner_run.n_test) == (28, 4, 8)
    report = workspace.load_report(ner_run.run_id, "ner")
    assert set(report["by_type"]) == {"PER", "LOC"}
    assert report["by_type"]["LOC"]["f1"] > 0.9 and report["f1"] > 0.9
    assert ner_run.evaluation.metrics["f1_PER"] == report["by_type"]["PER"]["f1"]
    assert workspace.load_report(ner_run.run_id, "fairness") == []
    tags = workspace.client.get_run(ner_run.run_id).data.tags
    assert any("explained one name at a time" in v for v in tags.values())
    versions = workspace.model_versions(ner_run.model_name)
    assert ner_run.model_version in {v.version for v in versions}
    model = workspace.load_model(ner_run.model_name, ner_run.model_version)
    found = model.predict(["Dan loves New York ."])[0]
    assert [(e["text"], e["type"]) for e in found] == [("Dan", "PER"), ("New York", "LOC")]
    # The data set is stored as sentences and reads back as such.
    data, test = load_ner_dataset(workspace, ner_run.dataset_id)
    assert len(data) == 40 and test is None


def test_a_chinese_conll_file_is_read_a_character_per_token(tmp_path, workspace):
    path = tmp_path / "renming.bio"
    path.write_text(chinese_conll(), encoding="utf-8")
    result = train(TrainConfig(data=str(path), model="ner_crf"), workspace=workspace)
    report = workspace.load_report(result.run_id, "ner")
    assert report["by_type"]["LOC"]["f1"] > 0.9 and report["by_type"]["PER"]["f1"] > 0.9
    data, _ = load_ner_dataset(workspace, result.dataset_id)
    assert data.sentences[0].text == "张三去了北京。"
    model = workspace.load_model(result.model_name, result.model_version)
    assert [e["text"] for e in model.predict(["李四去了深圳。"])[0]] == ["李四", "深圳"]


def test_json_lines_with_spans_train_the_data_default_family(tmp_path, workspace):
    import json

    lines = []
    for i in range(30):
        person, place = PEOPLE[i % 5], " ".join(PLACES[i % 4])
        text = f"{person} {VERBS[i % 3]} {place} ."
        start = text.index(place)
        spans = [[0, len(person), "PER"], [start, start + len(place), "LOC"]]
        lines.append(json.dumps({"text": text, "entities": spans}))
    path = tmp_path / "spans.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    result = train(TrainConfig(data=str(path), model=""), workspace=workspace)
    assert result.family == "ner_crf"
    assert set(workspace.load_report(result.run_id, "ner")["by_type"]) == {"PER", "LOC"}


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("Alice\tB-PER\nlives\nin\tO\n", "Line 2 of broken.conll has a token but no tag"),
        ("Alice\tB-PER\nlives\tX-PER\n", "is not a BIO tag"),
    ],
)
def test_a_malformed_file_gives_one_sentence(tmp_path, workspace, content, words):
    path = tmp_path / "broken.conll"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError) as caught:
        train(TrainConfig(data=str(path), model="ner_crf"), workspace=workspace)
    text = str(caught.value)
    assert words in text and text.endswith(".") and "\n" not in text


def test_tags_that_continue_no_entity_are_repaired_and_trained(tmp_path, workspace):
    # I- without B- (IOB1 habits): each starts an entity instead of failing.
    path = tmp_path / "iob1.conll"
    path.write_text(english_conll().replace("B-PER", "I-PER"), encoding="utf-8")
    result = train(TrainConfig(data=str(path), model="ner_crf"), workspace=workspace)
    assert workspace.load_report(result.run_id, "ner")["by_type"]["PER"]["support"] == 8


def test_a_table_family_on_sentences_and_sentences_for_a_table_family_are_refused(
    tmp_path, workspace, ner_run
):
    with pytest.raises(Exception, match="pick an entity model: ner_crf"):
        train(
            TrainConfig(data=f"dataset:{ner_run.dataset_id}", model="logistic"), workspace=workspace
        )
    with pytest.raises(DataError, match="holds no labelled sentences"):
        train(TrainConfig(data="sample:adult", model="ner_crf"), workspace=workspace)


def test_only_labelled_sentences_look_like_ner():
    assert looks_like_ner(english_conll().encode(), "people.txt")
    assert looks_like_ner(b"anything", "people.conll")
    assert looks_like_ner(b'{"text": "Alice", "entities": [[0, 5, "PER"]]}\n', "a.jsonl")
    assert not looks_like_ner(b'{"text": "Alice", "label": "yes"}\n', "a.jsonl")
    assert not looks_like_ner(b"name\tage\nAlice\t31\nBob\t40\n", "people.tsv")
    assert not looks_like_ner(b"a,b\n1,2\n", "table.csv")


# ------------------------------------------------------------------------ the pages
def _page(name: str) -> AppTest:
    at = AppTest.from_file(ROOT / "app.py", default_timeout=TIMEOUT)
    return at.switch_page(f"app_pages/{name}.py")


def _ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def _upload(content: str, name: str) -> AppTest:
    at = _page("data")
    _ok(at.run())
    next(r for r in at.radio if r.label == "Source").set_value("Upload a file")
    _ok(at.run())
    at.file_uploader[0].upload(name, content.encode(), "text/plain")
    return _ok(at.run())


def test_data_page_highlights_entities_counts_types_and_confirms(workspace):
    text = english_conll(12).replace("Eve\tB-PER", "<Eve>\tB-PER")  # escaped, not HTML
    at = _upload(text, "people.conll")
    shown = "".join(m.value for m in at.markdown)
    assert "<span" in shown and ">PER</b>" in shown and ">LOC</b>" in shown
    assert "&lt;Eve&gt;" in shown and "<Eve>" not in shown
    counts = at.dataframe[0].value
    assert dict(zip(counts.iloc[:, 0], counts.iloc[:, 1], strict=True)) == {"PER": 12, "LOC": 12}
    assert "12 sentences, 24 names of 2 kinds" in at.caption[0].value
    next(b for b in at.button if b.label == "Use this data").click()
    _ok(at.run())
    info = workspace.get_dataset(at.session_state[Keys.DATASET_ID])
    assert info.task == NER_TASK and info.n_rows == 12
    assert "is ready (12 sentences)" in at.success[0].value

    train_page = _page("train")
    train_page.session_state[Keys.DATASET_ID] = info.id
    _ok(train_page.run())
    family = next(s for s in train_page.selectbox if s.label == "Model family")
    assert family.options == [
        "Entities: CRF (fast, any language)",
        "Entities: MiniLM fine-tune (English)",
        "Entities: ready-made English names (no training)",
    ]
    family.set_value("Entities: ready-made English names (no training)")
    _ok(train_page.run())
    shown = "".join(m.value for m in train_page.markdown)
    assert "ready-made English model finds people" in shown


def test_data_page_reads_a_chinese_txt_file_and_notes_repaired_tags():
    # A .txt file is read as sentences because its lines are tokens and tags; the first
    # sentence starts with I-PER, which the reader repairs and notes in one sentence.
    text = chinese_conll(6).replace("张\tB-PER", "张\tI-PER", 1)
    at = _upload(text, "renming.txt")
    shown = "".join(m.value for m in at.markdown)
    assert ">张三 <b" in shown and ">北京 <b" in shown
    assert "continued no entity of their type" in at.info[0].value


def test_data_page_says_a_table_as_test_file_is_not_used():
    at = _upload(english_conll(6), "people.conll")
    at.file_uploader[1].upload("test.csv", b"name,age\nAlice,31\n", "text/csv")
    _ok(at.run())
    said = [w.value for w in at.warning]
    assert len(said) == 1 and "The test file test.csv is a table, not labelled sentences" in said[0]
    assert said[0].endswith(".") and "\n" not in said[0]
    assert at.button and not at.error  # the sentences can still be used


def test_explain_page_shows_the_words_behind_a_name_found(ner_run):
    at = _page("explain")
    at.session_state[Keys.RUN_ID] = ner_run.run_id
    _ok(at.run())
    assert not at.error, [e.value for e in at.error]
    assert "Why the model found a name" in [h.value for h in at.subheader]
    sentence = next(s for s in at.selectbox if s.label.startswith("Test sentence"))
    # The test sentences in which the model finds a name (all 8 of them here).
    assert sentence.label == "Test sentence with names found (one of 8)"
    name = next(s for s in at.selectbox if s.label == "Name to explain")
    assert name.options and all(o.endswith(("(PER)", "(LOC)")) for o in name.options)
    coloured = "".join(h.proto.body for h in at.get("html"))
    assert "lepton-token" in coloured and "rgba(" in coloured
    reasons = next(m.value for m in at.markdown if m.value.startswith("**Top reasons:**"))
    assert "pushed the chance of" in reasons and reasons.endswith(".")
    # A typed sentence: its names are found and one is explained.
    at.text_area[0].input("Eve loves Oslo .")
    _ok(at.run())
    name = next(s for s in at.selectbox if s.label == "Name to explain")
    assert "Oslo (LOC)" in name.options
    name.set_value(name.options.index("Oslo (LOC)"))
    _ok(at.run())
    reasons = next(m.value for m in at.markdown if m.value.startswith("**Top reasons:**"))
    assert "Oslo (LOC)" in reasons


def test_data_page_names_a_bad_line_in_one_sentence():
    at = _upload("Alice\tB-PER\nlives\n", "broken.conll")
    assert at.error and "Line 2 of broken.conll has a token but no tag" in at.error[0].value


def test_evaluate_page_shows_per_type_scores_and_worst_sentences(ner_run, workspace):
    at = _page("evaluate")
    at.session_state[Keys.RUN_ID] = ner_run.run_id
    _ok(at.run())
    assert [m.label for m in at.metric] == ["Precision", "Recall", "F1"]
    picked = at.selectbox[0]
    label = f"{ner_run.model_name}:{ner_run.model_version} "
    assert picked.value == ner_run.run_id
    assert " · F1 " in next(o for o in picked.options if o.startswith(label))  # its own figure
    table = at.dataframe[0].value
    assert set(table["Kind of name"]) == {"PER", "LOC"}
    assert any("**Explain** page shows which words" in c.value for c in at.caption)
    # Which kinds it mixes up: every true kind, and "no name" last on both sides.
    [chart] = [c for c in at.get("plotly_chart") if "mixes up" in c.proto.spec]
    heatmap = json.loads(chart.proto.spec)["data"][0]
    assert heatmap["y"] == ["LOC", "PER", "no name"] and heatmap["x"] == heatmap["y"]
    by_type = workspace.find_report(ner_run.run_id, "ner")["by_type"]
    assert sum(map(sum, heatmap["z"][:2])) == sum(v["support"] for v in by_type.values())
    # The worst sentences show true and predicted entities, highlighted, or say none is wrong.
    shown = "".join(m.value for m in at.markdown)
    assert ("True:" in shown and "Predicted:" in shown) or at.success


def test_train_page_trains_an_entity_model_in_the_background(workspace, tmp_path):
    import time

    from lepton_core.jobs import JobStore
    from lepton_core.ner import read_conll
    from lepton_core.runs import confirm_ner_dataset

    data = read_conll(english_conll(20).encode(), "jobs.conll")
    info = confirm_ner_dataset(workspace, data, name="ner-jobs")
    at = _page("train")
    at.session_state[Keys.DATASET_ID] = info.id
    _ok(at.run())
    assert "20 sentences" in "".join(m.value for m in at.markdown)
    next(b for b in at.button if b.label == "Start training").click()
    _ok(at.run())
    job_id = at.session_state[Keys.JOB_ID]
    store = JobStore(workspace)
    deadline = time.time() + TIMEOUT
    while store.get(job_id).active and time.time() < deadline:
        time.sleep(0.5)
    job = store.get(job_id)
    assert job.status == "succeeded", job.error
    _ok(at.run())
    assert "trained in" in at.success[0].value
    assert "F1" in {m.label for m in at.metric}


@pytest.mark.parametrize("page", ["explain", "deploy", "dashboard"])
def test_other_pages_open_on_an_entity_run(ner_run, page):
    at = _page(page)
    at.session_state[Keys.RUN_ID] = ner_run.run_id
    _ok(at.run())
    assert not at.error, [e.value for e in at.error]
    if page == "deploy":  # the entity form of the answer, with the example text's names
        answer = next(c.value for c in at.code if '"entities"' in c.value)
        assert '"start"' in answer and '"type"' in answer and '"label": null' in answer


def test_highlight_escapes_text_and_types_and_keeps_the_first_of_overlapping_spans():
    from app_pages._ner import highlight

    spans = [
        {"start": 0, "end": 7, "type": "P<ER>"},
        {"start": 3, "end": 9, "type": "LOC"},
        {"start": 13, "end": 16, "type": "LOC"},
    ]
    shown = highlight("<b>Bob & co in Rio", spans, ["LOC", "P<ER>"], "True:")
    assert shown.startswith('<div style="line-height:2"><small>True:</small> ')
    assert "&lt;b&gt;Bob" in shown and "P&lt;ER&gt;" in shown and "<b>Bob" not in shown
    assert shown.count("<span") == 2 and ">Rio <b" not in shown and ">in <b" not in shown


def test_the_rest_api_answers_an_entity_model_with_spans(ner_run, workspace):
    from fastapi.testclient import TestClient

    from lepton_core.serving import create_app

    client = TestClient(create_app(workspace, require_key=False), raise_server_exceptions=False)
    route = f"/models/{ner_run.model_name}/versions/{ner_run.model_version}"
    assert client.get(route).status_code == 200  # its description is served
    text = "Carol visited New York ."
    response = client.post(route + "/predict", json={"records": [{"text": text}, {"text": ""}]})
    assert response.status_code == 200, response.text
    first, empty = response.json()["predictions"]
    found = {(e["text"], e["type"]) for e in first["entities"]}
    assert found == {("Carol", "PER"), ("New York", "LOC")} and first["label"] is None
    assert all(text[e["start"] : e["end"]] == e["text"] for e in first["entities"])
    assert empty["entities"] == []
    # Explanations and the v2 protocol's label tensors are not made for entity models:
    # one sentence, never a server error.
    response = client.post(route + "/explain", json={"records": [{"text": text}]})
    assert response.status_code == 422, response.text
    assert "only /predict answers" in response.json()["detail"]
    tensor = {"name": "text", "shape": [1], "datatype": "BYTES", "data": [text]}
    response = client.post(f"/v2/models/{ner_run.model_name}/infer", json={"inputs": [tensor]})
    assert response.status_code == 422, response.text


def test_the_demo_page_of_an_entity_model_highlights_the_names_it_finds(ner_run, workspace):
    from lepton_core.workspace import ShareLinks

    workspace.set_published(ner_run.model_name, ner_run.model_version, True)
    links = ShareLinks(workspace)
    token = links.create(ner_run.model_name, ner_run.model_version, expires_in=3600).token
    at = AppTest.from_file(ROOT / "app.py", default_timeout=120).switch_page("app_pages/demo.py")
    at.query_params = {"token": token}
    _ok(at.run())
    assert not at.error, [e.value for e in at.error]
    at.text_area[0].input("Carol visited New York .")
    next(b for b in at.button if b.label == "Predict").click()
    _ok(at.run())
    assert not at.error, [e.value for e in at.error]
    shown = "".join(m.value for m in at.markdown)
    assert "New York <b" in shown and ">LOC</b>" in shown and "Carol <b" in shown
    # The visit is logged as the API logs an answer: the kinds of name found, by its link.
    from lepton_core.workspace import prediction_log

    log = prediction_log(workspace)
    assert log.flush()
    logged = log.read_predictions(ner_run.model_name, ner_run.model_version)
    demo = logged[logged["source"] == "demo"]
    assert demo["prediction"].tolist()[-1] == "LOC, PER" and demo["text"].tolist()[-1] == (
        "Carol visited New York ."
    )


# ------------------------------------------------------------ spaCy's ready-made names
@pytest.fixture(scope="module")
def spacy_run(tmp_path_factory, workspace):
    path = tmp_path_factory.mktemp("ner") / "travels.conll"
    path.write_text(english_conll(), encoding="utf-8")
    return train(TrainConfig(data=str(path), model="ner_spacy"), workspace=workspace)


def test_spacy_names_train_nothing_and_say_which_kinds_stand_for_which(spacy_run, workspace):
    from lepton_core.runs import model_card

    assert spacy_run.family == "ner_spacy"
    report = workspace.load_report(spacy_run.run_id, "ner")
    # spaCy misses some one-word first names (Eve); places it finds all.
    assert report["by_type"]["PER"]["f1"] > 0.5 and report["by_type"]["LOC"]["f1"] > 0.9
    note = workspace.load_report(spacy_run.run_id, "ner_kinds")["note"]["text"]
    assert "PERSON → PER" in note and "GPE → LOC" in note
    model = workspace.load_model(spacy_run.model_name, spacy_run.model_version)
    found = model.predict(["Bob visited New York ."])[0]
    assert [(e["text"], e["type"]) for e in found] == [("Bob", "PER"), ("New York", "LOC")]
    card = model_card(workspace, spacy_run.model_name, spacy_run.model_version)
    assert "PERSON → PER" in card.to_markdown()
    at = _page("evaluate")
    at.session_state[Keys.RUN_ID] = spacy_run.run_id
    _ok(at.run())
    assert any("Ready-made kinds used: spaCy's" in i.value for i in at.info)
    for page in ("explain", "deploy"):  # through NerModel's interface, like the others
        at = _page(page)
        at.session_state[Keys.RUN_ID] = spacy_run.run_id
        _ok(at.run())
        assert not at.error, [e.value for e in at.error]


def test_english_only_models_are_refused_for_chinese_and_not_offered(tmp_path, workspace):
    from lepton_core.ner import read_conll
    from lepton_core.runs import confirm_ner_dataset

    path = tmp_path / "renming.bio"
    path.write_text(chinese_conll(10), encoding="utf-8")
    with pytest.raises(DataError) as caught:
        train(TrainConfig(data=str(path), model="ner_spacy"), workspace=workspace)
    assert "read English only, and these sentences look Chinese" in str(caught.value)
    # The built-in MiniLM found no name in Weibo's posts (F1 0.000): refused before training.
    with pytest.raises(DataError) as caught:
        train(TrainConfig(data=str(path), model="ner_minilm"), workspace=workspace)
    assert "MiniLM reads English only, and these sentences look Chinese" in str(caught.value)
    info = confirm_ner_dataset(
        workspace, read_conll(chinese_conll(10).encode(), "zh.bio"), name="ner-zh"
    )
    at = _page("train")
    at.session_state[Keys.DATASET_ID] = info.id
    _ok(at.run())
    # The CRF alone is left: no choice to make, and the page names it.
    assert not any(s.label == "Model family" for s in at.selectbox)
    assert any("CRF" in m.value and "learns to find names" in m.value for m in at.markdown)


def test_train_page_runs_spacy_names_as_a_background_job(workspace):
    import time

    from lepton_core.jobs import JobStore
    from lepton_core.ner import read_conll
    from lepton_core.runs import confirm_ner_dataset

    data = read_conll(english_conll(20).encode(), "spacy-jobs.conll")
    info = confirm_ner_dataset(workspace, data, name="ner-spacy-jobs")
    at = _page("train")
    at.session_state[Keys.DATASET_ID] = info.id
    _ok(at.run())
    family = next(s for s in at.selectbox if s.label == "Model family")
    family.set_value("Entities: ready-made English names (no training)")
    _ok(at.run())
    next(b for b in at.button if b.label == "Start training").click()
    _ok(at.run())
    job_id = at.session_state[Keys.JOB_ID]
    store = JobStore(workspace)
    deadline = time.time() + TIMEOUT
    while store.get(job_id).active and time.time() < deadline:
        time.sleep(0.5)
    job = store.get(job_id)
    assert job.status == "succeeded", job.error
    _ok(at.run())
    assert "trained in" in at.success[0].value
    assert "F1" in {m.label for m in at.metric}
