"""Lepton: the Streamlit router over the five steps and the shared demo page."""

from __future__ import annotations

from urllib.parse import urlparse

import streamlit as st

from app_pages._common import Keys, current_dataset, workspace

st.set_page_config(page_title="Lepton", page_icon=":material/scatter_plot:", layout="wide")

STEPS = [
    st.Page("app_pages/data.py", title="1 · Data", icon=":material/table:", default=True),
    st.Page("app_pages/train.py", title="2 · Train", icon=":material/model_training:"),
    st.Page("app_pages/evaluate.py", title="3 · Evaluate", icon=":material/balance:"),
    st.Page("app_pages/explain.py", title="4 · Explain", icon=":material/lightbulb:"),
    st.Page("app_pages/deploy.py", title="5 · Deploy", icon=":material/rocket_launch:"),
]
DEMO = st.Page("app_pages/demo.py", title="Demo", icon=":material/share:", url_path="demo")

# A visitor opening a share link sees the demo page alone, without the notebook around it.
# The menu is drawn here with page links (config hides Streamlit's own list of pages/).
visitor = urlparse(st.context.url or "").path.rstrip("/").endswith("/demo")
page = st.navigation([*STEPS, DEMO], position="hidden")

if not visitor:
    with st.sidebar:
        st.markdown("## :material/scatter_plot: Lepton")
        for step in STEPS:
            st.page_link(step)
        st.divider()
        dataset = current_dataset()
        st.caption(f"Workspace: `{workspace().root}`")
        if dataset is not None:
            st.caption(f"Data set: **{dataset.name}** · target `{dataset.target}` ({dataset.task})")
st.session_state[Keys.ROUTED] = True
page.run()
