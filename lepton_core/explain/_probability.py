"""SHAP values in log-odds turned into contributions to the predicted probability.

TreeSHAP, linear SHAP and token SHAP explain a classifier's margin (log-odds, or
one logit per class), where the values add up exactly; a reader wants chances.
shap's own ``model_output="probability"`` needs interventional TreeSHAP, which
refuses LightGBM's categorical splits, so Lepton converts instead, the same way
for every explainer:

The row's margin moves from the base value ``b`` to ``f = b + sum_j phi_j``. Walk
that straight line, ``z(t) = b + t (f - b)`` for ``t`` from 0 to 1, and credit
each feature with its share of every small step in probability: feature ``j``
gets ``c_jk = sum_m [integral_0^1 J_km(z(t)) dt] phi_jm``, where ``J`` is the
Jacobian of the link (softmax: ``diag(p) - p p^T``). Summed over features this
is ``integral dp_k/dt dt = p_k(f) - p_k(b)``, so the contributions add up to the
predicted probability from the base probability ``p(b)``: additivity is kept.

- Binary (log-odds, the logistic link): the integral is the secant slope, so every
  value is scaled by one factor per row, ``(sigmoid(f) - sigmoid(b)) / (f - b)``:
  signs and ranks are kept and the result is exact.
- Multiclass (softmax): the integral is computed with Gauss-Legendre quadrature
  and the tiny quadrature remainder is spread over the features in proportion to
  their size, so the values add up exactly; each feature's contributions over the
  classes sum to zero, as the probabilities sum to one.

This is an approximation of Shapley values of the probability (those would need
the model evaluated on masked inputs in probability space): it is the linear
"rescale" rule applied to the link function. The base value becomes
``sigmoid(b)`` (``softmax(b)``), the chance at the average margin, which is close
to but not the mean predicted probability.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from lepton_core.core import Message
from lepton_core.explain._base import Explanation, join_notes

__all__ = ["LINK_SPACES", "PROBABILITY_NOTE", "to_probability"]

#: The output spaces :func:`to_probability` converts; others are returned as they are.
LINK_SPACES = ("log-odds", "raw score")
PROBABILITY_NOTE = Message("explain.note.probability")
_NODES = 48


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # stable for large |x|


def _softmax(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - x.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def _binary_slopes(b: np.ndarray, f: np.ndarray) -> np.ndarray:
    """``integral_0^1 sigmoid'(b + t (f - b)) dt`` element-wise: the secant slope."""
    delta = f - b
    mid = _sigmoid(0.5 * (b + f))
    slope = mid * (1.0 - mid)  # the limit as f -> b
    moved = np.abs(delta) > 1e-9
    slope = np.where(moved, (_sigmoid(f) - _sigmoid(b)) / np.where(moved, delta, 1.0), slope)
    return slope


def _softmax_path_jacobians(b: np.ndarray, f: np.ndarray) -> np.ndarray:
    """``integral_0^1 J(b + t (f - b)) dt`` per row, shape ``(n, k, k)``."""
    x, w = np.polynomial.legendre.leggauss(_NODES)
    t, w = (x + 1.0) / 2.0, w / 2.0
    z = b[:, None, :] + t[None, :, None] * (f - b)[:, None, :]  # (n, nodes, k)
    p = _softmax(z)
    jac = np.einsum("ntk,km->ntkm", p, np.eye(p.shape[-1])) - p[..., :, None] * p[..., None, :]
    return np.einsum("t,ntkm->nkm", w, jac)


def _convert_row(phi: np.ndarray, b: np.ndarray, space: str) -> tuple[np.ndarray, np.ndarray]:
    """One row's values ``(n_features, k)`` and base ``(k,)`` -> probability contributions."""
    f = b + phi.sum(axis=0)
    if space == "log-odds":
        return phi * _binary_slopes(b, f)[None, :], _sigmoid(b)
    jac = _softmax_path_jacobians(b[None, :], f[None, :])[0]
    out = phi @ jac.T  # c_jk = sum_m J_km phi_jm
    target = _softmax(f) - _softmax(b)
    remainder = target - out.sum(axis=0)
    size = np.abs(out)
    total = size.sum(axis=0)
    share = np.divide(size, total, out=np.zeros_like(size), where=total > 0)
    return out + share * remainder[None, :], _softmax(b)


def to_probability(expl: Explanation) -> Explanation:
    """The explanation with contributions to the predicted probability, in probability units.

    A classifier explained in log-odds (binary) or logits (multiclass) is converted
    as the module docstring describes: base value and model output become
    probabilities and ``base + sum(values) == predicted probability`` still holds.
    Anything else (already probabilities, or a regression's values) comes back as it is.

    Parameters
    ----------
    expl : Explanation
        An explanation from :func:`~lepton_core.explain.explain`.

    Returns
    -------
    Explanation
        A new explanation with ``output_space == "probability"``.
    """
    space = expl.output_space
    if space not in LINK_SPACES:
        return expl
    if space == "log-odds" and len(expl.outputs) != 1:
        raise ValueError("A log-odds explanation has one output, the positive class.")
    k = len(expl.outputs)
    per_row = expl.row_base_values is not None
    values = []
    bases = []
    for i in range(len(expl.values)):
        phi = (
            expl.token_values(i)
            if expl.is_text
            else np.asarray(expl.values[i], dtype=float).reshape(-1, k)
        )
        b = np.array([expl.base_value(i, j) for j in range(k)])
        converted, base = _convert_row(phi, b, space)
        values.append(converted.tolist())
        bases.append(base)
    outputs = np.asarray(expl.model_output, dtype=float).reshape(len(expl.values), k)
    if space == "log-odds":
        model_output = _sigmoid(outputs)
        global_base = _sigmoid(np.asarray(expl.base_values, dtype=float))
    else:
        model_output = _softmax(outputs)
        global_base = _softmax(np.asarray(expl.base_values, dtype=float))
    row_bases = [b.tolist() for b in bases] if per_row else None
    if per_row and bases:
        global_base = np.mean(bases, axis=0)
    return dataclasses.replace(
        expl,
        output_space="probability",
        values=values,
        base_values=np.asarray(global_base, dtype=float).reshape(k).tolist(),
        model_output=model_output.tolist(),
        row_base_values=row_bases,
        note=join_notes(expl.note, PROBABILITY_NOTE),
    )
