"""Who may do what in a team workspace: roles from one small TOML file.

A team runs Lepton behind sign-in (OIDC); the signed-in e-mail address and the groups
the sign-in service lists for it map to a role through the *team file*, by default
``<workspace>/team.toml`` (``LEPTON_TEAM_FILE`` names another)::

    # Patterns match e-mail addresses (* and ? as in file names, any case);
    # "group:NAME" matches a group in the sign-in token's groups claim.
    admins = ["ana@example.org"]
    editors = ["*@example.org", "group:ml-team"]
    viewers = ["*"]
    groups_claim = "groups"    # the token claim that lists a user's groups
    sign_in_hours = 12         # after this long, everyone signs in again

The highest role any pattern grants wins; an address no pattern matches has no role.
"""

from __future__ import annotations

import enum
import fnmatch
import os
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lepton_core.core import WorkspaceError

__all__ = ["Role", "TeamConfig", "team_file"]

TEAM_FILE_ENV = "LEPTON_TEAM_FILE"
_GROUP = "group:"
_KEYS = {"admins", "editors", "viewers", "groups_claim", "sign_in_hours"}


class Role(enum.IntEnum):
    """What a member may do; each role may do everything the ones below it may."""

    VIEWER = 1  # dashboard, evaluate, explain, model cards
    EDITOR = 2  # also data, train, mitigate, publish, share links, own API keys
    ADMIN = 3  # also members and roles, every key and link, the audit log

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class TeamConfig:
    """The team file's contents: who has which role, and how long a sign-in lasts."""

    admins: tuple[str, ...] = ()
    editors: tuple[str, ...] = ()
    viewers: tuple[str, ...] = ()
    groups_claim: str = "groups"
    sign_in_hours: float = 12.0

    @classmethod
    def load(cls, path: str | os.PathLike) -> TeamConfig:
        """Read a team file; a missing file gives nobody a role."""
        path = Path(path)
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise WorkspaceError(
                f"The team file {path} cannot be read ({exc}); fix it as docs/team.md shows."
            ) from None
        unknown = sorted(set(raw) - _KEYS)
        if unknown:
            raise WorkspaceError(
                f"The team file {path} has unknown settings {', '.join(unknown)}; "
                f"use only {', '.join(sorted(_KEYS))}."
            )
        lists = {}
        for key in ("admins", "editors", "viewers"):
            value = raw.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise WorkspaceError(
                    f"In the team file {path}, {key} must be a list of texts, "
                    'like ["*@example.org"].'
                )
            lists[key] = tuple(v.strip() for v in value if v.strip())
        hours = raw.get("sign_in_hours", cls.sign_in_hours)
        if isinstance(hours, bool) or not isinstance(hours, int | float) or hours <= 0:
            raise WorkspaceError(
                f"In the team file {path}, sign_in_hours must be a number of hours above 0."
            )
        claim = raw.get("groups_claim", cls.groups_claim)
        if not isinstance(claim, str) or not claim:
            raise WorkspaceError(f"In the team file {path}, groups_claim must be a claim's name.")
        return cls(**lists, groups_claim=claim, sign_in_hours=float(hours))

    def role_for(self, email: str | None, groups: Iterable[str] = ()) -> Role | None:
        """The highest role the patterns give this address and these groups, or None."""
        email = (email or "").strip().lower()
        groups = {str(g).strip().lower() for g in groups or ()}
        for role, patterns in (
            (Role.ADMIN, self.admins),
            (Role.EDITOR, self.editors),
            (Role.VIEWER, self.viewers),
        ):
            if any(_matches(p, email, groups) for p in patterns):
                return role
        return None

    @property
    def members(self) -> dict[Role, tuple[str, ...]]:
        """Each role's patterns, highest role first (what the admin page lists)."""
        return {Role.ADMIN: self.admins, Role.EDITOR: self.editors, Role.VIEWER: self.viewers}


def _matches(pattern: str, email: str, groups: set[str]) -> bool:
    pattern = pattern.lower()
    if pattern.startswith(_GROUP):
        return pattern[len(_GROUP) :] in groups
    # An address without an e-mail (a provider that gives none) matches no pattern, not "*".
    return bool(email) and fnmatch.fnmatchcase(email, pattern)


def team_file(root: str | os.PathLike) -> Path:
    """Where the team file of the workspace at ``root`` is."""
    named = os.environ.get(TEAM_FILE_ENV, "").strip()
    return Path(named).expanduser() if named else Path(root) / "team.toml"
