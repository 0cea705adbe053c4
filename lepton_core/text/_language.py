"""Which language a text column is written in, and the text family a new data set starts with.

**How.** No model and no extra package: a sample of the texts is split into the
``ngram`` family's tokens (a character in Chinese and Japanese, a word
elsewhere), each token is put in the writing system (script) of its first letter
from the Unicode ranges below, and the shares of tokens per script say which
script the column is written in. Kana among Han characters makes it Japanese,
Han alone Chinese, Hangul Korean. In Latin script the words are compared with
short lists of the commonest function words of English and six other European
languages ("the", "and", "of"… against "der", "und", "ist"… ): English when at
least 10% of the words are English function words and no other list matches
more. Running English text holds 35–50% such words; even terse reviews
("great movie, loved it") hold some. It is a column-level guess, good enough to
choose a model family, not a per-text language identifier.

**Default family.** The ``ngram`` family is the default for every new text data
set, whatever its language: it trains in seconds in any script and was as good as
or better than the alternatives on the data sets measured (``bench/README.md``:
0.908 on Chinese reviews in 0.6 s, where MiniLM Quick reached 0.74 in 12
minutes; 0.82 on English SST-2 against 0.84 for a MiniLM fine-tune taking a
minute per 4,000 sentences and 0.77 for MiniLM Quick). The language decides what
else is worth trying: the built-in MiniLM reads English only, so Text Auto tries
it (and the Train page recommends it) only for English texts.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from lepton_core.core import JsonMixin, Message
from lepton_core.text._ngram import token_pattern

__all__ = [
    "DEFAULT_TEXT_FAMILY",
    "TextLanguage",
    "default_text_family",
    "detect_language",
    "language_title",
]

#: The family a new text data set starts with (see the module's docstring).
DEFAULT_TEXT_FAMILY = "ngram"
#: Texts read to decide (evenly spread over the column), and characters read per text.
SAMPLE_TEXTS = 2_000
_CHARS_PER_TEXT = 1_000
#: Share of the Latin words that must be a list's function words to name the language.
_MIN_FUNCTION_SHARE = 0.10
#: Share of Han and kana tokens that must be kana for Japanese.
_MIN_KANA_SHARE = 0.10

# Writing systems by code point range, first match wins; a letter outside all is "Other".
_SCRIPTS = (
    ("Latin", "A-Za-z\u00c0-\u024f\u1e00-\u1eff"),
    (
        "Han",
        "\u2e80-\u2fdf\u3005-\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f",
    ),
    ("Kana", "\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f"),
    ("Hangul", "\u1100-\u11ff\u3130-\u318f\uac00-\ud7af"),
    ("Cyrillic", "\u0400-\u052f"),
    ("Greek", "\u0370-\u03ff"),
    ("Arabic", "\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff"),
    ("Hebrew", "\u0590-\u05ff"),
    ("Devanagari", "\u0900-\u097f"),
    ("Thai", "\u0e00-\u0e7f"),
)
_SCRIPT_RES = tuple((name, re.compile(f"[{chars}]")) for name, chars in _SCRIPTS)
# A single script names the language only where one language dominates its use.
_SCRIPT_LANGUAGE = {"Hangul": "ko", "Greek": "el", "Hebrew": "he", "Thai": "th"}
_NAMES = {
    "en": Message("language.en"),
    "zh": Message("language.zh"),
    "ja": Message("language.ja"),
    "ko": Message("language.ko"),
    "el": Message("language.el"),
    "he": Message("language.he"),
    "th": Message("language.th"),
    "fr": Message("language.fr"),
    "de": Message("language.de"),
    "es": Message("language.es"),
    "pt": Message("language.pt"),
    "it": Message("language.it"),
    "nl": Message("language.nl"),
}
_SCRIPT_NAMES = {
    "Latin": Message("language.script.latin"),
    "Han": Message("language.script.han"),
    "Kana": Message("language.script.kana"),
    "Hangul": Message("language.script.hangul"),
    "Cyrillic": Message("language.script.cyrillic"),
    "Greek": Message("language.script.greek"),
    "Arabic": Message("language.script.arabic"),
    "Hebrew": Message("language.script.hebrew"),
    "Devanagari": Message("language.script.devanagari"),
    "Thai": Message("language.script.thai"),
    "Other": Message("language.script.other"),
}
# The commonest function words, without those other lists share ("a", "in", "die", "so").
_FUNCTION_WORDS = {
    "en": "the and of to is was it that this with for you not are but have be they he she his "
    "her my me we at by an as from or very just all would there what were had been its it's "
    "i'm don't this these those which who will can could should than then them our your",
    "fr": "le la les des est et une un du que qui pas pour dans sur avec ce cette il elle je "
    "nous vous mais très ne au aux sont été",
    "de": "der das und ist nicht ein eine ich sie es mit auf für den dem zu sich auch war wir "
    "sehr aber noch wie bei von",
    "es": "el los las del y una por con para es muy pero lo se su al como más está fue yo "
    "este esta",
    "pt": "o os as do da dos das um uma não com para por muito mas é foi está em na eu meu",
    "it": "il gli della che è un una non per con del di da sono molto ma mi questo questa anche "
    "come più nel alla",
    "nl": "de het een en van niet dat ik je zijn met voor op maar ook er wel heel naar dit deze "
    "wat te geen",
}
_WORD_SETS = {code: frozenset(words.split()) for code, words in _FUNCTION_WORDS.items()}


@dataclass
class TextLanguage(JsonMixin):
    """The language of a text column, as far as its scripts and common words tell.

    Attributes
    ----------
    language : str
        ISO 639-1 code (``"en"``, ``"zh"``, ``"ja"``, ``"ko"``, ``"fr"``…), or ``""``
        when only the script is known (e.g. Cyrillic, Arabic, an unlisted Latin-script
        language) or the texts hold no letters.
    script : str
        The writing system most tokens are in (``"Latin"``, ``"Han"``, ``"Kana"``,
        ``"Hangul"``, ``"Cyrillic"``, ``"Arabic"``…); ``""`` without letters.
    scripts : dict of str to float
        Share of the word tokens in each script, largest first.
    function_words : dict of str to float
        For Latin script: share of the words that are each listed language's commonest
        function words (``"en"``: "the", "and", "of"…).
    n_texts : int
        Texts read (an evenly spread sample of at most 2,000).
    """

    language: str
    script: str
    scripts: dict[str, float] = field(default_factory=dict)
    function_words: dict[str, float] = field(default_factory=dict)
    n_texts: int = 0

    @property
    def english(self) -> bool:
        """Whether the texts are English (what the built-in MiniLM reads)."""
        return self.language == "en"

    @property
    def name(self) -> Message | str:
        """In words: "Chinese", "English", "Cyrillic script", "no letters"."""
        if self.language:
            return language_title(self.language)
        if not self.script:
            return Message("language.no_letters")
        return Message("language.script", script=_SCRIPT_NAMES.get(self.script, self.script))


def language_title(code: str) -> Message | str:
    """A language's name for people ("zh": "Chinese"); the code for one not listed."""
    return _NAMES.get(code, code)


def detect_language(texts: Iterable[object]) -> TextLanguage:
    """Guess the language of a text column (see the module's docstring for how).

    Missing values and non-text cells count as empty; a column with no letters has
    ``language`` and ``script`` ``""``.
    """
    values = ["" if v is None or v != v else str(v) for v in texts]  # v != v: NaN
    step = max(1, len(values) // SAMPLE_TEXTS)
    sample = values[::step][:SAMPLE_TEXTS]
    token_re = re.compile(token_pattern())
    scripts: Counter[str] = Counter()
    latin_words: Counter[str] = Counter()
    for text in sample:
        for token in token_re.findall(text[:_CHARS_PER_TEXT]):
            script = _script(token)
            if script is None:
                continue
            scripts[script] += 1
            if script == "Latin":
                latin_words[token.lower()] += 1
    total = sum(scripts.values())
    shares = {s: round(n / total, 4) for s, n in scripts.most_common()} if total else {}
    n_latin = sum(latin_words.values())
    function = {
        code: round(sum(latin_words[w] for w in words) / n_latin, 4) if n_latin else 0.0
        for code, words in _WORD_SETS.items()
    }
    script = next(iter(shares), "")
    language = _language(script, scripts, function)
    if language == "ja":
        script = "Kana" if scripts["Kana"] > scripts["Han"] else "Han"
    return TextLanguage(
        language=language,
        script=script,
        scripts=shares,
        function_words=function if n_latin else {},
        n_texts=len(sample),
    )


def default_text_family(language: TextLanguage | None = None) -> str:
    """The family a new text data set starts with: ``ngram``, in every language.

    ``language`` is taken so the rule can read it; today it does not change the
    answer (see the module's docstring for the figures behind it).
    """
    return DEFAULT_TEXT_FAMILY


def _script(token: str) -> str | None:
    """The script of the token's first letter, None for a token without letters."""
    for char in token:
        if not char.isalpha():
            continue
        for name, pattern in _SCRIPT_RES:
            if pattern.match(char):
                return name
        return "Other"
    return None


def _language(script: str, scripts: Counter[str], function: dict[str, float]) -> str:
    cjk = scripts["Han"] + scripts["Kana"]
    if script in ("Han", "Kana"):
        return "ja" if scripts["Kana"] >= _MIN_KANA_SHARE * cjk else "zh"
    if script == "Latin":
        best = max(function, key=function.__getitem__)
        return best if function[best] >= _MIN_FUNCTION_SHARE else ""
    return _SCRIPT_LANGUAGE.get(script, "")
