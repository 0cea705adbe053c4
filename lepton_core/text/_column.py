"""What every text family shares: one column of text in, classes out."""

from __future__ import annotations

from typing import Any

import pandas as pd

from lepton_core.core import DataError
from lepton_core.models import LeptonModel

__all__ = ["TextColumnModel"]


class TextColumnModel(LeptonModel):
    """Base of the text families: reads exactly one text column (missing text is empty)
    and classifies; :meth:`_check_params` refuses a family's bad parameters."""

    reads = "text"

    @classmethod
    def language_note(cls, language: Any, params: dict[str, Any] | None = None) -> str:
        """Why this family with ``params`` is a poor choice for texts in ``language`` (a
        :class:`~lepton_core.text.TextLanguage`, which ``_language`` defines from the n-gram
        tokens, so not imported here), in one sentence; ``""`` when it reads them (Text
        Auto leaves out the families that say why)."""
        return ""

    def _check_params(self) -> None:
        """Raise ``ValueError`` for parameters the family cannot train with."""

    def _learn_schema(self, X: pd.DataFrame) -> pd.DataFrame:
        # A text column is one feature, not thousands of categories.
        if self.task == "regression":
            raise DataError(
                "Text models classify (binary or multiclass) and cannot predict numbers; "
                "pick a target with classes or a tabular model for a numeric target."
            )
        self._check_params()
        if X.shape[1] != 1:
            raise DataError(
                f"A text model reads exactly one text column but the table has {X.shape[1]} "
                f"({', '.join(map(str, X.columns[:5]))}); keep only the text column as a feature."
            )
        return self._one_column(X)

    def _clean(self, X: pd.DataFrame) -> pd.DataFrame:
        return super()._clean(X).fillna("")

    def _texts(self, X: pd.DataFrame) -> list[str]:
        return X.iloc[:, 0].astype(str).tolist()
