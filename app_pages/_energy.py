"""Shared parts of every run page (Train, Evaluate, Explain): the energy the run used and
the notebook that trains it again."""

from __future__ import annotations

import streamlit as st

from app_pages._common import workspace
from app_pages._i18n import language, say, tr
from lepton_core.core import LeptonError
from lepton_core.runs import load_energy, notebook_bytes


def energy_line(run_id: str) -> None:
    """ "Energy used: 0.4 Wh (about 0.2 g CO₂, …)" with how it was estimated on hover."""
    report = load_energy(workspace(), run_id)
    if report is not None:
        st.markdown(f":material/bolt: {say(report.sentence())}", help=say(report.method()))


def notebook_button(run_id: str) -> None:
    """ "Download notebook": an .ipynb that trains this run again with lepton_core calls."""
    try:
        data = notebook_bytes(workspace(), run_id, language=language())
    except LeptonError as exc:  # a mitigated or compressed run: say which run to open
        st.caption(say(exc))
        return
    st.download_button(
        tr("Download notebook"),
        data,
        file_name=f"lepton-run-{run_id[:8]}.ipynb",
        mime="application/x-ipynb+json",
        icon=":material/code:",
        help=tr(
            "A Jupyter notebook that loads the same data, trains the same model with the same "
            "settings and seed, and prints these figures again, step by step."
        ),
        key=f"notebook_{run_id}",
    )
