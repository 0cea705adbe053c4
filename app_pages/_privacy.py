"""Privacy figures shared by the Train and Evaluate pages."""

from __future__ import annotations

import streamlit as st

from lepton_core.dp import PrivacyReport


def privacy_row(report: PrivacyReport) -> None:
    """ε spent and how it was reached, next to the accuracy figures."""
    c = st.columns(5)
    c[0].metric(
        "Privacy ε spent",
        f"{report.epsilon:.2f}",
        help=f"Target {report.epsilon_target:g}. The larger of the "
        + " and ".join(f"{k.upper()} ({v:.3f})" for k, v in report.epsilon_by_accountant.items())
        + " accountants' figures; smaller is more private.",
    )
    c[1].metric("δ", f"{report.delta:.0e}")
    c[2].metric("Noise multiplier σ", f"{report.noise_multiplier:.2f}")
    c[3].metric("Sampling rate", f"{report.sample_rate:.4f}", help="Poisson sampling per step.")
    c[4].metric("Steps", f"{report.steps:,}", help=f"of {report.planned_steps:,} planned")
    st.caption(
        f"Trained with differential privacy (Opacus, {report.accountant.upper()} accountant, "
        f"per-sample clipping at {report.max_grad_norm:g}, expected batch "
        f"{report.expected_batch_size:,} of {report.n_train:,} rows). " + " ".join(report.notes)
    )
