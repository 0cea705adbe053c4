"""Team mode: sign-in with Streamlit's ``st.login`` (OIDC) and roles from the team file.

Without an ``[auth]`` section in Streamlit's secrets (``.streamlit/secrets.toml``) Lepton
is one local owner's notebook, with no sign-in, as always. With one (or with
``LEPTON_AUTH=oidc``), every notebook page needs a signed-in member with a role from the
team file (:mod:`lepton_core.workspace._team`); share-link visitors still need nothing.
``docs/team.md`` shows the set-up.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import streamlit as st

from app_pages._i18n import tr
from app_pages._signin import SIGN_IN_OUTCOME
from lepton_core.core import LeptonError
from lepton_core.workspace import Role, TeamConfig, team_file

__all__ = [
    "Member",
    "actor",
    "beyond_role",
    "may",
    "member_box",
    "role_name",
    "signed_in_member",
    "team_config",
    "team_mode",
]

AUTH_ENV = "LEPTON_AUTH"
_MEMBER = "member"  # session state: the signed-in Member, set by the router


@dataclass(frozen=True)
class Member:
    """Who this session is: the signed-in address and the role the team file gives it."""

    email: str
    name: str
    role: Role


def _auth_section() -> dict[str, Any] | None:
    try:
        section = st.secrets.get("auth")
    except FileNotFoundError:  # no secrets file at all: Streamlit's StreamlitSecretNotFoundError
        return None
    return dict(section) if section else None


def team_mode() -> bool:
    """Whether this server runs for a team: sign-in is configured or asked for."""
    return _auth_section() is not None or os.environ.get(AUTH_ENV, "").lower() == "oidc"


def _providers(section: dict[str, Any]) -> list[str | None]:
    """The sign-in services configured: None for the single flat one, else their names."""
    named = [name for name, value in section.items() if isinstance(value, dict)]
    return named or [None]


@st.cache_data(show_spinner=False, max_entries=4)
def _team_config(path: str, stamp: float) -> TeamConfig:
    # Keyed on the file's modification time, so an admin's edit applies at the next click.
    return TeamConfig.load(path)


def team_config(root: os.PathLike | str) -> TeamConfig:
    """The workspace's team file, read again whenever it changes."""
    path = team_file(root)
    try:
        stamp = path.stat().st_mtime
    except OSError:
        stamp = 0.0
    return _team_config(str(path), stamp)


def _sign_in_screen(section: dict[str, Any], message: str | None = None) -> None:
    """Lepton's front door in team mode: one button per sign-in service, then stop."""
    st.title("Lepton")
    st.write(tr("Sign in to open your team's workspace."))
    if message:
        st.error(message)
    for provider in _providers(section):
        label = (
            tr("Sign in") if provider is None else tr("Sign in with {name}").format(name=provider)
        )
        if st.button(label, type="primary", icon=":material/login:", key=f"login-{provider}"):
            if provider is None:
                st.login()
            else:
                st.login(provider)
    st.stop()


def _outcome_message() -> str | None:
    """The sentence for a sign-in that came back without a signed-in user (server.py)."""
    outcome = st.query_params.get(SIGN_IN_OUTCOME)
    if outcome == "refused":
        return tr(
            "The sign-in service did not accept Lepton's client ID or secret; ask your admin "
            "to check the [auth] section of .streamlit/secrets.toml as docs/team.md shows."
        )
    if outcome == "cancelled":
        return tr("Sign-in was cancelled or refused by the sign-in service; try again.")
    return None


def signed_in_member(root: os.PathLike | str) -> Member:
    """This session's member; anything short of one shows the sign-in screen and stops."""
    section = _auth_section()
    if section is None:
        st.error(
            tr(
                "Team sign-in is on (LEPTON_AUTH=oidc) but .streamlit/secrets.toml has no [auth] "
                "section; add one as docs/team.md shows."
            )
        )
        st.stop()
    if not st.user.is_logged_in:
        _sign_in_screen(section, _outcome_message())
    try:
        config = team_config(root)
    except LeptonError as exc:
        st.error(str(exc))
        st.stop()
    signed_in_at = st.user.get("iat")
    if (
        isinstance(signed_in_at, int | float)
        and time.time() - signed_in_at > config.sign_in_hours * 3600
    ):
        _sign_in_screen(section, tr("Your sign-in has expired; sign in again to go on."))
    email = str(st.user.get("email") or "")
    groups = st.user.get(config.groups_claim) or ()
    role = config.role_for(email, groups if isinstance(groups, list | tuple) else [groups])
    if role is None:
        st.title("Lepton")
        st.error(
            tr(
                "Your account {email} has no role in this workspace; ask an admin to add it "
                "to the team file."
            ).format(email=email or tr("(no e-mail address)"))
        )
        if st.button(tr("Sign out"), icon=":material/logout:"):
            st.logout()
        st.stop()
    member = Member(email=email, name=str(st.user.get("name") or email), role=role)
    st.session_state[_MEMBER] = member
    return member


def actor() -> str:
    """Who this session is, as jobs, links, keys and the audit log record it: the signed-in
    member's address, or "" (the local owner) without sign-in."""
    member = st.session_state.get(_MEMBER)
    return member.email if member is not None else ""


def may(role: Role) -> bool:
    """Whether this session may do what ``role`` may (always, for the local owner)."""
    member = st.session_state.get(_MEMBER)
    return member is None or member.role >= role


def beyond_role() -> str:
    """What a page beyond this member's role says at its address."""
    return tr(
        "Your role in this workspace does not include this page; ask an admin if you need it."
    )


def member_box(member: Member) -> None:
    """The sidebar's 'signed in as' line and the sign-out button."""
    st.caption(
        tr("Signed in as **{name}** · {role}").format(name=member.name, role=role_name(member.role))
    )
    if st.button(tr("Sign out"), icon=":material/logout:", key="logout"):
        st.logout()


def role_name(role: Role) -> str:
    """A role as the reader says it."""
    return {Role.VIEWER: tr("viewer"), Role.EDITOR: tr("editor"), Role.ADMIN: tr("admin")}[role]
