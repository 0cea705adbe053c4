"""k-anonymity: how well a table's quasi-identifiers hide individuals."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from lepton_core.core import DataError, JsonMixin, Message

__all__ = ["KAnonymity", "k_anonymity"]


@dataclass
class KAnonymity(JsonMixin):
    """How well a set of quasi-identifiers hides individuals.

    Attributes
    ----------
    k : int
        The threshold asked about.
    smallest_group : int
        Size of the smallest group of rows sharing all quasi-identifier values; the
        table is k-anonymous for every k up to this.
    n_groups : int
    rows_below_k : int
        Rows in groups smaller than ``k`` (the ones that can be singled out).
    share_below_k : float
    """

    quasi_identifiers: list[str]
    k: int
    smallest_group: int
    n_groups: int
    rows_below_k: int
    share_below_k: float


def k_anonymity(df: pd.DataFrame, quasi_identifiers: list[str], *, k: int = 5) -> KAnonymity:
    """Measure k-anonymity of ``df`` over ``quasi_identifiers`` (missing values form a group)."""
    if k < 1:
        raise ValueError("k must be at least 1.")
    missing = [c for c in quasi_identifiers if c not in df.columns]
    if missing:
        raise DataError(Message("pii.no_quasi_column", columns=", ".join(map(repr, missing))))
    if not quasi_identifiers or df.empty:
        n = len(df)
        return KAnonymity(list(quasi_identifiers), k, n, int(n > 0), 0 if n >= k else n,
                          0.0 if n >= k or n == 0 else 1.0)  # fmt: skip
    sizes = df.groupby(list(quasi_identifiers), dropna=False, observed=True).size()
    below = int(sizes[sizes < k].sum())
    return KAnonymity(
        quasi_identifiers=list(quasi_identifiers),
        k=k,
        smallest_group=int(sizes.min()),
        n_groups=len(sizes),
        rows_below_k=below,
        share_below_k=below / len(df),
    )
