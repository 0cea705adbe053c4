"""The ngram text family: tokens, English and Chinese, saving, token SHAP, the whole flow."""

from __future__ import annotations

import inspect
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lepton_core.core import DataError, ModelError
from lepton_core.explain import explain, supported_explainer
from lepton_core.models import family_class, family_names, family_title, load_model, make_model
from lepton_core.text import NGRAM_KINDS, NgramTextModel, NgramTokenizer

WAIMAI = Path(__file__).resolve().parents[2] / "shared/data/zh_sentiment_waimai10k/waimai_10k.csv"
_GOOD = ["wonderful", "great", "moving", "brilliant", "funny", "warm", "superb", "delightful"]
_BAD = ["dull", "awful", "boring", "clumsy", "tedious", "weak", "lifeless", "painful"]
_HAO = ["好吃", "很快", "新鲜", "满意", "热乎", "分量足", "推荐", "干净"]
_CHA = ["难吃", "太慢", "凉了", "失望", "太咸", "分量少", "差评", "不新鲜"]


def _english(n: int, seed: int = 0) -> pd.DataFrame:
    """Short seeded movie reviews with their sentiment and the reviewer's region."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        positive = i % 2 == 0
        words = rng.sample(_GOOD if positive else _BAD, 2)
        rows.append(
            {
                "review": f"a {words[0]} film, {words[1]} from start to finish ({i})",
                "region": rng.choice(["north", "south"]),
                "sentiment": "positive" if positive else "negative",
            }
        )
    return pd.DataFrame(rows)


def _chinese(n: int, seed: int = 0) -> pd.DataFrame:
    """Short seeded food-delivery reviews (hand-written phrases), 1 for positive."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        positive = i % 2 == 0
        a, b = rng.sample(_HAO if positive else _CHA, 2)
        end = rng.choice(["下次还点", "就这样吧", "外卖"])
        rows.append({"review": f"{a}，{b}，{end}", "label": int(positive)})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def english() -> NgramTextModel:
    df = _english(300)
    return make_model("ngram", "binary").fit(df[["review"]], df["sentiment"])


@pytest.fixture(scope="module")
def chinese() -> NgramTextModel:
    df = _chinese(300)
    return make_model("ngram", "binary").fit(df[["review"]], df["label"])


# ------------------------------------------------------------------- the family


def test_the_family_is_a_text_family_after_text_with_a_few_settings():
    assert family_names(reads="text") == ["text", "ngram"]
    cls = family_class("ngram")
    assert cls is NgramTextModel and cls.family == "ngram" and cls.reads == "text"
    assert family_title("ngram") == "Text classifier (word and character n-grams)"
    assert cls.requirements == () and cls.int8_methods == () and not cls.private_variant
    assert not cls.mitigable  # group thresholds need the sensitive column as an input
    params = set(inspect.signature(cls.__init__).parameters) - {"self"}
    defaults = cls().get_params()
    for setting in cls.settings:
        assert setting.name in params and defaults[setting.name] == setting.default
        if setting.choices:
            assert setting.default in setting.choices
        else:
            assert setting.minimum <= setting.default <= setting.maximum
    assert cls.settings[0].choices == NGRAM_KINDS
    model = make_model("ngram", "multiclass", ngrams="both", C=1.0)
    assert model.ngrams == "both" and model.C == 1.0 and model.task == "multiclass"


def test_importing_the_text_package_stays_cheap():
    code = (
        "import sys, lepton_core.text, lepton_core.models as m;"
        "m.family_names(reads='text');"
        "print(sorted(k for k in ('torch', 'transformers', 'shap') if k in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_what_it_does_not_do_is_refused_in_one_sentence(english):
    df = _english(20)
    with pytest.raises(DataError, match="cannot predict numbers; pick a target with classes"):
        make_model("ngram", "regression").fit(df[["review"]], np.arange(20.0))
    with pytest.raises(DataError, match="reads exactly one text column but the table has 2"):
        make_model("ngram", "binary").fit(df[["review", "region"]], df["sentiment"])
    with pytest.raises(ValueError, match="Unknown n-grams 'letters'; use one of words"):
        make_model("ngram", "binary", ngrams="letters").fit(df[["review"]], df["sentiment"])
    with pytest.raises(ModelError, match="cannot be exported to ONNX"):
        english.to_onnx()
    with pytest.raises(ModelError, match="int8 compression applies to"):
        english.quantise("torch-int8")


# ------------------------------------------------------------------- tokens


def test_tokens_are_words_in_spaced_scripts_and_characters_in_chinese_and_japanese():
    tokenizer = NgramTokenizer()
    text = "很快，好吃 great food!! हिन्दी ภาษา とても美味しい"
    out = tokenizer(text, return_offsets_mapping=True)
    pieces = [text[a:b] for a, b in out["offset_mapping"]]
    assert pieces[:5] == ["很", "快", "，", "好", "吃"]
    assert pieces[5:9] == ["great", "food", "!", "!"]
    assert "हिन्दी" in pieces  # combining vowel signs stay in their word
    assert pieces[-7:] == ["と", "て", "も", "美", "味", "し", "い"]
    assert "ภ" in pieces and "ษ" in pieces  # Thai, written without spaces: characters
    ids = out["input_ids"]
    assert len(ids) == len(pieces) and 0 not in ids
    assert tokenizer.decode(ids) == text  # single spaces: the text itself
    assert tokenizer.decode(tokenizer("a  b\n\nc")["input_ids"]) == "a b c"
    mask = tokenizer.mask_token_id
    masked = [mask if p == "great" else i for p, i in zip(pieces, ids, strict=True)]
    assert "great" not in tokenizer.decode(masked) and "food" in tokenizer.decode(masked)
    assert tokenizer.convert_ids_to_tokens(0) == "[MASK]"
    assert tokenizer("")["input_ids"] == [] and tokenizer(["a", "b c"])["input_ids"][1] != []
    with pytest.raises(ModelError, match="not made by this model's tokenizer"):
        tokenizer.decode([10**6])


def test_the_vocabulary_is_learned_and_new_tokens_get_stable_ids(chinese):
    tokenizer = chinese.tokenizer_
    assert "好" in tokenizer.vocabulary and "，" in tokenizer.vocabulary
    learned = len(tokenizer.vocabulary)
    [first] = tokenizer(["惊喜"])["input_ids"][0][:1]
    assert first > learned  # unseen: an id after the learned ones, the same next time
    assert tokenizer("惊喜")["input_ids"][0] == first
    assert len(chinese.tokenizer_.vocabulary) == learned  # what is saved does not grow


# ------------------------------------------------------------------- fitting


def test_english_fit_predict_and_probabilities(english):
    test = _english(60, seed=1)
    labels, proba = english.predict_scored(test[["review"]])
    assert np.mean(labels == test["sentiment"].to_numpy()) >= 0.95
    assert proba.shape == (60, 2) and np.allclose(proba.sum(axis=1), 1.0)
    assert (english.classes_[proba.argmax(axis=1)] == labels).all()
    raw = english.raw_output(test[["review"]])
    assert np.allclose(1 / (1 + np.exp(-raw)), proba[:, 1])  # log-odds of classes_[1]
    assert english.history_[0]["train_loss"] < 0.5
    assert english.transform(test[["review"]]).shape == (60, len(english.get_feature_names_out()))
    missing = english.predict(pd.DataFrame({"review": [None, ""]}))  # missing text reads as ""
    assert len(missing) == 2


def test_chinese_fit_needs_no_word_segmentation(chinese):
    test = _chinese(60, seed=1)
    assert np.mean(chinese.predict(test[["review"]]) == test["label"].to_numpy()) >= 0.95
    names = set(chinese.get_feature_names_out())
    assert {"好", "好 吃", "难 吃"} <= names  # characters and character pairs


@pytest.mark.skipif(not WAIMAI.is_file(), reason="needs ../shared/data (waimai10k)")
def test_real_chinese_reviews():
    df = pd.read_csv(WAIMAI).sample(1500, random_state=0)
    train, test = df.iloc[:1200], df.iloc[1200:]
    model = make_model("ngram", "binary").fit(train[["review"]], train["label"])
    assert np.mean(model.predict(test[["review"]]) == test["label"].to_numpy()) >= 0.8


def test_multiclass_scores_every_class():
    rng = random.Random(0)
    topics = {"sport": ["goal", "match", "team"], "food": ["soup", "bread", "spicy"]}
    topics["tech"] = ["laptop", "phone", "battery"]
    rows = [
        {"text": f"the {rng.choice(words)} was {rng.choice(['ok', 'new'])}", "topic": topic}
        for _ in range(40)
        for topic, words in topics.items()
    ]
    df = pd.DataFrame(rows)
    model = make_model("ngram", "multiclass").fit(df[["text"]], df["topic"])
    frame = pd.DataFrame({"text": ["a spicy soup", "my phone battery"]})
    assert model.predict(frame).tolist() == ["food", "tech"]
    assert model.raw_output(frame).shape == (2, 3)
    ids = model.tokenizer_(frame["text"].tolist())["input_ids"]
    assert np.allclose(model.token_logits(ids), model.raw_output(frame))


@pytest.mark.parametrize("ngrams", list(NGRAM_KINDS))
def test_save_and_load_give_equal_predictions(ngrams, tmp_path):
    df = _english(120)
    model = make_model("ngram", "binary", ngrams=ngrams).fit(df[["review"]], df["sentiment"])
    files = model.save(tmp_path / "m")
    assert set(files) == {"model.json", "pipeline.skops", "tokens.json"}
    back = load_model(tmp_path / "m")
    assert isinstance(back, NgramTextModel) and back.ngrams == ngrams
    test = _english(40, seed=2)[["review"]]
    assert (back.predict(test) == model.predict(test)).all()
    assert np.array_equal(back.predict_proba(test), model.predict_proba(test))
    assert back.tokenizer_.vocabulary == model.tokenizer_.vocabulary


class Stranger:
    """A type no n-gram model holds."""


def test_loading_refuses_types_the_family_does_not_write(english, tmp_path):
    import skops.io as sio

    english.save(tmp_path)
    sio.dump({"model": Stranger()}, tmp_path / "pipeline.skops")
    with pytest.raises(ModelError, match="holds types Lepton does not write"):
        load_model(tmp_path)


# ------------------------------------------------------------------- explanations


def test_token_shap_on_chinese_adds_up_and_highlights_the_characters(chinese):
    from lepton_core.plots import token_highlight_html

    texts = ["好吃，很快，下次还点", "难吃，太慢", "好", ""]
    X = pd.DataFrame({"review": texts})
    assert supported_explainer(chinese) == "shap.PartitionExplainer (Text masker)"
    expl = explain(chinese, X)
    for row, text in enumerate(texts):
        values = expl.token_values(row)[:, 0]
        total = expl.base_value(row, 0) + values.sum()
        assert np.isclose(total, expl.model_output[row][0])  # base + values = output
        assert "".join(expl.tokens[row]) == text  # every character, in order
    assert expl.tokens[0][:3] == ["好", "吃", "，"]
    assert np.isclose(expl.base_value(0, 0), chinese.final_estimator_.intercept_[0])
    good, bad = expl.token_values(0)[0, 0], expl.token_values(1)[0, 0]
    assert good > 0 > bad  # 好 pushes toward positive, 难 away from it
    html = token_highlight_html(expl, 0, output="1")
    assert all(f">{ch}</span>" in html for ch in "好吃很快")
    assert "Base value" in html


def test_token_shap_on_english_ranks_the_sentiment_words(english):
    expl = explain(english, _english(6, seed=3)[["review"]])
    top = [token for token, _ in expl.global_importance(0)[:4]]
    assert set(top) <= set(_GOOD + _BAD)


# ------------------------------------------------------------------- the whole flow


@pytest.fixture(scope="module")
def reviews_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ngram") / "reviews.csv"
    _english(200).to_csv(path, index=False)
    return path


def test_train_evaluates_checks_fairness_explains_and_registers(reviews_csv, workspace):
    from lepton_core.runs import TrainConfig, load_explanation, train

    result = train(
        TrainConfig(
            data=str(reviews_csv),
            target="sentiment",
            sensitive=["region"],
            model="ngram",
            text_column="review",
            explain_rows=5,
        ),
        workspace=workspace,
    )
    assert result.family == "ngram" and result.evaluation.metrics["accuracy"] >= 0.95
    assert result.fairness[0].attribute == "region"
    assert result.shap_summary["explainer"] == "shap.PartitionExplainer (Text masker)"
    expl = load_explanation(workspace, result.run_id)
    assert expl.tokens is not None and len(expl.tokens) == 5
    assert workspace.get_run(result.run_id).family == "ngram"
    model = workspace.load_model(result.model_name, result.model_version)
    assert isinstance(model, NgramTextModel)
    frame = pd.DataFrame({"review": ["a superb, warm film", "a tedious mess"]})
    assert model.predict(frame).tolist() == ["positive", "negative"]


def test_train_page_offers_the_family_and_its_settings(reviews_csv, workspace):
    from test_pages import _ok, _page

    from app_pages._common import Keys
    from lepton_core.runs import TrainConfig, resolve_dataset

    info, _, _ = resolve_dataset(
        TrainConfig(data=str(reviews_csv), target="sentiment", model="ngram"), workspace
    )
    assert info.text_column == "review"
    at = _page("train")
    at.session_state[Keys.DATASET_ID] = info.id
    _ok(at.run())
    family = next(s for s in at.selectbox if s.label == "Model family")
    auto = "Auto: try several kinds of model and settings, keep the best"
    assert family.options == [family_title("text"), family_title("ngram"), auto]
    family.set_value("ngram")
    _ok(at.run())
    ngrams = next(r for r in at.radio if r.label == "N-grams")
    assert ngrams.value == "words" and ngrams.options == list(NGRAM_KINDS.values())
    c = next(n for n in at.number_input if n.label == "Fit to the training texts")
    assert c.value == 4.0
    assert not any(s.label == "Pretrained model" for s in at.selectbox)


def test_chinese_reviews_are_found_as_text_trained_and_served(tmp_path, workspace):
    from lepton_core.runs import TrainConfig, load_bundle, train

    path = tmp_path / "waimai.csv"
    df = _chinese(160)
    df["review"] = df["review"] + [f"{i}号" for i in range(len(df))]  # distinct reviews
    df.to_csv(path, index=False)
    # No text column named: short Chinese reviews read as text, though they have no spaces.
    result = train(
        TrainConfig(data=str(path), target="label", model="ngram", explain_rows=2),
        workspace=workspace,
    )
    assert result.evaluation.metrics["accuracy"] >= 0.95
    bundle = load_bundle(workspace, result.model_name, result.model_version)
    [prediction] = bundle.predict([{"review": "很好吃，很新鲜"}])
    assert str(prediction.label) == "1"
    assert prediction.explanation.tokens[0][:3] == ["很", "好", "吃"]
