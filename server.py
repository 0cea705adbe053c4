"""The notebook's web server: the pages of ``app.py`` behind security headers.

Run it with ``streamlit run server.py``. Streamlit serves ``app.py`` as usual;
this ASGI wrapper (``st.App``) adds :data:`lepton_core.serving.NOTEBOOK_HEADERS`
to every response, so no other site can frame the notebook and steer a user's
clicks. ``streamlit run app.py`` still works, without those headers. In team mode
(``docs/team.md``) it also tells the page why a sign-in came back without a user.
It also caps the process's malloc arenas, so its memory stays flat over a long session
(:func:`lepton_core.core.limit_malloc_arenas`).
"""

from lepton_core.core import limit_malloc_arenas

limit_malloc_arenas()  # before the server's threads allocate

import streamlit as st  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402

from app_pages._signin import SignInOutcome  # noqa: E402
from lepton_core.serving import NOTEBOOK_HEADERS, SecurityHeaders  # noqa: E402

app = st.App(
    "app.py",
    middleware=[
        Middleware(SecurityHeaders, headers=NOTEBOOK_HEADERS),
        Middleware(SignInOutcome),
    ],
)
