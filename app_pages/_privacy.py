"""Privacy widgets and figures shared by the pages, in plain words.

Each privacy term a spreadsheet user may not know has one plain sentence here
(:func:`plain_terms`), used as the widget's ``help`` wherever the term appears; the
technical details sit in an "expert details" expander.
"""

from __future__ import annotations

import streamlit as st

from app_pages._i18n import say, tr
from lepton_core.dp import PrivacyOptions, PrivacyReport, default_delta


def plain_terms() -> dict[str, str]:
    """One plain sentence per privacy term, in the reader's language (built per call: the
    module is imported once, but each reader may read another language)."""
    return {
        "dp": tr(
            "Differential privacy adds carefully sized random noise while the model learns, so "
            "that the model reveals almost nothing about any one row; it usually costs some "
            "accuracy."
        ),
        "epsilon": tr(
            "Privacy budget (ε): lower is more private. About 1 is strong privacy, 3–8 is "
            "common, above 10 protects little."
        ),
        "delta": tr(
            "The small chance (δ) that the privacy promise does not hold; keep it well below "
            "one divided by the number of rows."
        ),
        "clipping": tr(
            "How much any one row may change the model in a training step; smaller "
            "limits each person's influence more but may learn more slowly."
        ),
        "k_anonymity": tr(
            "k-anonymity: every combination of the columns that could identify someone "
            "(age, ZIP code, sex…) is shared by at least k rows, so no row stands out on its own."
        ),
        "quasi_identifier": tr(
            "A quasi-identifier is a column that does not name anyone by itself "
            "(age, ZIP code, job) but can single a person out when combined with others."
        ),
    }


def dp_options(n_rows: int, note: str = "") -> PrivacyOptions | None:
    """The Train page's differential-privacy inputs; None unless the person turns it on.

    ``note`` is what the family says about training it privately.
    """
    with st.expander(tr("Differential privacy"), icon=":material/shield_lock:"):
        if not st.toggle(tr("Train with differential privacy"), help=plain_terms()["dp"]):
            st.caption(plain_terms()["dp"])
            return None
        d1, d2, d3 = st.columns(3)
        options = PrivacyOptions(
            epsilon=d1.number_input(
                tr("Privacy budget ε (lower is more private)"),
                0.1,
                50.0,
                3.0,
                step=0.5,
                help=plain_terms()["epsilon"],
            ),
            delta=d2.number_input(
                tr("Chance the promise fails (δ)"),
                1e-12,
                0.1,
                value=None,
                format="%.0e",
                placeholder=tr("{delta:.0e} (1 / rows, rounded down)").format(
                    delta=default_delta(n_rows)
                ),
                help=plain_terms()["delta"],
            ),
            max_grad_norm=d3.number_input(
                tr("Limit on one row's influence"), 0.01, 100.0, 1.0, help=plain_terms()["clipping"]
            ),
        )
        st.caption(
            tr(
                "The noise is sized to reach the privacy budget you set; the budget actually "
                "spent is shown with the model."
            )
        )
        with st.expander(tr("Expert details")):
            st.markdown(
                tr(
                    "DP-SGD with Opacus: Poisson sampling, per-sample gradient clipping at the "
                    "influence limit (the clipping norm), Gaussian noise calibrated to the "
                    "target ε at the given δ. "
                )
                + say(note).strip()
            )
        return options


def privacy_row(report: PrivacyReport) -> None:
    """ε spent and how it was reached, next to the accuracy figures."""
    c = st.columns(5)
    c[0].metric(
        tr("Privacy budget spent (ε)"),
        f"{report.epsilon:.2f}",
        help=tr(
            "Lower is more private; you asked for at most {target:g}. The larger of the "
            "{figures} accountants' figures."
        ).format(
            target=report.epsilon_target,
            figures=tr(" and ").join(
                f"{k.upper()} ({v:.3f})" for k, v in report.epsilon_by_accountant.items()
            ),
        ),
    )
    c[1].metric(
        tr("Chance the promise fails (δ)"), f"{report.delta:.0e}", help=plain_terms()["delta"]
    )
    c[2].metric(
        tr("Noise level"),
        f"{report.noise_multiplier:.2f}",
        help=tr(
            "How much random noise was added per step, relative to the influence limit "
            "(expert: the noise multiplier σ); more noise, more privacy."
        ),
    )
    c[3].metric(
        tr("Share of rows per step"),
        f"{report.sample_rate:.4f}",
        help=tr(
            "Each training step uses a random share of the rows (expert: Poisson sampling rate)."
        ),
    )
    c[4].metric(
        tr("Steps"),
        f"{report.steps:,}",
        help=tr("Training steps taken, of {planned:,} planned.").format(
            planned=report.planned_steps
        ),
    )
    st.caption(
        tr(
            "Trained with differential privacy (Opacus, {accountant} accountant, per-sample "
            "clipping at {clipping:g}, expected batch {batch:,} of {rows:,} rows). "
        ).format(
            accountant=report.accountant.upper(),
            clipping=report.max_grad_norm,
            batch=report.expected_batch_size,
            rows=report.n_train,
        )
        + " ".join(say(note) for note in report.notes)
    )
