"""The REST API: registered models served by FastAPI, with API keys.

``python -m lepton_core serve`` runs :func:`create_app` under uvicorn on
127.0.0.1. Endpoints (every one but health needs ``Authorization: Bearer <key>``):

- ``GET /health``, ``GET /ready``: liveness and readiness;
- ``GET /models``, ``GET /models/{name}/versions/{version}``: models and their
  metadata (input schema, classes, metrics, fairness summary);
- ``POST /models/{name}/versions/{version}/predict`` and ``.../explain``: JSON
  records in, labels and probabilities (and SHAP contributions) out;
- ``POST /models/{name}/versions/{version}/batch``: a table file in, the scored
  table back as CSV;
- ``POST /models/{name}/feedback``: true answers for logged predictions, by the
  ``prediction_id`` each prediction came back with (or by a record key);
- the Open Inference Protocol v2 (``/v2/...``), so KServe, MLServer and Triton
  clients can call the same models.

Each resource is an ``APIRouter`` in its own module (``_health``, ``_models``,
``_predict``, ``_recourse``, ``_feedback``, ``_v2``); this module joins them, and the API key
check and the shared state are dependencies (``_state``).

Every prediction (predict, batch, v2 infer) is logged in the workspace's prediction log
with its latency and the key's id, off the request's path (see
:class:`lepton_core.workspace.PredictionLog`); ``$LEPTON_PREDICTION_LOG=off`` turns that off.

Every response carries :data:`SECURITY_HEADERS` (``nosniff``, ``no-store``, no framing)
and no ``server`` banner; an expired API key gets a 401 that says so.

``version`` is a number or ``latest``. Names and versions never become paths:
they are looked up in the MLflow registry, which refuses anything that is not a
plain name. Bad input gets a 4xx whose message names the field; never a 5xx.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from lepton_core.core import LeptonError, ModelError, WorkspaceError, limit_malloc_arenas
from lepton_core.data import visible_name
from lepton_core.serving import _feedback, _health, _models, _predict, _recourse, _v2
from lepton_core.serving._state import (
    MAX_BODY_BYTES,
    Forbidden,
    ModelCache,
    ServingState,
    Unauthorised,
)
from lepton_core.workspace import ApiKeyStore, Workspace, capture_enabled, prediction_log

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "NOTEBOOK_HEADERS",
    "SECURITY_HEADERS",
    "SecurityHeaders",
    "create_app",
    "serve",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def create_app(
    workspace: Workspace | None = None,
    *,
    require_key: bool = True,
    max_body_bytes: int = MAX_BODY_BYTES,
    runtime: str = "native",
    log_predictions: bool | None = None,
) -> FastAPI:
    """The API over one workspace's registered models.

    Parameters
    ----------
    workspace : Workspace, optional
        Defaults to ``Workspace()`` (``$LEPTON_WORKSPACE``).
    require_key : bool
        Require an API key on every endpoint but health (turn off only for a
        benchmark on loopback).
    max_body_bytes : int
        Larger request bodies get 413.
    runtime : str
        ``"native"`` (the model itself) or ``"onnx"``: predictions come from the model's
        ONNX export run by onnxruntime (explanations still come from the model).
    log_predictions : bool, optional
        Log every prediction in the workspace's prediction log; by default unless
        ``$LEPTON_PREDICTION_LOG`` is ``off``.
    """
    if runtime not in ("native", "onnx"):
        raise ValueError(f"runtime must be 'native' or 'onnx', got {runtime!r}")
    ws = workspace or Workspace()
    app = FastAPI(
        title="Lepton model API",
        version="1",
        description="Predictions, SHAP explanations and metadata of the workspace's models.",
        # No redirects: a path that is not an endpoint is a 404, never another endpoint.
        redirect_slashes=False,
        lifespan=_lifespan,
    )
    app.state.serving = ServingState(
        workspace=ws,
        keys=ApiKeyStore(ws),
        models=ModelCache(ws, runtime),
        runtime=runtime,
        require_key=require_key,
        max_body_bytes=max_body_bytes,
        log=prediction_log(ws)
        if (capture_enabled() if log_predictions is None else log_predictions)
        else None,
    )
    app.add_middleware(_BodyLimit, limit=max_body_bytes)  # type: ignore[arg-type]
    # Added last, so outermost: every answer carries them, 401 and 413 included.
    app.add_middleware(SecurityHeaders)  # type: ignore[arg-type]
    app.add_exception_handler(Unauthorised, _unauthorised)
    app.add_exception_handler(Forbidden, _forbidden)
    app.add_exception_handler(RequestValidationError, _invalid)  # type: ignore[arg-type]
    app.add_exception_handler(LeptonError, _lepton)  # type: ignore[arg-type]
    for router in (
        _health.router,
        _models.router,
        _predict.router,
        _recourse.router,
        _feedback.router,
        _v2.server_router,
        _v2.models_router,
    ):
        app.include_router(router)
    return app


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    # uvicorn re-raises SIGTERM once it has stopped, so the process ends without running
    # atexit: the queued predictions are written here, while the server shuts down.
    log = app.state.serving.log
    if log is not None:
        await asyncio.to_thread(log.flush)


async def _unauthorised(request: Request, exc: Exception) -> JSONResponse:
    detail = getattr(exc, "detail", None) or (
        "A valid API key is required; create one on the Deploy page and send it "
        "as 'Authorization: Bearer <key>'."
    )
    return JSONResponse(
        {"detail": detail},
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )


async def _forbidden(request: Request, exc: Exception) -> JSONResponse:
    return _error(request, getattr(exc, "detail", ""), 403)


async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    first = errors[0] if errors else {}
    # A record's keys are in the location: cut them, and make lone surrogates printable.
    where = ".".join(visible_name(p) for p in first.get("loc", ()) if p != "body") or "body"
    detail = f"Field '{where}': {first.get('msg', 'invalid value')}."
    return _error(request, detail, 422)


async def _lepton(request: Request, exc: LeptonError) -> JSONResponse:
    status = 404 if isinstance(exc, ModelError) else 503 if isinstance(exc, WorkspaceError) else 422
    return _error(request, str(exc), status)


def _error(request: Request, detail: str, status: int) -> JSONResponse:
    # Open Inference Protocol clients expect {"error": ...}; the rest of the API uses FastAPI's.
    key = "error" if request.url.path.startswith("/v2/") else "detail"
    return JSONResponse({key: detail}, status_code=status)


#: Sent with every API response: no MIME sniffing, no caching of predictions or metadata
#: (they may hold personal data), and no framing by another site.
SECURITY_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
}

#: Sent with every response of the notebook (``server.py``): no framing by another site,
#: so a page elsewhere cannot overlay the notebook and steer clicks (clickjacking); its
#: own components may still frame its pages. Its scripts and styles stay cacheable.
NOTEBOOK_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Content-Security-Policy": "frame-ancestors 'self'",
}


class SecurityHeaders:
    """ASGI middleware: add ``headers`` to every HTTP response, replacing any set before."""

    def __init__(self, app: Any, headers: dict[str, str] = SECURITY_HEADERS):
        self.app = app
        self.raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        self.names = {name for name, _ in self.raw}

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                kept = [(k, v) for k, v in headers if k.lower() not in self.names]
                message = {**message, "headers": kept + self.raw}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413, never reading more than that."""

    def __init__(self, app: Any, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        too_big = JSONResponse(
            {"detail": f"The request body is over {self.limit:,} bytes; send smaller batches."},
            status_code=413,
        )
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await too_big(scope, receive, send)
            return
        if length is not None:
            # The server holds the client to its Content-Length, so the body fits.
            await self.app(scope, receive, send)
            return
        # A chunked body: read it up to the limit, then hand it on in one piece.
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, receive, send)  # the client went away
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.limit:
                await too_big(scope, receive, send)
                return
        sent = False

        async def replay() -> dict:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def serve(
    workspace: Workspace | None = None,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    runtime: str = "native",
) -> None:
    """Run the API under uvicorn until interrupted (the access log never shows keys).

    The ``server`` header is off: a response does not name the server software. The
    process's malloc arenas are capped, as the notebook's are (:func:`limit_malloc_arenas`).
    """
    # uvicorn is needed only to serve for real; the app and its tests run without it.
    import uvicorn

    limit_malloc_arenas()

    uvicorn.run(
        create_app(workspace, runtime=runtime),
        host=host,
        port=port,
        log_level="info",
        access_log=True,
        server_header=False,
    )
