"""Names as messages show them: cut to a readable length, hidden characters made visible.

A column or field name comes from a file or a request, so it may be a megabyte long,
hold a lone surrogate (which no UTF-8 response can carry) or hold zero-width and
bidirectional-control characters that make ``"\\u200bage"`` look like ``"age"``.
"""

from __future__ import annotations

import unicodedata

__all__ = ["NAME_LIMIT", "hidden_characters", "visible_name"]

NAME_LIMIT = 60
# Controls, format characters (zero-width, bidirectional controls, BOM), surrogates and
# line/paragraph separators: none shows as itself on screen.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def _hidden(ch: str) -> bool:
    return unicodedata.category(ch) in _HIDDEN


def hidden_characters(name: str) -> list[str]:
    """The characters of ``name`` that do not show on screen, each once, as escapes."""
    seen: dict[str, None] = {}
    for ch in name:
        if _hidden(ch):
            seen[_escape(ch)] = None
    return list(seen)


def visible_name(name: object, limit: int = NAME_LIMIT) -> str:
    """``name`` for a message: at most ``limit`` characters then "…", and every character
    that does not show (see :func:`hidden_characters`) written as its escape, e.g. ``\\u200b``.

    The result is always valid UTF-8, whatever ``name`` holds.
    """
    text = name if isinstance(name, str) else str(name)
    cut = text[:limit]
    shown = "".join(_escape(ch) if _hidden(ch) else ch for ch in cut)
    return shown + ("…" if len(text) > limit else "")


def _escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
