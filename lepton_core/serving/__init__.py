"""The REST API over a workspace's registered models (FastAPI), with API keys.

One router per resource (health, models, predictions, Open Inference Protocol v2),
joined by :func:`create_app`; :func:`serve` runs it under uvicorn.
"""

from lepton_core.serving._app import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    NOTEBOOK_HEADERS,
    SECURITY_HEADERS,
    SecurityHeaders,
    create_app,
    serve,
)
from lepton_core.serving._client import (
    TryResult,
    api_examples,
    try_predict,
)
from lepton_core.serving._state import (
    MAX_BODY_BYTES,
    MAX_EXPLAIN_RECORDS,
)

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "MAX_BODY_BYTES",
    "MAX_EXPLAIN_RECORDS",
    "NOTEBOOK_HEADERS",
    "SECURITY_HEADERS",
    "SecurityHeaders",
    "TryResult",
    "api_examples",
    "create_app",
    "serve",
    "try_predict",
]
