"""Team (admins): who may do what in this workspace, and what everyone did."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages._common import header, workspace
from app_pages._i18n import tr
from app_pages._team import role_name, team_config
from lepton_core.workspace import AuditLog, team_file

header(
    tr("Team"),
    tr(
        "Who may do what in this workspace. Roles come from the team file; an edit there "
        "applies at everyone's next click."
    ),
)

path = team_file(workspace().root)
config = team_config(workspace().root)
st.subheader(tr("Members"))
st.caption(
    tr(
        "Team file: `{path}` · \\* stands for any text, `group:NAME` for a group of the "
        "sign-in service · a sign-in lasts {hours:g} hours"
    ).format(path=path, hours=config.sign_in_hours)
)
for role, patterns in config.members.items():
    who = ", ".join(f"`{pattern}`" for pattern in patterns) or tr("nobody")
    st.markdown(f"**{role_name(role)}**: {who}")

st.subheader(tr("Audit log"))
st.caption(tr("Who published, shared, keyed or trained what, newest first."))
ACTIONS = {
    "model.published": tr("published a model"),
    "model.withdrawn": tr("withdrew a model"),
    "link.created": tr("created a share link"),
    "link.revoked": tr("revoked a share link"),
    "key.created": tr("created an API key"),
    "key.revoked": tr("revoked an API key"),
    "job.started": tr("started a job"),
}
entries = AuditLog(workspace()).list(limit=500)
if not entries:
    st.info(tr("Nothing has been recorded yet."))
else:
    st.dataframe(
        pd.DataFrame(
            {
                tr("When"): [e.at.astimezone() for e in entries],
                tr("Who"): [e.actor for e in entries],
                tr("Did"): [ACTIONS.get(e.action, e.action) for e in entries],
                tr("What"): [e.target for e in entries],
            }
        ),
        hide_index=True,
        column_config={tr("When"): st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")},
    )
