"""The ``ngram`` text family: TF-IDF over word and character n-grams, and logistic regression.

The fast default for short texts in any language, trained in seconds on a CPU.

**Tokens.** One pattern (:func:`token_pattern`) splits a text the same way for
the model and for its explanations: in scripts written with spaces, a run of
letters, digits and combining marks is a word; in scripts written without them
(Chinese, Japanese kana, Thai, Lao, Khmer, Myanmar) each character, with its
marks, is a token; any other visible character (punctuation, an emoji) is a
token of its own. Word n-grams are n-grams of these tokens, so in Chinese they
are characters and character pairs: no word segmentation is needed. Character
n-grams (``char_wb``) add spelling-level pieces for languages with many word forms.

**Explanations.** :class:`NgramTokenizer` gives each token an id from a
vocabulary the model keeps (the training texts' most frequent tokens; a token it
has not seen gets the next free id while the process runs) and offsets into
the text, which is what shap's ``Text`` masker needs; token SHAP
(:mod:`lepton_core.explain`) hides tokens by replacing their ids with the mask
id, and :meth:`NgramTextModel.token_logits` turns the rows back into texts (a
hidden token becomes a space) and scores them. The fully masked text has no
n-grams, so the base value is the model's intercept.

Saved files: ``pipeline.skops`` (the vectorizers and the classifier, with skops,
never pickle: loading refuses any type it does not trust) and ``tokens.json``
(the tokenizer's vocabulary).
"""

from __future__ import annotations

import functools
import json
import re
import threading
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer

from lepton_core.core import Message, ModelError, Task
from lepton_core.models import Setting, probabilities_from_raw
from lepton_core.text._column import TextColumnModel

__all__ = ["NGRAM_KINDS", "NgramTextModel", "NgramTokenizer", "token_pattern"]

PIPELINE_FILE = "pipeline.skops"
TOKENS_FILE = "tokens.json"
#: What the n-grams are made of; the Train page's choices.
NGRAM_KINDS = {
    "words": Message("setting.ngram.ngrams.words"),
    "characters": Message("setting.ngram.ngrams.characters"),
    "both": Message("setting.ngram.ngrams.both"),
}
SETTINGS = (
    Setting(
        name="ngrams",
        label=Message("setting.ngram.ngrams"),
        default="words",
        choices=NGRAM_KINDS,
        help=Message("setting.ngram.ngrams.help"),
    ),
    Setting(
        name="C",
        label=Message("setting.ngram.C"),
        default=4.0,
        minimum=0.01,
        maximum=100.0,
        help=Message("setting.ngram.C.help"),
    ),
)
# Scripts written without spaces between words: each character is a token.
_NO_SPACE = (
    r"\u0e00-\u0eff"  # Thai, Lao
    r"\u1000-\u109f"  # Myanmar
    r"\u1780-\u17ff"  # Khmer
    r"\u2e80-\u2fdf"  # CJK radicals
    r"\u3005-\u3007"  # 々 〆 〇
    r"\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f"  # Hiragana, Katakana
    r"\u3100-\u312f\u31a0-\u31bf"  # Bopomofo
    r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"  # CJK ideographs
)
#: Types in ``pipeline.skops`` beyond skops' trusted scikit-learn and numpy types.
_TRUSTED = frozenset({f"{__name__}._Tfidf"})
_VOCAB_TEXTS = 2_000  # the tokenizer's vocabulary is learned from at most this many texts
_VOCAB_SIZE = 30_000


def _escape(code: int) -> str:
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


@functools.cache
def token_pattern() -> str:
    """The regular expression of one token (see the module's docstring).

    Python's ``\\w`` leaves out combining marks (Devanagari vowel signs, Arabic
    diacritics), which would cut words apart; those of the Basic Multilingual Plane
    are read from the Unicode database once, on first use (the few beyond it, in
    historic scripts, would slow every match down).
    """
    ranges: list[str] = []
    start = None
    for code in range(0x300, 0x10001):
        mark = code < 0x10000 and unicodedata.category(chr(code)).startswith("M")
        if mark and start is None:
            start = code
        elif not mark and start is not None:
            last = code - 1
            ranges.append(_escape(start) + ("" if last == start else "-" + _escape(last)))
            start = None
    marks = "".join(ranges)
    # A word is unrolled as letters, then marks and letters: one class in the common case.
    word = rf"[^\W{_NO_SPACE}]+(?:[{marks}]+[^\W{_NO_SPACE}]*)*"
    return rf"[{_NO_SPACE}][{marks}]*|{word}|[^\w\s]"


@functools.cache
def _token_regex() -> re.Pattern[str]:
    return re.compile(token_pattern())


def _pieces(text: str) -> Iterator[tuple[str, tuple[int, int]]]:
    """Each token of ``text`` with a following space if whitespace follows it, and its span.

    Joining the pieces gives the text back up to runs of whitespace, which neither
    vectorizer tells apart from one space.
    """
    for match in _token_regex().finditer(text):
        start, end = match.span()
        gap = " " if text[end : end + 1].isspace() else ""
        yield text[start:end] + gap, (start, end)


class _Tfidf(TfidfVectorizer):
    """scikit-learn's TfidfVectorizer, saved with its vocabulary as one string.

    skops writes a dict entry by entry (hundreds of bytes and microseconds each); a
    vocabulary of 200,000 n-grams joined by newlines (no n-gram holds one: both
    analyzers turn whitespace into spaces) is a few megabytes.
    """

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())  # scikit-learn's is the live __dict__
        vocabulary = state.get("vocabulary_")
        if isinstance(vocabulary, dict) and not any("\n" in term for term in vocabulary):
            state["vocabulary_"] = "\n".join(sorted(vocabulary, key=vocabulary.__getitem__))
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        terms = state.get("vocabulary_")
        if isinstance(terms, str):
            state = {**state, "vocabulary_": {t: i for i, t in enumerate(terms.split("\n"))}}
        super().__setstate__(state)


class NgramTokenizer:
    """The n-gram family's tokens with ids, in the shape shap's ``Text`` masker reads.

    Calling it on a text gives ``input_ids`` (and with ``return_offsets_mapping``,
    each token's ``(start, end)`` in the text). Id 0 is the mask token; a token
    absent from the vocabulary gets the next free id while the process runs, so
    that every text can be turned into ids and back (:meth:`decode`).

    Parameters
    ----------
    vocabulary : sequence of str
        Tokens (with their following space, if any) for ids 1, 2, ...
    """

    mask_token = "[MASK]"
    mask_token_id = 0

    def __init__(self, vocabulary: Sequence[str] = ()) -> None:
        self.tokens = [self.mask_token, *vocabulary]
        # No text maps to the mask's id: "[MASK]" in a text is three tokens.
        self._ids = {token: i for i, token in enumerate(self.tokens) if i}
        self.n_learned = len(self.tokens)
        self._lock = threading.Lock()

    @classmethod
    def learn(cls, texts: Sequence[str], max_size: int = _VOCAB_SIZE) -> NgramTokenizer:
        """A tokenizer whose vocabulary is the ``max_size`` most frequent tokens of ``texts``."""
        counts = Counter(piece for text in texts for piece, _ in _pieces(text))
        return cls([token for token, _ in counts.most_common(max_size)])

    @property
    def vocabulary(self) -> list[str]:
        """The learned tokens, in id order from 1 (what is saved)."""
        return self.tokens[1 : self.n_learned]

    def __call__(
        self, text: str | Sequence[str], return_offsets_mapping: bool = False
    ) -> dict[str, list]:
        if not isinstance(text, str):
            batch = [self(t, return_offsets_mapping) for t in text]
            keys = ["input_ids", "offset_mapping"][: 1 + return_offsets_mapping]
            return {key: [one[key] for one in batch] for key in keys}
        pieces = list(_pieces(text))
        out: dict[str, list] = {"input_ids": [self._id(piece) for piece, _ in pieces]}
        if return_offsets_mapping:
            out["offset_mapping"] = [span for _, span in pieces]
        return out

    def _id(self, token: str) -> int:
        found = self._ids.get(token)
        if found is None:
            with self._lock:
                found = self._ids.setdefault(token, len(self.tokens))
                if found == len(self.tokens):
                    self.tokens.append(token)
        return found

    def convert_ids_to_tokens(self, ids: int | Sequence[int]) -> str | list[str]:
        """The token of an id, or the tokens of a list of ids."""
        if isinstance(ids, (int, np.integer)):
            return self.tokens[int(ids)]
        return [self.tokens[int(i)] for i in ids]

    def decode(self, ids: Sequence[int]) -> str:
        """The text of token ids; a masked token becomes a space (it separates, adds nothing).

        Raises
        ------
        ModelError
            An id this tokenizer never gave.
        """
        if any(not 0 <= i < len(self.tokens) for i in ids):
            raise ModelError(
                "These token ids were not made by this model's tokenizer; tokenise the text "
                "with model.tokenizer_ first."
            )
        return "".join(" " if i == self.mask_token_id else self.tokens[i] for i in ids)


class NgramTextModel(TextColumnModel):
    """Text classification (binary or multiclass) by TF-IDF n-grams and logistic regression.

    The input is a table with exactly one column of text (missing text is read
    as empty).

    Parameters
    ----------
    task : {"binary", "multiclass"}
    seed : int
    ngrams : {"words", "characters", "both"}
        Word n-grams of the family's tokens (characters in Chinese and Japanese),
        character n-grams within words (``char_wb``), or both side by side.
    C : float
        Inverse regularisation of the logistic regression.
    word_ngrams, char_ngrams : int
        The longest word and character n-gram (from 1).
    max_features : int
        At most this many n-grams of each kind, the most frequent, which bounds the
        model's size.
    max_iter : int
        Iterations of the solver (liblinear for binary tasks, saga for multiclass).

    Attributes
    ----------
    pipeline_ : sklearn.pipeline.Pipeline
        The vectorizer(s) then ``final_estimator_`` (a ``LogisticRegression``).
    tokenizer_ : NgramTokenizer
        The tokens token SHAP hides and highlights.
    """

    family = "ngram"
    title = Message("family.ngram")
    settings = SETTINGS
    # fairlearn's ThresholdOptimizer reads the sensitive column from the model's inputs
    # when it scores, and a text model's only input is its text; the reduction retrains
    # LightGBM on table features.
    mitigable = False
    margin = "logit"
    searchable = searched_by_default = True
    # Text Auto's first trials: the defaults (the seconds-long baseline every text search
    # keeps on its board, so no winner is worse on validation), then words and characters.
    search_portfolio = (
        {"ng_ngrams": "words", "ng_C": 4.0, "ng_word_ngrams": 2},
        {"ng_ngrams": "both", "ng_C": 4.0, "ng_word_ngrams": 2},
    )

    def __init__(
        self,
        task: Task = "binary",
        seed: int = 0,
        ngrams: str = "words",
        C: float = 4.0,
        word_ngrams: int = 2,
        char_ngrams: int = 4,
        max_features: int = 200_000,
        max_iter: int = 1000,
    ) -> None:
        self.task = task
        self.seed = seed
        self.ngrams = ngrams
        self.C = C
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.max_features = max_features
        self.max_iter = max_iter

    @classmethod
    def search_space(cls, trial: Any, task: Task) -> dict[str, Any]:
        # C beyond 30 makes saga (multiclass) slow to converge for no gain.
        return {
            "ngrams": trial.suggest_categorical("ng_ngrams", list(NGRAM_KINDS)),
            "C": trial.suggest_float("ng_C", 0.1, 30.0, log=True),
            "word_ngrams": trial.suggest_int("ng_word_ngrams", 1, 3),
        }

    # -- public API ------------------------------------------------------------

    def token_logits(self, rows: Sequence[Sequence[int]], batch_size: int = 0) -> np.ndarray:
        """Class scores ``(n, n_classes)`` for texts given as token ids (some masked), whose
        softmax is the class probabilities; ``batch_size`` is not needed, one sparse pass
        scores them all."""
        self._check_fitted()
        texts = [self.tokenizer_.decode([int(i) for i in row]) for row in rows]
        scores = self.pipeline_.decision_function(texts) if texts else np.zeros((0,))
        if self.task == "binary":
            scores = np.asarray(scores, dtype=float).reshape(-1)
            return np.column_stack([np.zeros_like(scores), scores])
        return np.asarray(scores, dtype=float).reshape(len(texts), -1)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """The n-grams, in the order of :meth:`transform`'s columns."""
        self._check_fitted()
        return np.asarray(self.pipeline_[0].get_feature_names_out(), dtype=object)

    # -- schema ----------------------------------------------------------------

    def _check_params(self) -> None:
        if self.ngrams not in NGRAM_KINDS:
            raise ValueError(
                f"Unknown n-grams {self.ngrams!r}; use one of {', '.join(NGRAM_KINDS)}."
            )
        for name in ("word_ngrams", "char_ngrams", "max_features"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}.")

    # -- training and outputs --------------------------------------------------

    def _features(self) -> Any:
        from sklearn.pipeline import FeatureUnion

        def tfidf(**kind: Any) -> _Tfidf:
            # sublinear_tf: a word said twice is not twice the evidence.
            return _Tfidf(sublinear_tf=True, max_features=int(self.max_features), **kind)

        words = tfidf(token_pattern=token_pattern(), ngram_range=(1, int(self.word_ngrams)))
        chars = tfidf(analyzer="char_wb", ngram_range=(1, int(self.char_ngrams)))
        if self.ngrams == "words":
            return words
        if self.ngrams == "characters":
            return chars
        return FeatureUnion([("words", words), ("characters", chars)])

    def _fit(self, X, y, valid, progress) -> None:
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import log_loss
        from sklearn.pipeline import Pipeline

        texts = self._texts(X)
        features = self._features()
        matrix = features.fit_transform(texts)
        # Binary: liblinear, in its dual form while there are fewer texts than n-grams,
        # fits 40,000 reviews 5-10 times faster than lbfgs at the same accuracy. Multiclass:
        # saga fits the multinomial model (whose softmax is predict_proba) 2-6 times faster
        # than newton-cg and lbfgs on 40,000 reviews in 9 classes, at the same accuracy.
        binary = self.task == "binary"
        classifier = LogisticRegression(
            C=self.C,
            solver="liblinear" if binary else "saga",
            dual=binary and matrix.shape[0] < matrix.shape[1],
            max_iter=self.max_iter,
            random_state=self.seed,
        )
        classifier.fit(matrix, y)
        self._set(Pipeline([("features", features), ("model", classifier)]))
        self.tokenizer_ = NgramTokenizer.learn(texts[:_VOCAB_TEXTS])
        # The training loss from the matrix already built, not a second pass over the texts.
        proba = probabilities_from_raw(classifier.decision_function(matrix))
        logs = {"train_loss": float(log_loss(y, proba, labels=np.arange(len(self.classes_))))}
        if valid is not None:
            logs["valid_loss"] = self._loss(*valid)
        self.history_ = [{"step": 1, **logs}]
        if progress is not None:
            progress(1, 1, dict(logs))

    def _set(self, pipeline: Any) -> None:
        self.pipeline_ = pipeline
        self.final_estimator_ = pipeline[-1]

    def _raw(self, X: pd.DataFrame) -> np.ndarray:
        return self.pipeline_.decision_function(self._texts(X))

    def _transform(self, X: pd.DataFrame) -> Any:
        return self.pipeline_[0].transform(self._texts(X))

    # -- persistence -----------------------------------------------------------

    def _estimator_meta(self) -> dict[str, Any]:
        return {
            "ngrams": self.ngrams,
            "n_features": int(self.final_estimator_.coef_.shape[1]),
            "n_tokens": len(self.tokenizer_.vocabulary),
        }

    def _save_estimator(self, folder: Path) -> list[str]:
        import skops.io as sio

        sio.dump(self.pipeline_, folder / PIPELINE_FILE, compression=zipfile.ZIP_DEFLATED)
        tokens = json.dumps(self.tokenizer_.vocabulary, ensure_ascii=False)
        (folder / TOKENS_FILE).write_text(tokens, encoding="utf-8")
        return [PIPELINE_FILE, TOKENS_FILE]

    def _load_estimator(self, folder: Path, meta: dict[str, Any]) -> None:
        import skops.io as sio

        path = folder / PIPELINE_FILE
        # Only the types this family writes; anything else means the file is not ours.
        unexpected = set(sio.get_untrusted_types(file=path)) - _TRUSTED
        if unexpected:
            raise ModelError(
                f"The file '{path.name}' holds types Lepton does not write "
                f"({', '.join(sorted(unexpected))}); train and save the model again."
            )
        self._set(sio.load(path, trusted=sorted(_TRUSTED)))
        vocabulary = json.loads((folder / TOKENS_FILE).read_text(encoding="utf-8"))
        self.tokenizer_ = NgramTokenizer(vocabulary)
