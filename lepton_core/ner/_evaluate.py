"""Entity-level scores for NER: seqeval's strict precision, recall and F1 per type, a
confusion view of types, and the sentences with the most errors.

An entity counts as right only when its span and type both match (seqeval's strict
mode on BIO tags). The confusion view pairs each true entity with the predicted one
it overlaps most (``"—"`` when none), so a type mistaken for another shows even when
the span is slightly off; predicted entities that overlap no true one are counted
against ``"—"``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from lepton_core.ner._tags import Entity, Sentence

__all__ = ["NONE_TYPE", "NerReport", "evaluate_ner"]

#: The confusion view's name for "no entity".
NONE_TYPE = "—"
_WORST = 10


@dataclass
class NerReport:
    """How well predicted entities match the true ones.

    Attributes
    ----------
    precision, recall, f1 : float
        Micro averages over every entity (strict spans and types).
    by_type : dict
        type → ``{"precision", "recall", "f1", "support"}`` (support: true entities).
    confusion : dict
        true type → predicted type → count, ``NONE_TYPE`` for a missing side.
    worst : list of dict
        The sentences with the most wrong or missed entities: ``index``, ``text``,
        ``errors``, ``true`` and ``predicted`` (entities as dicts).
    sentences : int
    """

    precision: float
    recall: float
    f1: float
    by_type: dict[str, dict[str, float]] = field(default_factory=dict)
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)
    worst: list[dict[str, Any]] = field(default_factory=list)
    sentences: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NerReport:
        return cls(**data)

    def metrics(self) -> dict[str, float]:
        """Flat figures for a run's log: ``precision``, ``recall``, ``f1``, ``f1_<type>``."""
        out = {"precision": self.precision, "recall": self.recall, "f1": self.f1}
        out.update({f"f1_{t}": v["f1"] for t, v in self.by_type.items()})
        return out


def _overlap(a: Entity, b: Entity) -> int:
    return max(0, min(a.end, b.end) - max(a.start, b.start))


def evaluate_ner(true: list[Sentence], predicted: list[list[str]]) -> NerReport:
    """Score ``predicted`` BIO tags (one list per sentence) against the tags of ``true``.

    Raises
    ------
    ValueError
        The numbers of sentences or of tokens differ.
    """
    from seqeval.metrics import classification_report
    from seqeval.scheme import IOB2

    if len(true) != len(predicted):
        raise ValueError(f"{len(true)} true sentences but {len(predicted)} predicted.")
    for i, (s, p) in enumerate(zip(true, predicted, strict=True)):
        if len(s.tags) != len(p):
            raise ValueError(f"Sentence {i} has {len(s.tags)} tags but {len(p)} predicted.")
    y_true = [s.tags for s in true]
    y_pred = [list(p) for p in predicted]
    report = classification_report(
        y_true, y_pred, mode="strict", scheme=IOB2, output_dict=True, zero_division=0
    )
    by_type = {
        kind: {
            "precision": float(v["precision"]),
            "recall": float(v["recall"]),
            "f1": float(v["f1-score"]),
            "support": int(v["support"]),
        }
        for kind, v in report.items()
        if not kind.endswith(" avg")
    }
    micro = report.get("micro avg", {"precision": 0.0, "recall": 0.0, "f1-score": 0.0})
    confusion: dict[str, dict[str, int]] = {}
    scored = []
    for i, (s, tags) in enumerate(zip(true, y_pred, strict=True)):
        gold = s.entities
        guess = Sentence(s.text, s.tokens, s.starts, tags).entities
        for g in gold:
            best = max(guess, key=lambda p, g=g: _overlap(g, p), default=None)
            kind = best.type if best is not None and _overlap(g, best) else NONE_TYPE
            row = confusion.setdefault(g.type, {})
            row[kind] = row.get(kind, 0) + 1
        for p in guess:
            if not any(_overlap(p, g) for g in gold):
                row = confusion.setdefault(NONE_TYPE, {})
                row[p.type] = row.get(p.type, 0) + 1
        exact = {(e.start, e.end, e.type) for e in gold} & {(e.start, e.end, e.type) for e in guess}
        errors = len(gold) + len(guess) - 2 * len(exact)
        if errors:
            scored.append((errors, i, s.text, gold, guess))
    scored.sort(key=lambda item: (-item[0], item[1]))
    worst = [
        {
            "index": i,
            "text": text,
            "errors": errors,
            "true": [e.to_dict() for e in gold],
            "predicted": [e.to_dict() for e in guess],
        }
        for errors, i, text, gold, guess in scored[:_WORST]
    ]
    return NerReport(
        precision=float(micro["precision"]),
        recall=float(micro["recall"]),
        f1=float(micro["f1-score"]),
        by_type=by_type,
        confusion=confusion,
        worst=worst,
        sentences=len(true),
    )
