"""What the notebook's server adds to Streamlit's sign-in.

No streamlit import here: server.py loads this before Streamlit's runtime exists.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

__all__ = ["SIGN_IN_OUTCOME", "SignInOutcome"]

#: The query parameter added when a sign-in came back without a signed-in user.
SIGN_IN_OUTCOME = "signin"


class SignInOutcome:
    """ASGI middleware: a sign-in that comes back without a user says why on the page.

    Streamlit's sign-in callback (``/oauth2callback``) sends the browser back to the app
    whether or not the sign-in worked, and logs the reason in the server's log only. When
    its answer sets no user cookie, this adds ``?signin=cancelled`` (the sign-in service
    sent an error, e.g. the user pressed Deny) or ``?signin=refused`` (the code could not
    be exchanged: usually a wrong client secret) to that redirect, which
    ``_team.signed_in_member`` turns into one sentence.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].endswith("/oauth2callback"):
            await self.app(scope, receive, send)
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        outcome = "cancelled" if "error" in query else "refused"

        async def send_with_outcome(message: dict) -> None:
            if message["type"] == "http.response.start" and 300 <= message["status"] < 400:
                headers = message.get("headers", [])
                if not any(_sets_user(name, value) for name, value in headers):
                    message = {
                        **message,
                        "headers": [
                            (
                                name,
                                _with_outcome(value, outcome)
                                if name.lower() == b"location"
                                else value,
                            )
                            for name, value in headers
                        ],
                    }
            await send(message)

        await self.app(scope, receive, send_with_outcome)


def _sets_user(name: bytes, value: bytes) -> bool:
    """Whether a header sets (not clears) Streamlit's signed-in-user cookie."""
    if name.lower() != b"set-cookie" or not value.startswith(b"_streamlit_user"):
        return False
    pair = value.split(b";", 1)[0]
    return pair.split(b"=", 1)[-1].strip(b'"') != b"" and b"max-age=0" not in value.lower()


def _with_outcome(location: bytes, outcome: str) -> bytes:
    parts = urlsplit(location.decode("latin-1"))
    query = parse_qs(parts.query)
    query[SIGN_IN_OUTCOME] = [outcome]
    return urlunsplit(parts._replace(query=urlencode(query, doseq=True))).encode("latin-1")
