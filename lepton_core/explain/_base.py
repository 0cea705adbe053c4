"""The one explanation type every strategy returns, and the helpers they share.

Strategies explain a model in whatever space its final estimator sees (one-hot
columns, integer codes, ...); :func:`to_original` sums one-hot parts back onto
the original columns and :func:`build` turns the result into JSON-friendly lists.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from lepton_core.core import JsonMixin, Message

#: ``progress(done, total)`` after each chunk of rows explained; True asks to stop.
ExplainProgress = Callable[[int, int], bool | None]

#: How a raw model output is read, by task: the margin SHAP explains.
RAW_SPACE = {"binary": "log-odds", "multiclass": "raw score", "regression": "value"}


def join_notes(*notes: Message | str) -> Message | str:
    """Sentences of an :attr:`Explanation.note` as one note, each kept in its own Message."""
    joined: Message | str = ""
    for note in notes:
        if note:
            joined = Message("explain.note.join", first=joined, then=note) if joined else note
    return joined


def raw_space(model: Any) -> str:
    """What ``model.raw_output`` holds: :data:`RAW_SPACE` of its task, or ``"probability"``
    for a classifier whose ``margin`` is probability (decision trees, mitigated models)."""
    if model.task != "regression" and getattr(model, "margin", "logit") == "probability":
        return "probability"
    return RAW_SPACE[model.task]


@dataclass
class Explanation(JsonMixin):
    """SHAP values of a model for some rows, on the model's original columns.

    Attributes
    ----------
    explainer : str
        The SHAP algorithm used, e.g. ``"shap.TreeExplainer"``.
    output_space : str
        What the values add up to: ``"log-odds"``, ``"raw score"``, ``"probability"``
        or ``"value"``.
    outputs : list of str
        One name per explained output: the positive class (binary), every class
        (multiclass) or the target (regression).
    feature_names : list of str
        The model's original columns; one-hot parts are summed back into them.
    values : list
        SHAP values, nested lists of shape ``(n_rows, n_features, n_outputs)``.
    base_values : list of float
        The expected model output per output; ``base + sum(values) == model_output``.
    data : list of dict
        The explained rows' original values (``None`` where missing).
    model_output : list
        The model's output for those rows, shape ``(n_rows, n_outputs)``.
    note : Message or str
        Anything the reader should know, e.g. that the rows are a sample.
    tokens : list of list of str, optional
        Text models only: each row's tokens, as the substrings of its text
        (trailing spaces included, so joining them gives the text back; special
        tokens such as ``[CLS]`` are left out). ``feature_names`` is then the one
        text column, ``values[i]`` has shape ``(len(tokens[i]), n_outputs)`` and
        ``data[i]`` is ``{text_column: text}``.
    row_base_values : list, optional
        Text models only: the base value of each row, shape ``(n_rows, n_outputs)``
        (the output for the fully masked text, which depends on its length);
        ``base_values`` is then their mean.
    classes : list of str, optional
        Classifiers only: every class in the model's order (for a binary model the
        negative class is ``classes[0]``, which ``outputs`` does not name).
    positions : list of int, optional
        Position of each explained row in the table given to
        :func:`~lepton_core.explain.explain` (the rows may be a sample), so that labels
        stored for that table can be matched to the rows.
    """

    explainer: str
    output_space: str
    outputs: list[str]
    feature_names: list[str]
    values: list
    base_values: list[float]
    data: list[dict]
    model_output: list
    note: Message | str = ""
    tokens: list[list[str]] | None = None
    row_base_values: list | None = None
    classes: list[str] | None = None
    positions: list[int] | None = None

    @property
    def is_text(self) -> bool:
        """Whether this explains a text model: values per token rather than per column."""
        return self.tokens is not None

    @cached_property
    def _array(self) -> np.ndarray:
        # Plots ask for values many times; convert the nested lists once.
        if self.is_text:
            # The text column's contribution is the sum over its tokens.
            return np.array(
                [self.token_values(i).sum(axis=0) for i in range(len(self.values))], dtype=float
            ).reshape(len(self.values), 1, len(self.outputs))
        return np.asarray(self.values, dtype=float).reshape(
            len(self.values), len(self.feature_names), len(self.outputs)
        )

    def token_values(self, index: int) -> np.ndarray:
        """SHAP values of one text row, shape ``(n_tokens, n_outputs)``."""
        if not self.is_text:
            raise ValueError("This explanation has no tokens; it explains a tabular model.")
        self._check_row(index)
        return np.asarray(self.values[index], dtype=float).reshape(-1, len(self.outputs))

    def base_value(self, index: int, output: int | str = 0) -> float:
        """The base value of row ``index`` for ``output``."""
        self._check_row(index)
        k = self.output_index(output)
        if self.row_base_values is not None:
            return float(self.row_base_values[index][k])
        return float(self.base_values[k])

    def _check_row(self, index: int) -> None:
        if not -len(self.values) <= index < len(self.values):
            raise ValueError(
                f"Row {index} is out of range for {len(self.values)} explained row(s)."
            )

    def _bases(self) -> np.ndarray:
        # (n_rows, n_outputs) or (n_outputs,): broadcasts against per-row totals either way.
        if self.row_base_values is not None:
            return np.asarray(self.row_base_values, dtype=float).reshape(-1, len(self.outputs))
        return np.asarray(self.base_values, dtype=float)

    def output_index(self, output: int | str) -> int:
        """Position of ``output`` (an index or an output name) in :attr:`outputs`."""
        if isinstance(output, str):
            if output not in self.outputs:
                raise ValueError(f"Unknown output {output!r}; choose one of {self.outputs}.")
            return self.outputs.index(output)
        if not -len(self.outputs) <= int(output) < len(self.outputs):
            raise ValueError(f"Output {output} is out of range for {len(self.outputs)} output(s).")
        return int(output) % len(self.outputs)

    def values_array(self, output: int | str = 0) -> np.ndarray:
        """SHAP values of one output as an array of shape ``(n_rows, n_features)``.

        For text the one feature's value is the sum over the row's tokens.
        """
        return self._array[:, :, self.output_index(output)]

    def additivity_error(self) -> float:
        """Largest ``|base + sum(values) - model_output|`` over rows and outputs."""
        if not self.values:
            return 0.0
        total = self._bases() + self._array.sum(axis=1)
        return float(np.abs(total - np.asarray(self.model_output, dtype=float)).max())

    def global_importance(self, output: int | str | None = None) -> list[tuple[str, float]]:
        """Mean absolute SHAP value per feature (for text, per token), largest first.

        For text, tokens are lower-cased and stripped, and a token's score is its
        absolute SHAP value summed within each row and averaged over the explained
        rows (0 where it does not occur), as for a column.

        Parameters
        ----------
        output : int, str or None
            The output to rank features for; ``None`` sums the importance over outputs.
        """
        if self.is_text:
            return self._token_importance(output)
        mean_abs = np.abs(self._array).mean(axis=0)
        scores = mean_abs.sum(axis=1) if output is None else mean_abs[:, self.output_index(output)]
        order = np.argsort(-scores, kind="stable")
        return [(self.feature_names[i], float(scores[i])) for i in order]

    def _token_importance(self, output: int | str | None) -> list[tuple[str, float]]:
        k = None if output is None else self.output_index(output)
        totals: dict[str, float] = {}
        for i, tokens in enumerate(self.tokens or []):
            magnitude = np.abs(self.token_values(i))
            scores = magnitude.sum(axis=1) if k is None else magnitude[:, k]
            for token, score in zip(tokens, scores, strict=True):
                key = token.strip().lower()
                if key:
                    totals[key] = totals.get(key, 0.0) + float(score)
        n_rows = max(len(self.values), 1)
        # Ties keep first-seen order, so the ranking is reproducible.
        ranked = sorted(totals.items(), key=lambda item: -item[1])
        return [(token, total / n_rows) for token, total in ranked]

    def row(self, index: int, output: int | str = 0) -> list[tuple[str, Any, float]]:
        """``(feature, value, contribution)`` of one explained row, largest first.

        For text each token is one entry: ``(text_column, token, contribution)``,
        the token stripped of surrounding spaces.
        """
        self._check_row(index)
        if self.is_text:
            contributions = self.token_values(index)[:, self.output_index(output)]
            tokens = self.tokens[index]  # type: ignore[index]
            order = np.argsort(-np.abs(contributions), kind="stable")
            column = self.feature_names[0]
            return [(column, tokens[i].strip(), float(contributions[i])) for i in order]
        contributions = self.values_array(output)[index]
        record = self.data[index]
        order = np.argsort(-np.abs(contributions), kind="stable")
        return [
            (self.feature_names[i], record[self.feature_names[i]], float(contributions[i]))
            for i in order
        ]

    def subset(self, rows: int | Sequence[int]) -> Explanation:
        """The explanation of some of the rows only (one index or a list of them).

        A text explanation of one row gets that row's base value as ``base_values``.
        """
        picked = [rows] if isinstance(rows, (int, np.integer)) else list(rows)
        for i in picked:
            self._check_row(int(i))
        picked = [int(i) for i in picked]
        row_bases = None
        base_values = list(self.base_values)
        if self.row_base_values is not None:
            row_bases = [list(self.row_base_values[i]) for i in picked]
            if row_bases:
                base_values = np.asarray(row_bases, dtype=float).mean(axis=0).tolist()
        return dataclasses.replace(
            self,
            values=[self.values[i] for i in picked],
            data=[self.data[i] for i in picked],
            model_output=[self.model_output[i] for i in picked],
            tokens=None if self.tokens is None else [self.tokens[i] for i in picked],
            base_values=base_values,
            row_base_values=row_bases,
            positions=None if self.positions is None else [self.positions[i] for i in picked],
        )


def import_shap() -> Any:
    """``import shap``, without the deprecation warnings its own imports raise."""
    with warnings.catch_warnings():
        # shap 0.51 builds its colour maps with matplotlib calls that warn on import.
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        import shap
    return shap


def compile_shap(stop: Callable[[], bool] | None = None, only: str | None = None) -> None:
    """Compile shap's numba code now instead of in the first explanation that needs it.

    The Partition and Permutation explainers (token SHAP, and SHAP for models
    without an explainer of their own) compile their inner loops on first use,
    about 5 s per process; a spare worker calls this while it waits for a job.
    Both output shapes are compiled: one output per row, and several. ``only``
    (``"partition"`` or ``"permutation"``) compiles that explainer's code alone. numpy's
    global random state, which shap reseeds, is left as it was. ``stop`` is asked
    before each compilation: True leaves the rest for later (a job came).
    """
    shap = import_shap()
    data = np.random.default_rng(0).normal(size=(8, 4))

    def one(x: np.ndarray) -> np.ndarray:
        return x.sum(axis=1)

    def several(x: np.ndarray) -> np.ndarray:
        return np.stack([x.sum(axis=1), -x.sum(axis=1)], axis=1)

    explainers = {
        "partition": lambda f: shap.PartitionExplainer(f, shap.maskers.Partition(data)),
        "permutation": lambda f: shap.PermutationExplainer(f, shap.maskers.Independent(data)),
    }
    # The most used first: token SHAP scores a table of outputs even for yes/no models;
    # model-agnostic SHAP of a yes/no or regression model one output per row.
    plan = [
        ("partition", several),
        ("permutation", one),
        ("partition", one),
        ("permutation", several),
    ]
    state = np.random.get_state()
    try:
        for explainer, outputs in plan:
            if only is not None and explainer != only:
                continue
            if stop is not None and stop():
                return
            explainers[explainer](outputs)(data[:1], silent=True)
    finally:
        np.random.set_state(state)


def summarize(expl: Explanation, *, top: int = 20) -> dict[str, Any]:
    """A small JSON summary of an explanation: the top features (text: tokens) per output.

    Parameters
    ----------
    expl : Explanation
        The explanation to summarise.
    top : int
        How many features to keep per output.
    """
    if top < 1:
        raise ValueError(f"top must be at least 1, got {top}.")
    return {
        "explainer": expl.explainer,
        "output_space": expl.output_space,
        "outputs": list(expl.outputs),
        "importance": {
            name: [[feature, score] for feature, score in expl.global_importance(name)[:top]]
            for name in expl.outputs
        },
        "n_rows": len(expl.values),
    }


def output_names(model: Any) -> list[str]:
    """Names of the outputs ``model.raw_output`` returns, in order."""
    if model.task == "binary":
        return [str(model.classes_[1])]
    if model.task == "multiclass":
        return [str(c) for c in model.classes_]
    return [str(getattr(model, "target_name_", None) or "prediction")]


def class_names(model: Any) -> list[str] | None:
    """Every class of a classifier as text, in the model's order; None for regression."""
    if model.task == "regression":
        return None
    return [str(c) for c in model.classes_]


def as_outputs(array: Any, n_rows: int) -> np.ndarray:
    """Model outputs as a float array of shape ``(n_rows, n_outputs)``."""
    return np.asarray(array, dtype=float).reshape(n_rows, -1)


def group_matrix(model: Any, n_columns: int) -> np.ndarray | None:
    """0/1 matrix mapping transformed columns onto original ones; ``None`` if one-to-one."""
    groups = model.feature_groups_
    names = list(model.feature_names_in_)
    if n_columns == len(names) and all(list(groups[c]) == [i] for i, c in enumerate(names)):
        return None
    matrix = np.zeros((n_columns, len(names)))
    for j, name in enumerate(names):
        matrix[groups[name], j] = 1.0
    if not (matrix.sum(axis=1) == 1).all():
        raise ValueError(
            "model.feature_groups_ must assign every transformed column to one feature."
        )
    return matrix


def to_original(model: Any, values: np.ndarray) -> np.ndarray:
    """SHAP values on ``model.transform``'s columns summed onto the original columns.

    Takes ``(n_rows, n_columns)`` or ``(n_rows, n_columns, n_outputs)`` and returns
    ``(n_rows, n_features, n_outputs)``.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim == 2:
        values = values[:, :, None]
    matrix = group_matrix(model, values.shape[1])
    if matrix is None:
        return values
    # (n, k, columns) @ (columns, features): one matrix product sums every one-hot group.
    return np.matmul(values.transpose(0, 2, 1), matrix).transpose(0, 2, 1)


def build(
    model: Any,
    X: pd.DataFrame,
    values: np.ndarray,
    base_values: Any,
    model_output: Any,
    *,
    explainer: str,
    output_space: str,
    note: Message | str = "",
) -> Explanation:
    """Assemble an :class:`Explanation` from values on the model's original columns.

    Parameters
    ----------
    model : LeptonModel
        The fitted model, for its original columns and output names.
    X : DataFrame
        The explained rows, original columns.
    values : ndarray
        SHAP values, ``(n_rows, n_features)`` or ``(n_rows, n_features, n_outputs)``.
    base_values, model_output
        Expected output per output, and the model output per row.
    explainer, output_space, note : str
        Recorded as given.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim == 2:
        values = values[:, :, None]
    names = output_names(model)
    base = np.asarray(base_values, dtype=float).reshape(-1)
    expected = (len(X), len(model.feature_names_in_), len(names))
    if values.shape != expected or base.shape[0] != len(names):
        raise ValueError(
            f"Got SHAP values of shape {values.shape} and {base.shape[0]} base value(s),"
            f" expected {expected} and {len(names)}."
        )
    return Explanation(
        explainer=explainer,
        output_space=output_space,
        outputs=names,
        feature_names=list(model.feature_names_in_),
        values=values.tolist(),
        base_values=base.tolist(),
        data=records(X),
        model_output=as_outputs(model_output, len(X)).tolist(),
        note=note,
        classes=class_names(model),
    )


def records(X: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of ``X`` as JSON-friendly dicts, missing values as ``None``.

    Numbers, booleans and text keep their type; anything else (dates, say) is shown as text.
    """
    api = pd.api.types
    shown = {
        column: values.astype(str).where(values.notna())
        for column, values in X.items()
        if not (api.is_numeric_dtype(values) or api.is_string_dtype(values))
    }
    frame = X.assign(**shown) if shown else X
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def sample_positions(n_rows: int, n: int, seed: int) -> np.ndarray:
    """Positions of at most ``n`` of ``n_rows`` rows, a seeded sample in increasing order."""
    if n_rows <= n:
        return np.arange(n_rows)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_rows, size=n, replace=False))


def sample_rows(X: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """At most ``n`` rows of ``X``, a seeded sample kept in the original order."""
    if len(X) <= n:
        return X
    return X.iloc[sample_positions(len(X), n, seed)]


def in_chunks(n_rows: int, size: int, progress: ExplainProgress | None) -> Iterator[slice]:
    """Row slices of at most ``size`` rows, for a strategy to explain one at a time.

    ``progress(done, n_rows)`` hears after each slice has been explained; when it
    returns True the loop ends early, and the strategy explains the rows done so far.
    """
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}.")
    for start in range(0, n_rows, size):
        stop = min(start + size, n_rows)
        yield slice(start, stop)
        if progress is not None and progress(stop, n_rows):
            return


def take_rows(table: Any, rows: slice) -> Any:
    """Rows of a model input, whether a DataFrame, an array or a sparse matrix."""
    return table.iloc[rows] if isinstance(table, pd.DataFrame) else table[rows]
