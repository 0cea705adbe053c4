"""Data drift: how far new records have moved from the training data, column by column.

Each column gets the population stability index (PSI) between the training data (the
reference) and the new records, plus a significance test: Kolmogorov–Smirnov for numbers,
chi-square for categories (both from scipy). PSI is the headline because it measures
*how much* a distribution moved, whatever the sample size; a test's p-value with tens of
thousands of rows calls every trifle significant. The usual reading of PSI: below 0.1 no
real change, 0.1–0.2 a moderate change, above 0.2 a major one.

Numbers are cut into ten bins at the reference's deciles (and, when one value fills most
of a column, at the deciles of the other values too); categories keep the reference's
20 most frequent values, the rest (and values never seen in training) as "other"; missing
values are a bin of their own on both sides, so a column that starts arriving empty
drifts too. Both sides are sampled to at most ``max_rows`` rows, so time stays bounded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lepton_core.core import DataError, JsonMixin, Message

__all__ = ["DriftReport", "FeatureDrift", "data_drift", "psi"]

PSI_MODERATE = 0.1
PSI_MAJOR = 0.2
N_BINS = 10
TOP_CATEGORIES = 20
MAX_ROWS = 100_000
MISSING = "missing"
OTHER = "other"
# Shares of zero would make PSI infinite: an empty bin counts as this share instead.
_FLOOR = 1e-4


@dataclass
class FeatureDrift(JsonMixin):
    """How one column moved.

    Attributes
    ----------
    column : str
    kind : str
        ``"number"`` (binned at the reference's deciles), ``"category"``, or ``"text"``
        (free text, binned by its length in characters).
    psi : float
        Population stability index; 0 means the same distribution.
    level : str
        ``"none"`` (PSI < 0.1), ``"moderate"`` (< 0.2) or ``"major"``.
    test, statistic, p_value
        ``"ks"`` or ``"chi2"``, its statistic and p-value (None when a side is empty).
    bins : list of str
        Bin labels, in order; ``reference_share`` and ``current_share`` give each bin's
        share of the rows on each side (what the page draws).
    """

    column: str
    kind: str
    psi: float
    level: str
    test: str
    statistic: float | None
    p_value: float | None
    bins: list[str] = field(default_factory=list)
    reference_share: list[float] = field(default_factory=list)
    current_share: list[float] = field(default_factory=list)


@dataclass
class DriftReport(JsonMixin):
    """Every compared column, the largest change first.

    Attributes
    ----------
    reference_rows, current_rows : int
        Rows compared on each side (after sampling).
    sampled : bool
        Whether either side was sampled down to ``max_rows``.
    features : list of FeatureDrift
        Largest PSI first.
    """

    reference_rows: int
    current_rows: int
    sampled: bool
    features: list[FeatureDrift]

    @property
    def drifted(self) -> list[str]:
        """The columns with a major change, largest first."""
        return [f.column for f in self.features if f.level == "major"]

    @property
    def moderate(self) -> list[str]:
        return [f.column for f in self.features if f.level == "moderate"]

    def feature(self, column: str) -> FeatureDrift:
        return next(f for f in self.features if f.column == column)

    def summary(self) -> Message:
        """The verdict in one sentence (a Message: pages show it in the reader's language)."""
        if not self.features:
            return Message("monitoring.drift.nothing")
        if self.drifted:
            return Message(
                "monitoring.drift.found",
                count=len(self.drifted),
                total=len(self.features),
                columns=", ".join(self.drifted),
            )
        top = self.features[0]
        return Message("monitoring.drift.calm", column=top.column, psi=top.psi)


def psi(reference_share: Sequence[float], current_share: Sequence[float]) -> float:
    """Population stability index of two binned distributions (shares per bin)."""
    r = np.maximum(np.asarray(reference_share, dtype=float), _FLOOR)
    c = np.maximum(np.asarray(current_share, dtype=float), _FLOOR)
    return float(np.sum((c - r) * np.log(c / r)))


def _level(value: float) -> str:
    return "major" if value >= PSI_MAJOR else "moderate" if value >= PSI_MODERATE else "none"


def _is_number(values: pd.Series) -> bool:
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    return numeric and values.nunique(dropna=True) > 10


def _shares(counts: np.ndarray) -> list[float]:
    total = counts.sum()
    return (counts / total).tolist() if total else [0.0] * len(counts)


def _number_drift(column: str, ref: pd.Series, cur: pd.Series) -> FeatureDrift:
    from scipy.stats import ks_2samp

    cur = pd.to_numeric(cur, errors="coerce")  # records sent as text ("42") still compare
    present = ref.dropna().to_numpy(dtype=float)
    deciles = np.linspace(0, 1, N_BINS + 1)[1:-1]
    edges = np.unique(np.quantile(present, deciles))
    if len(edges) < 3:
        # Mostly one value (capital gains: nearly all 0): cut the other values too, or a
        # change in them would fall in one bin and go unseen.
        values, counts = np.unique(present, return_counts=True)
        rest = present[present != values[counts.argmax()]]
        if len(rest):
            edges = np.unique(np.concatenate([edges, np.quantile(rest, deciles)]))
    bounds = [-np.inf, *edges, np.inf]
    labels = [
        f"< {edges[0]:g}" if i == 0 else f"≥ {edges[-1]:g}" if i == len(edges) else
        f"{edges[i - 1]:g} – {edges[i]:g}"
        for i in range(len(edges) + 1)
    ] if len(edges) else ["all"]  # fmt: skip

    def counts(values: pd.Series) -> np.ndarray:
        binned = pd.cut(values.dropna().astype(float), bounds, right=False, labels=False)
        found = np.bincount(binned.astype(int), minlength=len(labels))
        return np.append(found, values.isna().sum())

    r, c = counts(ref), counts(cur)
    statistic = p_value = None
    if cur.notna().any():
        result = ks_2samp(present, cur.dropna().to_numpy(dtype=float))
        statistic, p_value = float(result.statistic), float(result.pvalue)
    return _feature(column, "number", [*labels, MISSING], r, c, "ks", statistic, p_value)


def _text_drift(column: str, ref: pd.Series, cur: pd.Series) -> FeatureDrift:
    """Free text by its length in characters (any language): new texts are nearly all
    unseen, so compared as categories they would drift whenever training texts repeat."""

    def length(values: pd.Series) -> pd.Series:
        return values.astype("string").str.len().astype(float)  # missing stays missing

    drift = _number_drift(column, length(ref), length(cur))
    drift.kind = "text"
    return drift


def _category_drift(column: str, ref: pd.Series, cur: pd.Series) -> FeatureDrift:
    from scipy.stats import chi2_contingency

    ref_text = ref.dropna().astype(str)
    kept = list(ref_text.value_counts().index[:TOP_CATEGORIES])
    labels = [*kept, OTHER, MISSING]

    def counts(values: pd.Series) -> np.ndarray:
        text = values.astype(str)  # vectorised: a logged month is hundreds of thousands
        text = text.where(text.isin(kept), OTHER).mask(values.isna(), MISSING)
        return text.value_counts().reindex(labels, fill_value=0).to_numpy()

    r, c = counts(ref), counts(cur)
    statistic = p_value = None
    table = np.vstack([r, c])
    table = table[:, table.sum(axis=0) > 0]
    if c.sum() and table.shape[1] >= 2:
        result = chi2_contingency(table)
        statistic, p_value = float(result.statistic), float(result.pvalue)
    elif c.sum():
        statistic, p_value = 0.0, 1.0  # one value on both sides: nothing moved
    return _feature(column, "category", labels, r, c, "chi2", statistic, p_value)


def _feature(column, kind, labels, r, c, test, statistic, p_value) -> FeatureDrift:
    # Bins empty on both sides say nothing; dropping them keeps the charts readable.
    keep = (r + c) > 0
    labels = [label for label, k in zip(labels, keep, strict=True) if k]
    ref_share, cur_share = _shares(r[keep]), _shares(c[keep])
    value = psi(ref_share, cur_share)
    return FeatureDrift(
        column=column,
        kind=kind,
        psi=value,
        level=_level(value),
        test=test,
        statistic=statistic,
        p_value=p_value,
        bins=labels,
        reference_share=ref_share,
        current_share=cur_share,
    )


def data_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    texts: Sequence[str] = (),
    max_rows: int = MAX_ROWS,
    seed: int = 0,
) -> DriftReport:
    """Compare new records with the training data, column by column.

    Parameters
    ----------
    reference : pandas.DataFrame
        The training data (or any data taken as normal).
    current : pandas.DataFrame
        The new records: logged predictions' inputs, or a file to check.
    columns : sequence of str, optional
        The columns to compare; by default every column the two have in common.
    texts : sequence of str
        Those of free text (a text model's input): compared by their length.
    max_rows : int
        Each side is sampled (seeded) down to this many rows, so time stays bounded.
    """
    if columns is None:
        columns = [c for c in reference.columns if c in current.columns]
    absent = [c for c in columns if c not in reference.columns or c not in current.columns]
    if absent:
        raise DataError(
            Message("monitoring.error.missing_columns", columns=", ".join(map(repr, absent)))
        )
    if not len(reference) or not len(current):
        raise DataError(Message("monitoring.error.no_records"))
    sampled = len(reference) > max_rows or len(current) > max_rows
    if len(reference) > max_rows:
        reference = reference.sample(max_rows, random_state=seed)
    if len(current) > max_rows:
        current = current.sample(max_rows, random_state=seed)
    features = []
    for column in columns:
        ref, cur = reference[column], current[column]
        if ref.isna().all():
            continue  # nothing to compare against
        if column in texts:
            features.append(_text_drift(str(column), ref, cur))
        elif _is_number(ref):
            features.append(_number_drift(str(column), ref, cur))
        else:
            features.append(_category_drift(str(column), ref, cur))
    features.sort(key=lambda f: f.psi, reverse=True)
    return DriftReport(
        reference_rows=len(reference),
        current_rows=len(current),
        sampled=sampled,
        features=features,
    )
