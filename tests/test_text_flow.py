"""Text classification through the whole flow: data, training job, reports, pages, serving."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pandas as pd
import pytest
from test_pages import _ok, _page

from app_pages._common import Keys
from lepton_core.core import DataError
from lepton_core.data import InputSchema
from lepton_core.runs import TrainConfig, prepare_data, resolve_dataset, train

TIMEOUT = 180
_GOOD = ["wonderful", "great", "moving", "brilliant", "funny", "warm", "superb", "delightful"]
_BAD = ["dull", "awful", "boring", "clumsy", "tedious", "weak", "lifeless", "painful"]


def _reviews(n: int, seed: int = 0) -> pd.DataFrame:
    """Short seeded movie reviews with their sentiment and the reviewer's region."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        positive = i % 2 == 0
        words = rng.sample(_GOOD if positive else _BAD, 2)
        rows.append(
            {
                "review": f"a {words[0]} film , {words[1]} from start to finish",
                "region": rng.choice(["north", "south"]),
                "sentiment": "positive" if positive else "negative",
            }
        )
    return pd.DataFrame(rows).astype("str")


@pytest.fixture(scope="module")
def reviews_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("text") / "reviews.csv"
    _reviews(80).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def text_run(reviews_csv, workspace):
    """A quick-mode text model trained on the reviews (a TrainResult)."""
    return train(
        TrainConfig(
            data=str(reviews_csv),
            target="sentiment",
            sensitive=["region"],
            model="text",
            params={"mode": "quick"},
            explain_rows=6,
        ),
        workspace=workspace,
    )


# ------------------------------------------------------------------------ data


def test_sst2_sample_has_a_text_column_and_the_full_dev_set():
    from lepton_core.data import load_sample

    sample = load_sample("sst2")
    assert sample.text_column == "sentence" and sample.target == "sentiment"
    assert sample.train.shape == (4000, 2) and sample.test.shape == (872, 2)
    assert set(sample.test["sentiment"]) == {"positive", "negative"}
    assert "Socher" in sample.source


def test_hub_data_set_offline_gives_one_sentence(monkeypatch):
    from lepton_core.data import _hub as hub

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub.hub_reachable.cache_clear()
    started = time.perf_counter()
    with pytest.raises(DataError, match="offline; upload the data as a file"):
        hub.load_hub_dataset("stanfordnlp/sst2")
    assert time.perf_counter() - started < 30
    hub.hub_reachable.cache_clear()


@pytest.mark.parametrize(
    ("source", "parsed"),
    [
        ("hub:stanfordnlp/sst2", ("stanfordnlp/sst2", None, "train")),
        ("hub:glue:sst2@validation", ("glue", "sst2", "validation")),
    ],
)
def test_hub_source_names_id_config_and_split(source, parsed):
    from lepton_core.data import parse_hub_source

    assert parse_hub_source(source) == parsed


def test_text_data_keeps_the_words_and_the_group_columns(reviews_csv, workspace):
    config = TrainConfig(data=str(reviews_csv), target="sentiment", model="text")
    data = prepare_data(config, workspace)
    assert data.features == ["review"] and data.info.text_column == "review"
    assert list(data.x_train.columns) == ["review"]
    assert data.x_train["review"].str.contains("film").all()
    assert "region" in data.split.test.columns  # still there for fairness


def test_text_model_on_a_table_without_text_is_refused(adult_csv, workspace):
    with pytest.raises(DataError, match="no free-text column"):
        resolve_dataset(TrainConfig(data=str(adult_csv), target="Y", model="text"), workspace)


def test_input_schema_text_field_is_a_text_box():
    df = _reviews(10)
    from lepton_core.data import infer_schema

    schema = InputSchema.from_frame(df, infer_schema(df), ["review"])
    field = schema.fields[0]
    assert field.kind == "text" and field.choices is None and "film" in field.default
    frame = schema.to_frame([{"review": "a dull film"}, {"review": None}])
    assert frame["review"].tolist() == ["a dull film", ""]
    with pytest.raises(DataError, match="must be text"):
        schema.to_frame([{"review": 42}])


# -------------------------------------------------------------------- training


def test_quick_text_model_is_evaluated_fairness_checked_and_explained(text_run, workspace):
    assert text_run.family == "text" and text_run.task == "binary"
    assert text_run.evaluation.metrics["accuracy"] >= 0.9  # the words decide the label
    assert text_run.fairness[0].attribute == "region"
    assert text_run.shap_summary["explainer"].startswith("shap.")
    model = workspace.load_model(text_run.model_name, text_run.model_version)
    labels = model.predict(pd.DataFrame({"review": ["a superb , warm film", "a tedious mess"]}))
    assert labels.tolist() == ["positive", "negative"]


def test_text_explanation_has_tokens_per_row(text_run, workspace):
    from lepton_core.runs import load_explanation

    expl = load_explanation(workspace, text_run.run_id)
    assert expl.tokens is not None and len(expl.tokens) == len(expl.values) == 6
    top = [token for token, _ in expl.global_importance(0)[:8]]
    assert set(top) & set(_GOOD + _BAD)


def test_scoring_a_text_record_gives_label_probabilities_and_tokens(text_run, workspace):
    from lepton_core.runs import load_bundle

    bundle = load_bundle(workspace, text_run.model_name, text_run.model_version)
    [prediction] = bundle.predict([{"review": "a brilliant and funny film"}])
    assert prediction.label == "positive"
    assert set(prediction.probabilities) == {"negative", "positive"}
    assert prediction.explanation.tokens and len(prediction.explanation.tokens) == 1


def test_tiny_fine_tune_runs_as_a_job_and_registers_a_model(reviews_csv, workspace):
    from lepton_core.jobs import JobStore, start_job

    config = TrainConfig(
        data=str(reviews_csv),
        target="sentiment",
        model="text",
        params={"mode": "finetune", "epochs": 1},
        explain_rows=2,
    )
    job = start_job(config, workspace=workspace, owner="text")
    store = JobStore(workspace)
    deadline = time.time() + TIMEOUT
    while store.get(job.id).active and time.time() < deadline:
        time.sleep(0.5)
    done = store.get(job.id)
    assert done.status == "succeeded", store.read_log(job.id)
    assert done.progress.history
    model = workspace.load_model(done.model_name, done.model_version)
    assert model.get_params()["mode"] == "finetune"


# ----------------------------------------------------------------------- pages


def test_data_page_offers_text_classification_for_the_sst2_sample(workspace):
    at = _ok(_page("data").run())
    next(s for s in at.selectbox if s.label == "Sample").set_value("sst2")
    next(b for b in at.button if b.label == "Load sample").click()
    _ok(at.run())
    toggle = next(t for t in at.toggle if t.label.startswith("Text classification"))
    assert toggle.value
    assert any("Texts are cut at" in c.value for c in at.caption)
    next(b for b in at.button if b.label == "Use this data").click()
    _ok(at.run())
    info = workspace.get_dataset(at.session_state[Keys.DATASET_ID])
    assert info.text_column == "sentence" and info.task == "binary"
    # The sidebar names the data set just chosen, not the one chosen before.
    assert any("Data set: **sst2**" in c.value for c in at.sidebar.caption)


def test_train_page_shows_text_model_choices(reviews_csv, workspace):
    info, _, _ = resolve_dataset(
        TrainConfig(data=str(reviews_csv), target="sentiment", model="text"), workspace
    )
    at = _page("train")
    at.session_state[Keys.DATASET_ID] = info.id
    _ok(at.run())
    # Texts start on the fast n-gram family, in any language.
    family = next(s for s in at.selectbox if s.label == "Model family")
    assert family.value == "ngram"
    family.set_value("text")
    _ok(at.run())
    model = next(s for s in at.selectbox if s.label == "Pretrained model")
    assert model.value == "minilm"
    assert [r.label for r in at.radio] == ["Training"]
    assert any("text column `review`" in m.value for m in at.markdown)


def test_evaluate_explain_deploy_and_demo_pages_for_a_text_model(text_run, workspace):
    at = _page("evaluate")
    at.session_state[Keys.RUN_ID] = text_run.run_id
    _ok(at.run())
    assert [m.label for m in at.metric][:2] == ["Accuracy", "ROC AUC"]

    at = _page("explain")
    at.session_state[Keys.RUN_ID] = text_run.run_id
    _ok(at.run())
    assert any("film" in h.proto.body for h in at.get("html"))
    assert "masked texts per row" in at.caption[0].value  # how the values were approximated
    # The text branch ends with st.stop(): the sidebar still names the data set.
    assert any(c.value.startswith("Data set: **") for c in at.sidebar.caption)
    at.text_area[0].set_value("a delightful film").run()
    next(b for b in at.button if b.label == "Explain this text").click()
    _ok(at.run())
    assert any("positive" in m.value for m in at.markdown)

    workspace.set_published(text_run.model_name, text_run.model_version)
    deploy = _ok(_page("deploy").run())
    assert not deploy.exception
    from lepton_core.workspace import ShareLinks

    links = ShareLinks(workspace)
    token = links.create(text_run.model_name, text_run.model_version, expires_in=600).token
    demo = _page("demo")
    demo.query_params = {"token": token}
    _ok(demo.run())
    demo.text_area[0].set_value("an awful , boring film")
    demo.button[0].click()
    _ok(demo.run())
    assert next(m for m in demo.metric if m.label == "Prediction").value == "negative"
    assert any("boring" in h.proto.body for h in demo.get("html"))


def test_text_model_int8_versions_stay_text_models_and_export_to_onnx(
    text_run, workspace, tmp_path
):
    from lepton_core.runs import compress, export_onnx, load_explanation

    name, version = text_run.model_name, text_run.model_version
    exported = export_onnx(workspace, name, version, tmp_path)
    assert exported.label_agreement == 1.0 and exported.max_abs_diff < 1e-4
    for method in ("torch-int8", "onnx-int8"):
        report = compress(workspace, name, version, method=method)
        # Linear layers shrink 4×; the word embeddings (about half of MiniLM) stay float32.
        assert report.after.size_bytes < report.before.size_bytes * 0.75
        assert report.label_agreement >= 0.9
        assert "region" in report.after.fairness
        # A text model still: token explanations, and it reloads compressed.
        assert load_explanation(workspace, report.run_id).is_text
        model = workspace.load_model(name, report.new_version)
        assert model.family == "text" and model.compression_.method == method
    # The ONNX int8 version exports its own graph.
    int8 = export_onnx(workspace, name, report.new_version, tmp_path)
    assert int8.size_bytes == report.after.size_bytes and int8.label_agreement == 1.0


def test_private_text_models_report_epsilon_in_both_modes(reviews_csv, workspace):
    from lepton_core.dp import PrivacyOptions, load_privacy

    config = TrainConfig(
        data=str(reviews_csv),
        target="sentiment",
        model="text",
        params={"mode": "quick"},
        privacy=PrivacyOptions(epsilon=3.0),
        explain_rows=2,
        model_name="private-reviews",
    )
    result = train(config, workspace=workspace)
    assert 0 < result.privacy.epsilon <= 3.0 and result.privacy.steps > 0
    assert "head" in " ".join(result.privacy.notes)
    assert load_privacy(workspace, result.run_id).epsilon == result.privacy.epsilon
    model = workspace.load_model(result.model_name, result.model_version)
    assert model.predict(pd.DataFrame({"review": ["a superb film"]})).shape == (1,)
    # A few DP-SGD steps of the fine-tune: saved as a plain fine-tuned text model.
    config.params = {"mode": "finetune", "max_length": 16, "batch_size": 8, "epochs": 0.5}
    tuned = train(config, workspace=workspace)
    assert 0 < tuned.privacy.epsilon <= 3.0 and set(tuned.privacy.epsilon_by_accountant) == {
        "prv",
        "rdp",
    }
    assert load_privacy(workspace, tuned.run_id).epsilon == tuned.privacy.epsilon
    model = workspace.load_model(tuned.model_name, tuned.model_version)
    assert model.mode == "finetune" and model.max_length_ == 16
    assert model.predict(pd.DataFrame({"review": ["a superb film"]})).shape == (1,)


def test_train_page_offers_privacy_for_text_models_in_both_modes(reviews_csv, workspace):
    info, _, _ = resolve_dataset(
        TrainConfig(data=str(reviews_csv), target="sentiment", model="text"), workspace
    )
    at = _page("train")
    at.session_state[Keys.DATASET_ID] = info.id
    _ok(at.run())
    next(s for s in at.selectbox if s.label == "Model family").set_value("text")
    _ok(at.run())
    assert any(e.label == "Differential privacy" for e in at.expander)  # Fine-tune
    next(r for r in at.radio if r.label == "Training").set_value("quick")
    _ok(at.run())
    assert any(e.label == "Differential privacy" for e in at.expander)


def test_api_serves_a_text_model_through_onnx_runtime(text_run, workspace):
    from fastapi.testclient import TestClient

    from lepton_core.serving import create_app

    url = f"/models/{text_run.model_name}/versions/{text_run.model_version}/predict"
    records = [{"review": "a warm , funny , lovely film"}, {"review": "dull and far too long"}]
    native = TestClient(create_app(workspace, require_key=False)).post(
        url, json={"records": records}
    )
    onnx = TestClient(create_app(workspace, require_key=False, runtime="onnx")).post(
        url, json={"records": records}
    )
    assert onnx.status_code == 200, onnx.text
    ours, theirs = onnx.json()["predictions"], native.json()["predictions"]
    assert [p["label"] for p in ours] == [p["label"] for p in theirs]
    for a, b in zip(ours, theirs, strict=True):
        assert a["probabilities"] == pytest.approx(b["probabilities"], abs=1e-4)
