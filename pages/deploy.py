"""Step 5 · Deploy: publish a model version and share its demo page."""

from __future__ import annotations

from urllib.parse import urlencode, urlparse

import pandas as pd
import streamlit as st

from lepton_core.reports import load_run_reports
from pages._common import Keys, guard, header, metric_row, python_cell, when, workspace

header(
    "5 · Deploy",
    "Publish a model version to share it: anyone with the link gets a form, the model's "
    "prediction and why it made it, with the accuracy and fairness figures it was trained with.",
)

ws = workspace()
versions = guard(ws.model_versions)
if not versions:
    st.info("There is no trained model yet; train one on the **Train** page first.")
    st.page_link("pages/train.py", label="Go to Train", icon=":material/model_training:")
    st.stop()

refs = [v.ref for v in versions]
by_ref = {v.ref: v for v in versions}
run_id = st.session_state.get(Keys.RUN_ID)
default = next((i for i, v in enumerate(versions) if v.run_id == run_id), 0)
ref = st.selectbox(
    "Model version",
    refs,
    index=default,
    format_func=lambda r: (
        f"{r}{' · published' if by_ref[r].published else ''} · {when(by_ref[r].created)}"
    ),
)
version = by_ref[ref]
reports = guard(load_run_reports, ws, version.run_id)
metric_row(reports.headline())

base = urlparse(st.context.url or "http://localhost:8501")
query = urlencode({"model": version.name, "version": version.version})
link = f"{base.scheme}://{base.netloc}/demo?{query}"
if version.published:
    st.success("This version is published; anyone with the link can use its demo page.")
    st.code(link, language=None)
    st.link_button("Open the demo page", link, icon=":material/open_in_new:")
    if st.button("Withdraw"):
        guard(ws.set_published, version.name, version.version, False)
        st.rerun()
else:
    st.write("This version is not published; its demo link shows nothing until you publish it.")
    if st.button("Publish", type="primary", icon=":material/rocket_launch:"):
        guard(ws.set_published, version.name, version.version, True)
        st.rerun()

with st.expander("All versions"):
    st.dataframe(
        pd.DataFrame(
            {
                "model": [v.ref for v in versions],
                "published": [v.published for v in versions],
                "created": [when(v.created) for v in versions],
                "run": [v.run_id for v in versions],
            }
        ),
        hide_index=True,
    )

python_cell(
    f"""
from lepton_core.scoring import load_bundle
from lepton_core.workspace import Workspace
ws = Workspace()
ws.set_published({version.name!r}, {version.version})
bundle = load_bundle(ws, {version.name!r}, {version.version})
print(bundle.predict([bundle.input_schema.defaults()])[0].label)
"""
)
