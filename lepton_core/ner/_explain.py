"""Token SHAP for one entity: which words of a sentence made the model find that name.

What is explained is the model's chance for the entity's words to carry the tags that
make it that name: ``B-<type>`` on its first word and ``I-<type>`` on the rest, averaged
over its words (crfsuite's marginals for the CRF, the softmax for MiniLM; see
:meth:`~lepton_core.ner.NerModel.tag_probabilities`). shap's Partition explainer walks a
balanced hierarchy of neighbouring words and hides words by handing the family a
``None`` for each, which it reads as a word it never saw. The values are Owen values:
they add up exactly to the chance for the whole sentence minus the chance with every
word hidden (the base value), whatever the evaluation budget (:data:`MAX_EVALS`).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from lepton_core.core import ExplainError, Message
from lepton_core.explain import Explanation
from lepton_core.ner._model import NerModel, as_sentences
from lepton_core.ner._read import TEXT_COLUMN
from lepton_core.ner._tags import Entity, Sentence

__all__ = ["MAX_EVALS", "explain_entity"]

NAME = "shap.PartitionExplainer (words hidden)"
#: Model evaluations per entity at most; the hierarchy of a 40-word sentence needs
#: about 160 to be walked to single words.
MAX_EVALS = 300


def _tree(n: int) -> np.ndarray:
    """A scipy linkage matrix joining ``n`` words into a balanced tree of neighbours, so
    that a phrase is credited as a whole before its words are."""
    rows: list[list[float]] = []

    def join(lo: int, hi: int) -> tuple[int, int]:
        if hi - lo == 1:
            return lo, 1
        mid = (lo + hi) // 2
        (left, a), (right, b) = join(lo, mid), join(mid, hi)
        rows.append([left, right, float(a + b), float(a + b)])
        return n + len(rows) - 1, a + b

    join(0, n)
    return np.asarray(rows, dtype=float)


def _words(sentence: Sentence, entity: Entity) -> list[int]:
    return [
        i
        for i, (t, s) in enumerate(zip(sentence.tokens, sentence.starts, strict=True))
        if s < entity.end and entity.start < s + len(t)
    ]


def _as_entity(entity: Entity | dict[str, Any]) -> Entity:
    if isinstance(entity, Entity):
        return entity
    return Entity(int(entity["start"]), int(entity["end"]), str(entity["type"]))


def explain_entity(
    model: NerModel,
    text: str | Sentence,
    entity: Entity | dict[str, Any],
    *,
    max_evals: int = MAX_EVALS,
    seed: int = 0,
) -> Explanation:
    """Token SHAP values of one entity the model found in ``text``.

    Parameters
    ----------
    model : NerModel
        A fitted entity model.
    text : str or Sentence
        The sentence (tokenised as the model tokenises it).
    entity : Entity or dict
        The entity to explain, as ``predict`` gives it (``start``, ``end``, ``type``).
    max_evals : int
        Model evaluations at most (each scores the sentence with some words hidden).
    seed : int

    Returns
    -------
    Explanation
        One text row: ``tokens`` the sentence's words, ``values`` their contributions
        to the chance of the entity (``output_space`` ``"probability"``), the base value
        the chance with every word hidden, ``model_output`` the chance for the sentence;
        the one output is named ``"<entity text> (<type>)"``.

    Raises
    ------
    ExplainError
        The entity covers no word of the sentence or its type is not one the model knows.
    """
    if max_evals < 2:
        raise ValueError(f"max_evals must be at least 2, got {max_evals}.")
    sentence = text if isinstance(text, Sentence) else as_sentences(text)[0]
    entity = _as_entity(entity)
    entity = Entity(entity.start, entity.end, entity.type, sentence.text[entity.start : entity.end])
    inside = _words(sentence, entity)
    labels = list(model.labels_)
    tags = [f"B-{entity.type}", *[f"I-{entity.type}"] * (len(inside) - 1)]
    if not inside or any(t not in labels for t in tags):
        raise ExplainError(
            Message(
                "ner.explain_not_found",
                name=entity.text or f"{entity.start}–{entity.end}",
                type=entity.type,
            )
        )
    columns = [labels.index(t) for t in tags]
    tokens = sentence.tokens
    cache: dict[bytes, float] = {}

    def chance(kept: np.ndarray) -> np.ndarray:
        # Rows of 0/1 (hidden/shown) in, the entity's chance per row out; a row the
        # hierarchy asks for twice is scored once.
        keys = [np.asarray(row > 0.5).tobytes() for row in kept]
        todo = {k: row for k, row in zip(keys, kept, strict=True) if k not in cache}
        if todo:
            worded = [
                [t if on > 0.5 else None for t, on in zip(tokens, row, strict=True)]
                for row in todo.values()
            ]
            for key, p in zip(todo, model.tag_probabilities(worded), strict=True):
                cache[key] = float(p[inside, columns].mean())
        return np.array([cache[k] for k in keys])

    n = len(tokens)
    every, none = np.ones((1, n)), np.zeros((1, n))
    output, base = float(chance(every)[0]), float(chance(none)[0])
    if n == 1:  # one word: its Shapley value is exact, and shap's tree needs two
        values = np.array([output - base])
    else:
        with warnings.catch_warnings():
            # shap 0.51 builds its colour maps with matplotlib calls that warn on import.
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            import shap
        masker = shap.maskers.Partition(none, clustering=_tree(n))
        explainer = shap.PartitionExplainer(chance, masker, seed=seed)
        state = np.random.get_state()  # shap seeds numpy's global generator; give it back
        try:
            result = explainer(every, max_evals=max_evals, silent=True)
        finally:
            np.random.set_state(state)
        values = np.asarray(result.values[0], dtype=float).reshape(n)
        base = float(np.asarray(result.base_values).reshape(-1)[0])
    ends = [*sentence.starts[1:], len(sentence.text)]
    pieces = [sentence.text[s:e] for s, e in zip(sentence.starts, ends, strict=True)]
    return Explanation(
        explainer=NAME,
        output_space="probability",
        outputs=[f"{entity.text} ({entity.type})"],
        feature_names=[TEXT_COLUMN],
        values=[[[float(v)] for v in values]],
        base_values=[base],
        data=[{TEXT_COLUMN: sentence.text}],
        model_output=[[output]],
        note=Message("ner.explain_note", evals=len(cache)),
        tokens=[pieces],
        row_base_values=[[base]],
        classes=[str(c) for c in model.classes_],
    )
