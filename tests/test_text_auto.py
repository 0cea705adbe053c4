"""Text Auto and the language of a text column: which families a text search tries, in
what order, what it tells the person, and the default text family."""

from __future__ import annotations

import random
import time

import pandas as pd
import pytest

from lepton_core.core import TrainingError
from lepton_core.models import family_class
from lepton_core.runs import AutoConfig, AutoResult, TrainConfig, resolve_dataset, run_auto
from lepton_core.runs._search import default_families, portfolio  # white-box: the order
from lepton_core.text import (
    DEFAULT_TEXT_FAMILY,
    TextLanguage,
    default_text_family,
    detect_language,
)

_GOOD = ["wonderful", "great", "moving", "brilliant", "funny", "warm", "superb", "delightful"]
_BAD = ["dull", "awful", "boring", "clumsy", "tedious", "weak", "lifeless", "painful"]
_HAO = ["好吃", "很快", "新鲜", "满意", "热乎", "分量足", "推荐", "干净"]
_CHA = ["难吃", "太慢", "凉了", "失望", "太咸", "分量少", "差评", "不新鲜"]


def _english(n: int, seed: int = 0) -> pd.DataFrame:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        positive = i % 2 == 0
        a, b = rng.sample(_GOOD if positive else _BAD, 2)
        rows.append(
            {
                "review": f"the film was {a} and {b} from start to finish",
                "region": rng.choice(["north", "south"]),
                "sentiment": "positive" if positive else "negative",
            }
        )
    return pd.DataFrame(rows)


def _chinese(n: int, seed: int = 0) -> pd.DataFrame:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        positive = i % 2 == 0
        a, b = rng.sample(_HAO if positive else _CHA, 2)
        end = rng.choice(["下次还点", "就这样吧", "外卖"])
        rows.append({"review": f"{a}，{b}，{end}", "label": "好评" if positive else "差评"})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------- language


@pytest.mark.parametrize(
    ("texts", "language", "script", "english"),
    [
        (["这家店很好吃，送餐也快", "太慢了，菜都凉了"], "zh", "Han", False),
        (["今日はとても良い天気ですね", "おいしかったです"], "ja", "Kana", False),
        (["배달이 빠르고 맛있어요", "너무 짜요"], "ko", "Hangul", False),
        (["The film was great and I loved it", "It is not what they said"], "en", "Latin", True),
        (
            ["Der Film war sehr gut und ich habe es geliebt", "Das ist nicht gut"],
            "de",
            "Latin",
            False,
        ),
        (["Le film est très bon et je l'ai aimé", "Ce n'est pas pour moi"], "fr", "Latin", False),
        (["Фильм был очень хорошим", "плохо"], "", "Cyrillic", False),
        (["الفيلم كان رائعا", "سيء جدا"], "", "Arabic", False),
        (["123", None, float("nan"), "!!"], "", "", False),
    ],
)
def test_the_language_is_told_by_scripts_and_common_words(texts, language, script, english):
    found = detect_language(texts)
    assert (found.language, found.script, found.english) == (language, script, english)
    assert found.n_texts == len(texts)
    assert abs(sum(found.scripts.values()) - 1.0) < 1e-3 or not found.scripts


def test_mixed_and_terse_columns():
    # Chinese reviews with the odd English word stay Chinese.
    mixed = detect_language(["外卖很好吃 good", "送餐太慢了 bad", "味道不错，OK"])
    assert mixed.language == "zh" and mixed.scripts["Han"] > 0.7
    # Terse English with few function words: Latin script, language not named, not ruled out.
    terse = detect_language(["great movie loved", "awful plot, terrible acting"])
    assert terse.script == "Latin" and terse.language in ("", "en")
    assert terse.name in ("Latin script", "English")


def test_language_round_trips_through_json_and_reads_a_sample():
    found = detect_language(["好吃"] * 5000)
    assert found.n_texts == 2000  # an evenly spread sample
    again = TextLanguage.from_json(found.to_json())
    assert again == found and again.name == "Chinese"
    assert TextLanguage("", "Cyrillic").name == "Cyrillic script"


def test_the_default_text_family_is_ngram_in_every_language():
    assert DEFAULT_TEXT_FAMILY == "ngram" == default_text_family()
    for texts in (["这家店很好吃"], ["The film was great and I loved it"]):
        assert default_text_family(detect_language(texts)) == "ngram"


def test_minilm_says_why_it_does_not_suit_texts_it_cannot_read():
    minilm = family_class("text")
    chinese, english = detect_language(["这家店很好吃"]), detect_language(["it was the best"])
    assert "reads English only" in minilm.language_note(chinese)
    assert "Chinese" in minilm.language_note(chinese)
    assert minilm.language_note(english) == ""
    assert minilm.language_note(TextLanguage("", "Latin")) == ""  # maybe terse English
    assert minilm.language_note(chinese, {"base": "multilingual"}) == ""
    assert minilm.language_note(chinese, {"base": "chinese"}) == ""
    assert family_class("ngram").language_note(chinese) == ""


# ------------------------------------------------------------------- the search


def test_text_families_by_language_baseline_first():
    chinese, english = detect_language(["这家店很好吃"]), detect_language(["it was the best"])
    assert default_families("text", chinese) == ["ngram"]
    assert default_families("text", english) == ["ngram", "text"]
    assert default_families() == ["lightgbm", "logistic", "tree"]  # tables unchanged
    first = portfolio(["ngram", "text"])
    # The n-gram defaults first, then one trial of each family before the second of any.
    assert [p["family"] for p in first] == ["ngram", "text", "ngram"]
    assert first[0] == {"family": "ngram", "ng_ngrams": "words", "ng_C": 4.0, "ng_word_ngrams": 2}
    defaults = family_class("ngram")().get_params()
    assert (defaults["ngrams"], defaults["C"], defaults["word_ngrams"]) == ("words", 4.0, 2)


@pytest.fixture(scope="module")
def chinese_dataset(tmp_path_factory, workspace):
    path = tmp_path_factory.mktemp("text-auto") / "waimai.csv"
    _chinese(240).to_csv(path, index=False)
    info, _, _ = resolve_dataset(
        TrainConfig(data=str(path), target="label", sensitive=[], model="ngram"), workspace
    )
    return info


@pytest.fixture(scope="module")
def chinese_auto(chinese_dataset, workspace) -> AutoResult:
    # As the Train page starts it: the base model is left at "lightgbm", the data set says text.
    base = TrainConfig(data=f"dataset:{chinese_dataset.id}", explain_rows=5)
    return run_auto(AutoConfig(base=base, budget_s=60, max_trials=4), workspace=workspace)


def test_chinese_text_auto_searches_ngrams_only_and_says_why(chinese_auto, workspace):
    result = chinese_auto
    assert result.config.families == ["ngram"]
    assert result.language is not None and result.language.language == "zh"
    assert any("MiniLM" in n and "Chinese" in n for n in result.notes)
    assert 1 <= result.n_trials <= 4
    assert {row["model"] for row in result.leaderboard} == {"ngram"}
    first = next(row for row in result.leaderboard if row["trial"] == 0)
    assert first["params"] == {"ngrams": "words", "C": 4.0, "word_ngrams": 2}  # the baseline
    best = result.leaderboard[0]
    assert best["score"] >= first["score"]  # never below the baseline on validation
    winner = result.winner
    assert winner.family == "ngram" and result.refitted  # refitted on train + validation
    assert winner.n_valid == 0
    tags = workspace.client.get_run(winner.run_id).data.tags
    assert tags["lepton.auto_language"] == "Chinese" and "MiniLM" in tags["lepton.auto_notes"]
    again = AutoResult.from_json(result.to_json())
    assert again.language == result.language and again.notes == result.notes


def test_english_text_auto_tries_ngrams_and_minilm_quick(tmp_path, workspace):
    path = tmp_path / "reviews.csv"
    _english(60).to_csv(path, index=False)
    base = TrainConfig(
        data=str(path), target="sentiment", sensitive=["region"], model="ngram", explain_rows=3
    )
    result = run_auto(
        AutoConfig(base=base, budget_s=120, max_trials=3, metric="accuracy"), workspace=workspace
    )
    assert result.language.english and result.config.families == ["ngram", "text"]
    assert result.notes == []
    by_trial = {row["trial"]: row for row in result.leaderboard}
    assert by_trial[0]["model"] == "ngram" and by_trial[1]["model"] == "text"
    assert by_trial[1]["params"]["mode"] == "quick"
    assert set(by_trial[1]["fairness"]) == {"region"}
    assert result.winner.family == result.leaderboard[0]["model"]


def test_a_minilm_trial_stops_at_the_budget_while_embedding(workspace):
    from lepton_core.text import TextModel

    df = _english(40)
    model = TextModel(mode="quick")
    model.fit_deadline = time.time() - 1  # already past: no batch is embedded
    model.fit(df[["review"]], df["sentiment"])
    assert model.cancelled_ and model.history_ == []


def test_text_auto_refuses_a_numeric_target(tmp_path, workspace):
    df = _english(40).assign(stars=[float(i % 5) for i in range(40)])
    path = tmp_path / "stars.csv"
    df.to_csv(path, index=False)
    base = TrainConfig(data=str(path), target="stars", model="ngram", task="regression")
    with pytest.raises(TrainingError, match="Text models classify and cannot predict numbers"):
        run_auto(AutoConfig(base=base, budget_s=10), workspace=workspace)


def test_text_families_on_a_table_are_refused(adult_csv, workspace):
    base = TrainConfig(data=str(adult_csv), target="Y")
    with pytest.raises(TrainingError, match="Auto cannot search the families"):
        run_auto(
            AutoConfig(base=base, budget_s=10, families=["lightgbm", "ngram"]), workspace=workspace
        )


def test_the_train_page_helpers_pick_ngram_and_warn_about_minilm_on_chinese(chinese_dataset):
    from streamlit.testing.v1 import AppTest

    def page(family: str) -> None:
        import streamlit as st

        from app_pages._text import default_family_index, language_note
        from lepton_core.workspace import Workspace

        info = Workspace().get_dataset(st.session_state["dataset_id"])
        choices = ["text", "ngram", "auto"]
        st.session_state["index"] = default_family_index(choices, info)
        language_note(info, family, {})

    for family, warned in (("text", True), ("ngram", False)):
        at = AppTest.from_function(page, args=(family,), default_timeout=60)
        at.session_state["dataset_id"] = chinese_dataset.id
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert at.session_state["index"] == 1
        if warned:
            assert "reads English only" in at.warning[0].value
        else:
            assert not at.warning and "Chinese" in at.caption[0].value


def test_the_person_is_told_when_the_winner_is_below_the_baseline_or_it_did_not_finish():
    from lepton_core.core import CallbackList
    from lepton_core.runs._auto import _baseline_notes  # white-box: the rule itself
    from lepton_core.runs._search import Board

    config = AutoConfig(base=TrainConfig(data="x"), families=["ngram"], fairness_limit=0.05)

    def board(rows: list[tuple[int, float, float]]) -> Board:
        b = Board(config, "accuracy", CallbackList(), None)
        for trial, score, gap in rows:
            outcome = {"score": score, "gap": gap, "fairness": {}, "rounds": None, "seconds": 1}
            b.add(trial, trial + 1, {"family": "ngram", "params": {}}, outcome)
        return b

    # A fairer model ranks first below the baseline's score: said, with both figures.
    [note] = _baseline_notes(config, board([(0, 0.90, 0.20), (1, 0.85, 0.01)]), "accuracy")
    assert "0.850" in note and "0.900" in note and "fairness limit" in note
    # The baseline best, or beaten: nothing to say.
    assert _baseline_notes(config, board([(0, 0.90, 0.01), (1, 0.92, 0.01)]), "accuracy") == []
    # The baseline never finished: said.
    [note] = _baseline_notes(config, board([(1, 0.92, 0.01)]), "accuracy")
    assert "did not finish" in note
