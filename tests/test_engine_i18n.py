"""The engine's text in Simplified Chinese: every Message id has a translation, pages show it."""

from __future__ import annotations

import ast
import copy
import json
import pickle
import re
import string
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lepton_core.core import LANGUAGES, DataError, Message, message_catalogue

ROOT = Path(__file__).resolve().parents[1]
# Every module that writes text; the Message class itself rebuilds Messages from data.
ENGINE = [p for p in sorted((ROOT / "lepton_core").rglob("*.py")) if p.name != "_messages.py"]


def _messages(path: Path) -> list[tuple[int, object, set[str] | None]]:
    """Every ``Message(...)`` call in ``path``: (line, literal id or the node, its value names).

    The names are None when the call passes ``**values``, which only the call knows.
    """
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Message":
            arg = node.args[0] if node.args else None
            literal = isinstance(arg, ast.Constant) and isinstance(arg.value, str)
            names = {k.arg for k in node.keywords}
            found.append(
                (node.lineno, arg.value if literal else arg, None if None in names else names)
            )
    return found


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def _calls() -> list[tuple[str, object, set[str] | None]]:
    return [
        (f"{path.relative_to(ROOT)}:{line}", text, names)
        for path in ENGINE
        for line, text, names in _messages(path)
    ]


def test_message_ids_are_literal():
    # The catalogue test can check only the ids it can see.
    bad = [where for where, text, _ in _calls() if not isinstance(text, str)]
    assert not bad, bad


def test_every_message_has_an_english_template_with_the_values_it_is_given():
    en = message_catalogue("en")
    missing = [f"{w}: {t}" for w, t, _ in _calls() if isinstance(t, str) and t not in en]
    mismatched = [
        f"{w}: {t} gets {sorted(names)}, needs {sorted(_fields(en[t]))}"
        for w, t, names in _calls()
        if isinstance(t, str) and t in en and names is not None and names != _fields(en[t])
    ]
    assert not missing, "\n".join(missing)
    assert not mismatched, "\n".join(mismatched)


@pytest.mark.parametrize("code", [c for c in LANGUAGES if c != "en"])
def test_every_template_is_translated_with_the_same_placeholders(code):
    en, other = message_catalogue("en"), message_catalogue(code)
    assert sorted(set(en) - set(other)) == [], "untranslated"
    assert sorted(set(other) - set(en)) == [], "translations of nothing"
    mismatched = [key for key in en if _fields(en[key]) != _fields(other[key])]
    assert not mismatched, mismatched


def test_the_catalogue_holds_no_stale_entries():
    used = {text for _, text, _ in _calls() if isinstance(text, str)}
    assert sorted(set(message_catalogue("en")) - used) == []


def test_the_catalogues_are_plain_json_objects_of_text():
    seen: dict[str, set[str]] = {}
    for code in LANGUAGES:
        for path in (ROOT / "lepton_core" / "core" / "locales" / code).glob("*.json"):
            entries = json.loads(path.read_text(encoding="utf-8"))
            assert all(isinstance(v, str) and v for v in entries.values()), path
            # One id in two files of a language would make the merge order matter.
            ids = seen.setdefault(code, set())
            assert not ids & set(entries), (path, sorted(ids & set(entries)))
            ids |= set(entries)


def test_a_message_is_its_english_text_and_renders_in_chinese():
    note = Message("warning.many_columns", columns=5000, rows=80)
    assert isinstance(note, str)
    assert "5,000 columns but there are only 80 rows" in note
    assert str(note) == note.render("en")
    zh = note.render("zh")
    assert "5,000" in zh and "80" in zh and "columns" not in zh
    assert note.render("fr") == str(note)  # a language without a catalogue: English


def test_nested_messages_render_in_the_same_language_and_survive_copies():
    inner = Message("verdict.likely_percent", low=0.7, high=0.8)
    outer = Message(
        "verdict.classification",
        value=0.75,
        likely=inner,
        guess="no",
        base=0.7,
        judgement=Message("verdict.not_clearly_better"),
    )
    assert "(the true figure is likely between 70% and 80%)" in outer
    assert "70% 到 80%" in outer.render("zh")
    for twin in (
        copy.deepcopy(outer),
        pickle.loads(pickle.dumps(outer)),
        Message.from_dict(json.loads(json.dumps(outer.to_dict()))),
    ):
        assert isinstance(twin, Message) and twin.render("zh") == outer.render("zh")


def test_an_error_keeps_its_english_sentence_and_its_message():
    error = DataError(Message("warning.id_column", column="id"))
    assert str(error).startswith("The column 'id' looks like an identifier")
    assert isinstance(error.args[0], Message)


def test_a_report_read_back_still_holds_messages():
    from lepton_core.evaluation import evaluate

    rng = np.random.default_rng(0)
    y = rng.choice(["no", "yes"], 30)
    report = evaluate(y, y, task="binary", n_resamples=50)
    again = type(report).from_json(report.to_json())
    assert isinstance(again.verdict.text, Message)
    assert again.verdict.text.render("zh") == report.verdict.text.render("zh")
    assert "只留出了 30 行" in again.verdict.text.render("zh")


def test_old_reports_with_plain_text_still_load():
    from lepton_core.evaluation import EvalWarning

    old = EvalWarning.from_dict({"kind": "id_column", "text": "The column 'id' …", "column": "id"})
    assert old.text == "The column 'id' …"


def test_the_evaluate_page_says_the_verdict_and_warnings_in_chinese(tmp_path, workspace):
    from streamlit.testing.v1 import AppTest

    from app_pages._common import Keys
    from lepton_core.runs import TrainConfig, train

    rng = np.random.default_rng(0)
    table = pd.DataFrame(rng.normal(size=(60, 80)), columns=[f"c{i}" for i in range(80)])
    table["label"] = rng.choice(["no", "yes"], 60)
    path = tmp_path / "noise.csv"
    table.to_csv(path, index=False)
    run = train(
        TrainConfig(data=str(path), target="label", sensitive=[], explain_rows=5),
        workspace=workspace,
    )
    at = AppTest.from_file(ROOT / "app.py", default_timeout=120)
    at = at.switch_page("app_pages/evaluate.py")
    at.session_state["language"] = "zh"
    at.session_state[Keys.RUN_ID] = run.run_id
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    warnings = [w.value for w in at.warning]
    assert any("只留出了" in w and "行来测试模型" in w for w in warnings), warnings
    assert any("模型从 80 列中学习" in w for w in warnings), warnings
    assert not any("too few to judge" in w for w in warnings)


def test_the_train_page_names_families_and_settings_in_chinese(adult_csv, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from app_pages import _common
    from app_pages._common import Keys
    from lepton_core.runs import TrainConfig, resolve_dataset
    from lepton_core.workspace import Workspace

    monkeypatch.setenv("LEPTON_WORKSPACE", str(tmp_path / "ws"))
    _common._workspace.clear()
    try:
        workspace = Workspace(tmp_path / "ws")
        adult, _, _ = resolve_dataset(TrainConfig(data=str(adult_csv), target="Y"), workspace)
        at = AppTest.from_file(ROOT / "app.py", default_timeout=120)
        at = at.switch_page("app_pages/train.py")
        at.session_state["language"] = "zh"
        at.session_state[Keys.DATASET_ID] = adult.id
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        family = next(s for s in at.selectbox if s.label == "模型类型")
        assert "LightGBM（梯度提升树）" in family.options
        trees = next(n for n in at.number_input if n.label == "树的数量")
        assert trees.help.startswith("树一棵一棵地加进来")
        assert not any(n.label == "Number of trees" for n in at.number_input)
    finally:
        _common._workspace.clear()


def test_the_data_page_says_a_loading_error_in_chinese(monkeypatch):
    from streamlit.testing.v1 import AppTest

    from app_pages import _i18n

    # The page's widgets (and AppTest's set_value on them) see the same language.
    monkeypatch.setattr(_i18n, "language", lambda: "zh")
    at = AppTest.from_file(ROOT / "app.py", default_timeout=120)
    at = at.switch_page("app_pages/data.py").run()
    at.radio[0].set_value("Upload a file")
    at.run()
    at.file_uploader[0].upload("ragged.csv", b"a,b\n1,2\n3,4,5,6\n7,8\n", "text/csv")
    at.run()
    next(b for b in at.button if b.label == "加载文件").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.error) == 1
    assert at.error[0].value.startswith("第 3 行有 4 个值，但标题行有 2 列"), at.error[0].value


def test_the_explain_page_gives_reasons_and_charts_in_chinese(adult_run):
    from streamlit.testing.v1 import AppTest

    from app_pages._common import Keys

    at = AppTest.from_file(ROOT / "app.py", default_timeout=120)
    at = at.switch_page("app_pages/explain.py")
    at.session_state["language"] = "zh"
    at.session_state[Keys.RUN_ID] = adult_run.run_id
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    reasons = next(m.value for m in at.markdown if m.value.startswith("**主要原因**"))
    assert "pushed" not in reasons
    assert len(re.findall(r"使“>50K”的概率(?:上升|下降)了 [\d.]+ 个百分点", reasons)) == 3
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert any(t.startswith("哪些列对“>50K”最重要") for t in titles), titles
    assert any(re.match(r"第 0 行：“>50K”的概率 ([=<>]) \d+%$", t) for t in titles), titles


def test_the_model_card_is_written_in_chinese_and_survives_json(adult_run, workspace):
    from lepton_core.runs import ModelCard, model_card

    card = model_card(workspace, adult_run.model_name, adult_run.model_version, n_resamples=20)
    english, chinese = card.to_markdown(), card.to_markdown(language="zh")
    assert english.startswith(f"# Model card: {adult_run.model_name} version")
    assert chinese.startswith(f"# 模型卡：{adult_run.model_name} 第")
    for heading in ("## 预期用途", "## 在测试集上的表现", "## 各组的公平性", "## 隐私", "## 局限"):
        assert heading in chinese
    assert "**结论。** 模型在" in chinese and "Intended use" not in chinese
    again = ModelCard.from_json(card.to_json())
    assert again.to_markdown(language="zh").split("\n", 3)[3] == chinese.split("\n", 3)[3]
