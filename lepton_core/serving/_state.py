"""What every route shares, reached through dependencies: the app's state and the API key check.

:func:`create_app <lepton_core.serving.create_app>` puts one :class:`ServingState` on
``app.state``; routes ask for it with ``Depends(serving_state)`` and routers that need
a key add ``Depends(authorised)`` once, for all their routes.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from lepton_core.core import ModelError, cache_entries
from lepton_core.runs import ModelBundle, load_bundle, onnx_scorer, to_onnx
from lepton_core.workspace import ApiKeyStore, ModelVersionInfo, PredictionLog, Workspace

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_EXPLAIN_RECORDS",
    "ModelCache",
    "ServingState",
    "Unauthorised",
    "authorised",
    "serving_state",
]

MAX_BODY_BYTES = 16 * 1024 * 1024
# SHAP for the MLP is model-agnostic (permutation) and costs seconds per hundred rows.
MAX_EXPLAIN_RECORDS = 100
_VERSION_RE = re.compile(r"[0-9]{1,9}")
_LATEST_TTL = 2.0  # seconds a resolved "latest" is reused; a new version shows up within it
# Seconds a version's published state is reused for predict-only keys: a withdrawn version
# stops answering them within this, without a registry query on every request.
_PUBLISHED_TTL = 5.0
# Loaded versions kept at once: a long-lived server (or the notebook, whose Deploy page tries
# every new version) would otherwise keep every version it ever loaded in memory.
_LOADED_VERSIONS = cache_entries(16)

# Module level: FastAPI resolves the (string) annotations that name it from module globals.
_BEARER = HTTPBearer(auto_error=False, description="An API key from the Deploy page.")


@dataclass
class _Loaded:
    """A loaded version, and its ONNX scorer once asked for."""

    bundle: ModelBundle
    scorer: Any = None


class ModelCache:
    """Loaded model versions, the most recently used kept in memory; "latest" re-resolved
    every few seconds."""

    def __init__(self, workspace: Workspace, runtime: str, size: int = _LOADED_VERSIONS):
        self.workspace, self.runtime, self.size = workspace, runtime, size
        # (name, version) → what was loaded for it; least recently used first.
        self._loaded: OrderedDict[tuple[str, int], _Loaded] = OrderedDict()
        self._latest: dict[str, tuple[float, ModelVersionInfo]] = {}
        self._published: dict[tuple[str, str], tuple[float, ModelVersionInfo]] = {}
        self._lock = threading.RLock()  # re-entered: get() looks again once it holds it

    def published_info(self, name: str, version: str) -> ModelVersionInfo:
        """:meth:`info`, reused for a few seconds: what a predict-only key's check reads."""
        hit = self._published.get((name, version))
        if hit and time.monotonic() - hit[0] < _PUBLISHED_TTL:
            return hit[1]
        info = self.info(name, version)
        if len(self._published) > 1000:  # names come from requests: keep the cache bounded
            self._published.clear()
        self._published[(name, version)] = (time.monotonic(), info)
        return info

    def info(self, name: str, version: str) -> ModelVersionInfo:
        if version == "latest":
            hit = self._latest.get(name)
            if hit and time.monotonic() - hit[0] < _LATEST_TTL:
                return hit[1]
            info = self.workspace.model_version(name, None)
            if len(self._latest) > 1000:
                self._latest.clear()
            self._latest[name] = (time.monotonic(), info)
            return info
        if not _VERSION_RE.fullmatch(version):
            raise ModelError(f"'{version[:40]}' is not a model version; give a number or 'latest'.")
        return self.workspace.model_version(name, int(version))

    def get(self, name: str, version: str) -> ModelBundle:
        if _VERSION_RE.fullmatch(version):
            hit = self._hit((name, int(version)))
            if hit is not None:
                return hit.bundle
        info = self.info(name, version)
        key = (info.name, info.version)
        with self._lock:
            hit = self._hit(key)
            if hit is None:
                hit = self._keep(key, _Loaded(load_bundle(self.workspace, info.name, info.version)))
            return hit.bundle

    def scorer(self, bundle: ModelBundle) -> Any:
        """What predicts for ``bundle``: the model itself, or its ONNX graph in onnxruntime."""
        model = bundle.model
        # A compressed version already runs its int8 network (an ONNX int8 one in onnxruntime).
        if self.runtime == "native" or model.compression_ is not None:
            return model
        key = (bundle.version.name, bundle.version.version)
        with self._lock:
            hit = self._hit(key)
            if hit is None or hit.bundle is not bundle:  # evicted meanwhile: keep it again
                hit = self._keep(key, _Loaded(bundle))
            if hit.scorer is None:
                hit.scorer = onnx_scorer(model, *to_onnx(model))
            return hit.scorer

    def _hit(self, key: tuple[str, int]) -> _Loaded | None:
        with self._lock:
            hit = self._loaded.get(key)
            if hit is not None:
                self._loaded.move_to_end(key)
            return hit

    def _keep(self, key: tuple[str, int], entry: _Loaded) -> _Loaded:
        self._loaded[key] = entry
        while len(self._loaded) > self.size:
            self._loaded.popitem(last=False)
        return entry


@dataclass
class ServingState:
    """One app's settings and the stores its routes read.

    Attributes
    ----------
    workspace : Workspace
        The workspace whose registered models are served.
    keys : ApiKeyStore
        The workspace's API keys.
    models : ModelCache
        Model versions loaded so far.
    runtime : str
        ``"native"`` or ``"onnx"``.
    require_key : bool
        Whether routes behind :func:`authorised` need a valid key.
    max_body_bytes : int
        The largest request body (and uploaded table) accepted.
    log : PredictionLog or None
        Where predictions are logged; None when logging is off.
    """

    workspace: Workspace
    keys: ApiKeyStore
    models: ModelCache
    runtime: str
    require_key: bool
    max_body_bytes: int
    log: PredictionLog | None = None


async def serving_state(request: Request) -> ServingState:
    """The app's :class:`ServingState` (a dependency; async, so that FastAPI runs it inline
    rather than on a worker thread: it only reads the app's state)."""
    return request.app.state.serving


class Unauthorised(Exception):
    """No valid API key came with a request that needs one (answered with 401).

    Parameters
    ----------
    detail : str, optional
        The sentence for the client, when there is more to say than "a key is required".
    """

    def __init__(self, detail: str | None = None):
        super().__init__(detail)
        self.detail = detail


class Forbidden(Exception):
    """The request's key may not do this (answered with 403 and the sentence)."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


def authorised(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
    state: Annotated[ServingState, Depends(serving_state)],
) -> None:
    """Refuse a request without an active API key as ``Authorization: Bearer <key>``, and a
    predict-only key's request for a version that is not published.

    Sets ``request.state.published_only`` for the routes that list versions, and
    ``request.state.caller`` (the key's id, empty without keys) for the prediction log.
    """
    request.state.published_only = False
    request.state.caller = ""
    if not state.require_key:
        return
    token = credentials.credentials if credentials is not None else None
    key = state.keys.verify(token)
    if key is not None:
        request.state.caller = key.id
        if key.role == "predict":
            _published_only(request, state)
        return
    # Refused: only now look at why, to tell the holder of an expired key what to do.
    key = state.keys.find(token)
    if key is not None and key.revoked is None and key.expired and key.expires is not None:
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(key.expires))
        raise Unauthorised(
            f"This API key ('{key.name}') expired on {when}; create a new one on the Deploy "
            "page and send it as 'Authorization: Bearer <key>'."
        )
    raise Unauthorised


def _published_only(request: Request, state: ServingState) -> None:
    """A predict-only key reaches published versions only."""
    request.state.published_only = True
    name = request.path_params.get("name")
    if name is None:
        return
    info = state.models.published_info(name, request.path_params.get("version", "latest"))
    if not info.published:
        raise Forbidden(
            f"This API key may call published model versions only, and '{info.name}' version "
            f"{info.version} is not published; publish it on the Deploy page, or use a key "
            "made for every version."
        )
