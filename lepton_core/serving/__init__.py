"""serving."""

from lepton_core.serving._app import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    MAX_BODY_BYTES,
    MAX_EXPLAIN_RECORDS,
    TryResult,
    api_examples,
    create_app,
    serve,
    try_predict,
)

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "MAX_BODY_BYTES",
    "MAX_EXPLAIN_RECORDS",
    "TryResult",
    "api_examples",
    "create_app",
    "serve",
    "try_predict",
]
