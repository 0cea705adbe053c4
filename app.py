"""Lepton: the Streamlit router over the notebook's steps, sign-in in team mode, and the shared
demo page."""

from __future__ import annotations

from urllib.parse import urlparse

import streamlit as st

from app_pages._common import (
    Keys,
    announce_exposure,
    collect_garbage,
    current_dataset,
    exposed_address,
    refusal,
    task_word,
    visitor_session,
    workspace,
)
from app_pages._i18n import language_switch, tr
from app_pages._team import beyond_role, member_box, signed_in_member, team_mode
from lepton_core.workspace import Role

st.set_page_config(page_title="Lepton", page_icon=":material/scatter_plot:", layout="wide")

DATA = st.Page("app_pages/data.py", title=tr("1 · Data"), icon=":material/table:", default=True)
TRAIN = st.Page("app_pages/train.py", title=tr("2 · Train"), icon=":material/model_training:")
EVALUATE = st.Page("app_pages/evaluate.py", title=tr("3 · Evaluate"), icon=":material/balance:")
EXPLAIN = st.Page("app_pages/explain.py", title=tr("4 · Explain"), icon=":material/lightbulb:")
DEPLOY = st.Page("app_pages/deploy.py", title=tr("5 · Deploy"), icon=":material/rocket_launch:")
MONITOR = st.Page("app_pages/monitor.py", title=tr("6 · Monitor"), icon=":material/monitoring:")
DASHBOARD = st.Page("app_pages/dashboard.py", title=tr("Dashboard"), icon=":material/leaderboard:")
TEAM = st.Page("app_pages/team.py", title=tr("Team"), icon=":material/group:")
STEPS = [DATA, TRAIN, EVALUATE, EXPLAIN, DEPLOY, MONITOR, DASHBOARD]
# In team mode, what each role's menu holds: a viewer reads results, an editor makes them,
# an admin also sees the members and the audit log. A page outside the menu cannot run.
MENUS = {
    Role.VIEWER: [DASHBOARD, EVALUATE, EXPLAIN, MONITOR],
    Role.EDITOR: STEPS,
    Role.ADMIN: [*STEPS, TEAM],
}
DEMO = st.Page("app_pages/demo.py", title=tr("Demo"), icon=":material/share:", url_path="demo")
# A visitor's session has the demo page and, at every other address, this sentence.
REFUSED = st.Page(lambda: st.error(refusal()), title="Lepton", url_path="lepton", default=True)

teams = team_mode()
address = exposed_address()
if address is not None and not teams:
    announce_exposure(address)  # once per process, in the server log

# A session that lands on a share link (the demo path, or a token, which only share links
# carry) is a visitor for the rest of the session: it gets the demo page alone, so no other
# page can run in it, whatever it asks for later. A new page load is a new session, judged
# afresh by visitor_session().
landed = urlparse(st.context.url or "").path.rstrip("/").endswith("/demo")
if landed or "token" in st.query_params:
    st.session_state[Keys.VISITOR] = True
visitor = visitor_session()
member = None
if teams and not visitor:
    # Sign-in decides who gets the notebook; without a member this shows the sign-in screen.
    member = signed_in_member(workspace().root)  # jobs, links and keys record who made them
menu = STEPS if member is None else MENUS[member.role]
# A page beyond the member's role answers at its address with one sentence, not the
# page: the page itself is never in this session's navigation, so it cannot run.
beyond = [
    st.Page(lambda: st.info(beyond_role()), title=p.title, url_path=p.url_path)
    for p in [*STEPS, TEAM]
    if p not in menu and member is not None and p.url_path  # the Data page's is the root
]
# The menu is drawn here with page links (config hides Streamlit's own list of pages/).
page = st.navigation([REFUSED, DEMO] if visitor else [*menu, *beyond, DEMO], position="hidden")
if page is DEMO and not visitor:  # the landing URL was not known (AppTest): same rule
    st.session_state[Keys.VISITOR] = visitor = True
    page = st.navigation([REFUSED, DEMO], position="hidden")

if not visitor:
    with st.sidebar:
        st.markdown("## :material/scatter_plot: Lepton")
        for step in menu:
            st.page_link(step)
        st.divider()
        if member is not None:
            member_box(member)
        language_switch()
        st.caption(tr("Workspace: `{path}`").format(path=workspace().root))
        dataset_line = st.empty()


def show_dataset() -> None:
    """Name the session's data set in the sidebar."""
    if (dataset := current_dataset()) is not None:
        dataset_line.caption(
            tr("Data set: **{name}** · target `{target}` ({task})").format(
                name=dataset.name, target=dataset.target, task=task_word(dataset.task)
            )
        )


# Named before the page runs: a page that calls st.stop() can draw nothing after it.
if not visitor:
    show_dataset()
dataset_before_page = st.session_state.get(Keys.DATASET_ID)
st.session_state[Keys.ROUTED] = True
try:
    page.run()
finally:  # a page that stops early (st.stop, st.rerun) counts too
    collect_garbage()
    # The Data page may have just chosen another data set (after a stop, this stops too).
    if not visitor and st.session_state.get(Keys.DATASET_ID) != dataset_before_page:
        show_dataset()
