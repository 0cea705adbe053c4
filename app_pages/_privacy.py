"""Privacy widgets and figures shared by the pages, in plain words.

Each privacy term a spreadsheet user may not know has one plain sentence here
(:data:`PLAIN`), used as the widget's ``help`` wherever the term appears; the
technical details sit in an "expert details" expander.
"""

from __future__ import annotations

import streamlit as st

from lepton_core.dp import PrivacyOptions, PrivacyReport, default_delta

#: One plain sentence per privacy term, for ``help=`` and captions on any page.
PLAIN = {
    "dp": "Differential privacy adds carefully sized random noise while the model learns, so "
    "that the model reveals almost nothing about any one row; it usually costs some accuracy.",
    "epsilon": "Privacy budget (ε): lower is more private. About 1 is strong privacy, 3–8 is "
    "common, above 10 protects little.",
    "delta": "The small chance (δ) that the privacy promise does not hold; keep it well below "
    "one divided by the number of rows.",
    "clipping": "How much any one row may change the model in a training step; smaller "
    "limits each person's influence more but may learn more slowly.",
    "k_anonymity": "k-anonymity: every combination of the columns that could identify someone "
    "(age, ZIP code, sex…) is shared by at least k rows, so no row stands out on its own.",
    "quasi_identifier": "A quasi-identifier is a column that does not name anyone by itself "
    "(age, ZIP code, job) but can single a person out when combined with others.",
}


def dp_options(n_rows: int, note: str = "") -> PrivacyOptions | None:
    """The Train page's differential-privacy inputs; None unless the person turns it on.

    ``note`` is what the family says about training it privately.
    """
    with st.expander("Differential privacy", icon=":material/shield_lock:"):
        if not st.toggle("Train with differential privacy", help=PLAIN["dp"]):
            st.caption(PLAIN["dp"])
            return None
        d1, d2, d3 = st.columns(3)
        options = PrivacyOptions(
            epsilon=d1.number_input(
                "Privacy budget ε (lower is more private)",
                0.1,
                50.0,
                3.0,
                step=0.5,
                help=PLAIN["epsilon"],
            ),
            delta=d2.number_input(
                "Chance the promise fails (δ)",
                1e-12,
                0.1,
                value=None,
                format="%.0e",
                placeholder=f"{default_delta(n_rows):.0e} (1 / rows, rounded down)",
                help=PLAIN["delta"],
            ),
            max_grad_norm=d3.number_input(
                "Limit on one row's influence", 0.01, 100.0, 1.0, help=PLAIN["clipping"]
            ),
        )
        st.caption(
            "The noise is sized to reach the privacy budget you set; the budget actually spent "
            "is shown with the model."
        )
        with st.expander("Expert details"):
            st.markdown(
                "DP-SGD with Opacus: Poisson sampling, per-sample gradient clipping at the "
                "influence limit (the clipping norm), Gaussian noise calibrated to the target ε "
                "at the given δ. " + note.strip()
            )
        return options


def privacy_row(report: PrivacyReport) -> None:
    """ε spent and how it was reached, next to the accuracy figures."""
    c = st.columns(5)
    c[0].metric(
        "Privacy budget spent (ε)",
        f"{report.epsilon:.2f}",
        help=f"Lower is more private; you asked for at most {report.epsilon_target:g}. The "
        "larger of the "
        + " and ".join(f"{k.upper()} ({v:.3f})" for k, v in report.epsilon_by_accountant.items())
        + " accountants' figures.",
    )
    c[1].metric("Chance the promise fails (δ)", f"{report.delta:.0e}", help=PLAIN["delta"])
    c[2].metric(
        "Noise level",
        f"{report.noise_multiplier:.2f}",
        help="How much random noise was added per step, relative to the influence limit "
        "(expert: the noise multiplier σ); more noise, more privacy.",
    )
    c[3].metric(
        "Share of rows per step",
        f"{report.sample_rate:.4f}",
        help="Each training step uses a random share of the rows (expert: Poisson sampling rate).",
    )
    c[4].metric(
        "Steps",
        f"{report.steps:,}",
        help=f"Training steps taken, of {report.planned_steps:,} planned.",
    )
    st.caption(
        f"Trained with differential privacy (Opacus, {report.accountant.upper()} accountant, "
        f"per-sample clipping at {report.max_grad_norm:g}, expected batch "
        f"{report.expected_batch_size:,} of {report.n_train:,} rows). " + " ".join(report.notes)
    )
