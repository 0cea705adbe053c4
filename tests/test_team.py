"""Roles from the team file, and the sign-in outcome the server adds (no browser here)."""

from __future__ import annotations

import asyncio

import pytest

from app_pages._signin import SignInOutcome
from lepton_core.core import WorkspaceError
from lepton_core.workspace import Role, TeamConfig, team_file

TEAM = """
admins = ["Ana@Example.org"]
editors = ["*@example.org", "group:ml-team"]
viewers = ["*"]
groups_claim = "roles"
sign_in_hours = 8
"""


@pytest.fixture
def config(tmp_path) -> TeamConfig:
    path = tmp_path / "team.toml"
    path.write_text(TEAM)
    return TeamConfig.load(path)


def test_the_highest_matching_role_wins_and_case_does_not_matter(config):
    assert config.role_for("ana@EXAMPLE.org") is Role.ADMIN
    assert config.role_for("eve@example.org") is Role.EDITOR
    assert config.role_for("vic@elsewhere.net") is Role.VIEWER
    assert config.role_for("vic@elsewhere.net", ["ML-team"]) is Role.EDITOR
    assert config.sign_in_hours == 8 and config.groups_claim == "roles"


def test_no_pattern_no_role_and_no_address_matches_no_wildcard(tmp_path):
    path = tmp_path / "team.toml"
    path.write_text('editors = ["*@example.org"]\n')
    config = TeamConfig.load(path)
    assert config.role_for("someone@elsewhere.net") is None
    assert config.role_for("", ["anything"]) is None
    assert TeamConfig(viewers=("*",)).role_for(None) is None


def test_a_missing_team_file_gives_nobody_a_role(tmp_path):
    assert TeamConfig.load(tmp_path / "absent.toml").role_for("ana@example.org") is None


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("admins = [", "cannot be read"),
        ('admins = "ana@example.org"', "must be a list of texts"),
        ("sign_in_hours = 0", "sign_in_hours must be a number of hours above 0"),
        ("sign_in_hours = true", "sign_in_hours must be a number"),
        ('owners = ["ana@example.org"]', "unknown settings owners"),
        ('groups_claim = ""', "groups_claim must be a claim's name"),
    ],
)
def test_a_broken_team_file_is_one_clear_sentence(tmp_path, text, says):
    path = tmp_path / "team.toml"
    path.write_text(text)
    with pytest.raises(WorkspaceError, match=says) as caught:
        TeamConfig.load(path)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)


def test_the_team_file_sits_in_the_workspace_unless_named(tmp_path, monkeypatch):
    monkeypatch.delenv("LEPTON_TEAM_FILE", raising=False)
    assert team_file(tmp_path) == tmp_path / "team.toml"
    monkeypatch.setenv("LEPTON_TEAM_FILE", str(tmp_path / "elsewhere.toml"))
    assert team_file(tmp_path) == tmp_path / "elsewhere.toml"


def _callback(query: bytes, headers: list[tuple[bytes, bytes]], path: str = "/oauth2callback"):
    """What the browser gets back from a callback that answered with ``headers``."""

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 302, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    sent = []

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "path": path, "query_string": query}
    asyncio.run(SignInOutcome(app)(scope, None, send))
    return dict(sent[0]["headers"])


def test_a_sign_in_without_a_user_comes_back_saying_why():
    cleared = [(b"location", b"/"), (b"set-cookie", b'_streamlit_user=""; Max-Age=0; Path=/')]
    assert _callback(b"code=x&state=y", cleared)[b"location"] == b"/?signin=refused"
    assert _callback(b"error=access_denied", [(b"location", b"/")])[b"location"] == (
        b"/?signin=cancelled"
    )


def test_a_signed_in_user_and_other_paths_are_left_alone():
    signed = [(b"location", b"/"), (b"set-cookie", b"_streamlit_user=abc; Max-Age=2592000")]
    assert _callback(b"code=x", signed)[b"location"] == b"/"
    assert _callback(b"", [(b"location", b"/")], path="/train")[b"location"] == b"/"
