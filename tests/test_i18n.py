"""The pages in Simplified Chinese: every wrapped string is translated, placeholders match."""

from __future__ import annotations

import ast
import json
import string
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [ROOT / "app.py", *sorted((ROOT / "app_pages").glob("*.py"))]
LOCALES = ROOT / "app_pages" / "locales"


def _wrapped(path: Path) -> list[tuple[int, object]]:
    """Every argument of a ``tr(...)`` call in ``path``: (line, literal text or the node)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "tr":
            arg = node.args[0] if node.args else None
            literal = isinstance(arg, ast.Constant) and isinstance(arg.value, str)
            found.append((node.lineno, arg.value if literal else arg))
    return found


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def _catalogue(code: str) -> dict[str, str]:
    merged: dict[str, str] = {}
    for path in sorted((LOCALES / code).glob("*.json")):
        entries = json.loads(path.read_text(encoding="utf-8"))
        assert not set(entries) & set(merged), f"{path.name} repeats entries of another file"
        merged.update(entries)
    return merged


def test_tr_is_given_literal_text_only():
    # A catalogue can hold only what it can see: tr(f"...") or tr(variable) never matches.
    bad = [
        f"{path.name}:{line}"
        for path in SOURCES
        for line, text in _wrapped(path)
        if not isinstance(text, str)
    ]
    assert not bad, bad


def test_every_wrapped_string_has_a_chinese_translation_with_the_same_placeholders():
    zh = _catalogue("zh")
    missing, mismatched = [], []
    for path in SOURCES:
        for line, text in _wrapped(path):
            if not isinstance(text, str):
                continue
            if text not in zh:
                missing.append(f"{path.name}:{line}: {text[:60]!r}")
            elif _fields(text) != _fields(zh[text]):
                mismatched.append(f"{path.name}:{line}: {text[:60]!r}")
    assert not missing, "\n".join(missing)
    assert not mismatched, "\n".join(mismatched)


def test_the_catalogue_holds_no_stale_entries():
    used = {text for path in SOURCES for _, text in _wrapped(path) if isinstance(text, str)}
    stale = sorted(set(_catalogue("zh")) - used)
    assert not stale, stale


@pytest.mark.parametrize(
    "locale, chosen, expected",
    [
        ("zh-CN", None, "zh"),
        ("zh-TW", None, "zh"),
        ("en-GB", None, "en"),
        ("fr-FR", None, "en"),
        (None, None, "en"),
        ("zh-CN", "en", "en"),
        ("en-US", "zh", "zh"),
    ],
)
def test_the_language_follows_the_browser_until_the_reader_picks_one(
    locale, chosen, expected, monkeypatch
):
    from types import SimpleNamespace

    from app_pages import _i18n

    state = {} if chosen is None else {"language": chosen}
    fake = SimpleNamespace(session_state=state, context=SimpleNamespace(locale=locale))
    monkeypatch.setattr(_i18n, "st", fake)
    assert _i18n.language() == expected


def test_a_reader_who_picks_chinese_gets_chinese_pages():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(ROOT / "app.py", default_timeout=120)
    at.session_state["language"] = "zh"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "1 · 数据"
    assert any(s.label == "Language / 语言" for s in at.sidebar.selectbox)
