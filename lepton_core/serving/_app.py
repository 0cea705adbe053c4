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
- the Open Inference Protocol v2 (``/v2/...``), so KServe, MLServer and Triton
  clients can call the same models.

``version`` is a number or ``latest``. Names and versions never become paths:
they are looked up in the MLflow registry, which refuses anything that is not a
plain name. Bad input gets a 4xx whose message names the field; never a 5xx.
"""

from __future__ import annotations

import math
import re
import threading
import time
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from lepton_core.core import DataError, JsonMixin, LeptonError, ModelError, WorkspaceError
from lepton_core.data import MAX_RECORDS
from lepton_core.runs import ModelBundle, load_bundle
from lepton_core.workspace import ApiKeyStore, ModelVersionInfo, Workspace

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

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
MAX_BODY_BYTES = 16 * 1024 * 1024
# SHAP for the MLP is model-agnostic (permutation) and costs seconds per hundred rows.
MAX_EXPLAIN_RECORDS = 100
_VERSION_RE = re.compile(r"[0-9]{1,9}")
_LATEST_TTL = 2.0  # seconds a resolved "latest" is reused; a new version shows up within it

# Module level: FastAPI resolves the (string) annotations that name it from module globals.
_BEARER = HTTPBearer(auto_error=False, description="An API key from the Deploy page.")

Value = str | int | float | bool | None
Record = dict[str, Value]


# ---------------------------------------------------------------------- schemas
class PredictRequest(BaseModel):
    """Records to score: one object per row, ``{column: value}``."""

    records: list[Record] = Field(min_length=1, max_length=MAX_RECORDS)


class RecordPrediction(BaseModel):
    label: Value
    probabilities: dict[str, float] | None = None


class PredictResponse(BaseModel):
    model: str
    version: int
    predictions: list[RecordPrediction]


class RecordExplanation(RecordPrediction):
    output: str
    base_value: float
    contributions: dict[str, float]
    # Text models: each token of the text in order with its contribution.
    tokens: list[tuple[str, float]] | None = None


class ExplainResponse(BaseModel):
    model: str
    version: int
    output_space: str
    predictions: list[RecordExplanation]


class V2Tensor(BaseModel):
    """One Open Inference Protocol tensor: for Lepton, one column of the records."""

    name: str = Field(max_length=200)
    shape: list[int] = Field(max_length=2)
    datatype: str = Field(max_length=10)
    data: list[Value] | list[list[Value]]
    parameters: dict[str, Any] | None = None


class V2Request(BaseModel):
    id: str | None = Field(default=None, max_length=200)
    parameters: dict[str, Any] | None = None
    inputs: list[V2Tensor] = Field(min_length=1, max_length=2000)
    outputs: list[dict[str, Any]] | None = None


# ----------------------------------------------------------------- the models
class _Models:
    """Loaded model versions, kept in memory; "latest" re-resolved every few seconds."""

    def __init__(self, workspace: Workspace, runtime: str):
        self.workspace, self.runtime = workspace, runtime
        self._bundles: dict[tuple[str, int], ModelBundle] = {}
        self._scorers: dict[tuple[str, int], Any] = {}
        self._latest: dict[str, tuple[float, ModelVersionInfo]] = {}
        self._lock = threading.Lock()

    def info(self, name: str, version: str) -> ModelVersionInfo:
        if version == "latest":
            hit = self._latest.get(name)
            if hit and time.monotonic() - hit[0] < _LATEST_TTL:
                return hit[1]
            info = self.workspace.model_version(name, None)
            self._latest[name] = (time.monotonic(), info)
            return info
        if not _VERSION_RE.fullmatch(version):
            raise ModelError(f"'{version[:40]}' is not a model version; give a number or 'latest'.")
        return self.workspace.model_version(name, int(version))

    def get(self, name: str, version: str) -> ModelBundle:
        if _VERSION_RE.fullmatch(version):
            hit = self._bundles.get((name, int(version)))
            if hit is not None:
                return hit
        info = self.info(name, version)
        key = (info.name, info.version)
        with self._lock:
            if key not in self._bundles:
                self._bundles[key] = load_bundle(self.workspace, info.name, info.version)
            return self._bundles[key]

    def scorer(self, bundle: ModelBundle) -> Any:
        """What predicts for ``bundle``: the model itself, or its ONNX graph in onnxruntime."""
        model = bundle.model
        # A compressed version already runs its int8 network (an ONNX int8 one in onnxruntime).
        if self.runtime == "native" or model.compression_ is not None:
            return model
        key = (bundle.version.name, bundle.version.version)
        with self._lock:
            if key not in self._scorers:
                from lepton_core.runs import onnx_scorer, to_onnx

                self._scorers[key] = onnx_scorer(model, *to_onnx(model))
            return self._scorers[key]


def _metadata(bundle: ModelBundle) -> dict[str, Any]:
    model, reports = bundle.model, bundle.reports
    return {
        "name": bundle.version.name,
        "version": bundle.version.version,
        "task": model.task,
        "family": reports.run.family,
        "run_id": bundle.version.run_id,
        "published": bundle.version.published,
        "classes": [_plain(c) for c in model.classes_] if model.task != "regression" else None,
        "inputs": [f.to_dict() for f in bundle.input_schema.fields],
        "metrics": reports.evaluation.metrics,
        "n_test_rows": reports.evaluation.n_rows,
        "fairness": [r.summary() for r in reports.fairness],
    }


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _predictions(
    bundle: ModelBundle, records: list[dict[str, Any]], scorer: Any
) -> list[RecordPrediction]:
    _check_values(records)
    labels, proba = scorer.predict_records(records, bundle.input_schema)
    classes = [str(c) for c in bundle.model.classes_] if proba is not None else []
    return [
        RecordPrediction(
            label=_plain(label),
            probabilities=(
                dict(zip(classes, map(float, proba[i]), strict=True)) if proba is not None else None
            ),
        )
        for i, label in enumerate(labels)
    ]


def _check_values(records: list[dict[str, Any]]) -> None:
    # JSON allows Infinity and huge integers; neither is a value a model was trained on.
    for i, record in enumerate(records):
        for name, value in record.items():
            bad = (isinstance(value, float) and math.isinf(value)) or (
                isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53
            )
            if bad:
                raise DataError(
                    f"Record {i} field '{name[:60]}' is out of range; send a finite number."
                )


# ------------------------------------------------------------------- OIP v2
_V2_TYPES = {"numeric": "FP64", "categorical": "BYTES", "boolean": "BYTES", "text": "BYTES"}


def _v2_records(request: V2Request, bundle: ModelBundle) -> list[dict[str, Any]]:
    """Turn v2 input tensors (one per column, shape [N] or [N, 1]) into records."""
    names = set(bundle.input_schema.names)
    columns: dict[str, list[Any]] = {}
    for tensor in request.inputs:
        if tensor.name not in names:
            raise DataError(
                f"Input '{tensor.name[:60]}' is not a column of this model; it takes "
                f"{', '.join(bundle.input_schema.names)}."
            )
        if (
            not tensor.shape
            or any(d < 0 for d in tensor.shape)
            or tensor.shape[1:] not in ([], [1])
        ):
            raise DataError(
                f"Input '{tensor.name}' has shape {tensor.shape}; send one column as [N] or [N, 1]."
            )
        flat = [v[0] if isinstance(v, list) and len(v) == 1 else v for v in tensor.data]
        if any(isinstance(v, list) for v in flat) or len(flat) != tensor.shape[0]:
            raise DataError(
                f"Input '{tensor.name}' has {len(tensor.data)} values for shape {tensor.shape}; "
                "send one value per row."
            )
        columns[tensor.name] = flat
    missing = [n for n in bundle.input_schema.names if n not in columns]
    if missing:
        raise DataError(f"Input '{missing[0]}' is missing; send one tensor per model column.")
    sizes = {len(v) for v in columns.values()}
    if len(sizes) != 1:
        raise DataError("The input tensors have different lengths; send one value per row each.")
    n = sizes.pop()
    return [{name: values[i] for name, values in columns.items()} for i in range(n)]


def _v2_response(bundle: ModelBundle, preds: list[RecordPrediction], req_id: str | None) -> dict:
    outputs: list[dict[str, Any]] = [
        {
            "name": "label",
            "shape": [len(preds)],
            "datatype": "BYTES" if not isinstance(preds[0].label, (int, float)) else "FP64",
            "data": [p.label for p in preds],
        }
    ]
    if preds[0].probabilities is not None:
        classes = list(preds[0].probabilities)
        outputs.append(
            {
                "name": "probabilities",
                "shape": [len(preds), len(classes)],
                "datatype": "FP64",
                "data": [p.probabilities[c] for p in preds for c in classes],  # type: ignore[index]
                "parameters": {"classes": classes},
            }
        )
    out = {
        "model_name": bundle.version.name,
        "model_version": str(bundle.version.version),
        "outputs": outputs,
    }
    if req_id is not None:
        out["id"] = req_id
    return out


# ---------------------------------------------------------------- middleware
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


# ----------------------------------------------------------------------- app
def create_app(
    workspace: Workspace | None = None,
    *,
    require_key: bool = True,
    max_body_bytes: int = MAX_BODY_BYTES,
    runtime: str = "native",
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
    """
    if runtime not in ("native", "onnx"):
        raise ValueError(f"runtime must be 'native' or 'onnx', got {runtime!r}")
    ws = workspace or Workspace()
    keys = ApiKeyStore(ws)
    models = _Models(ws, runtime)

    def authorised(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
    ) -> None:
        if not require_key:
            return
        if credentials is None or keys.verify(credentials.credentials) is None:
            raise _Unauthorised

    app = FastAPI(
        title="Lepton model API",
        version="1",
        description="Predictions, SHAP explanations and metadata of the workspace's models.",
        # No redirects: a path that is not an endpoint is a 404, never another endpoint.
        redirect_slashes=False,
    )
    app.add_middleware(_BodyLimit, limit=max_body_bytes)  # type: ignore[arg-type]
    auth = [Depends(authorised)]

    @app.exception_handler(_Unauthorised)
    async def _unauthorised(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            {
                "detail": "A valid API key is required; create one on the Deploy page and send it "
                "as 'Authorization: Bearer <key>'."
            },
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
        detail = f"Field '{where}': {first.get('msg', 'invalid value')}."
        return _error(request, detail, 422)

    @app.exception_handler(LeptonError)
    async def _lepton(request: Request, exc: LeptonError) -> JSONResponse:
        status = (
            404 if isinstance(exc, ModelError) else 503 if isinstance(exc, WorkspaceError) else 422
        )
        return _error(request, str(exc), status)

    # ---------------------------------------------------------------- health
    @app.get("/health", tags=["health"], summary="Liveness (no key needed)")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", tags=["health"], summary="Readiness: the workspace can be read")
    def ready() -> JSONResponse:
        try:
            ws.client.search_registered_models(max_results=1)
        except Exception:  # any store failure means not ready; the body says so
            return JSONResponse({"status": "not ready"}, status_code=503)
        return JSONResponse({"status": "ready"})

    # ---------------------------------------------------------------- models
    @app.get("/models", tags=["models"], dependencies=auth, summary="Registered model versions")
    def list_models() -> list[dict[str, Any]]:
        return [v.to_dict() for v in ws.model_versions()]

    @app.get(
        "/models/{name}/versions/{version}",
        tags=["models"],
        dependencies=auth,
        summary="A model version's input schema, classes, metrics and fairness",
    )
    def metadata(name: str, version: str) -> dict[str, Any]:
        return {**_metadata(models.get(name, version)), "runtime": runtime}

    @app.post(
        "/models/{name}/versions/{version}/predict",
        tags=["models"],
        dependencies=auth,
        summary="Labels and class probabilities for records",
    )
    def predict(name: str, version: str, body: PredictRequest) -> PredictResponse:
        bundle = models.get(name, version)
        return PredictResponse(
            model=bundle.version.name,
            version=bundle.version.version,
            predictions=_predictions(bundle, body.records, models.scorer(bundle)),
        )

    @app.post(
        "/models/{name}/versions/{version}/explain",
        tags=["models"],
        dependencies=auth,
        summary="Predictions with each record's SHAP contributions",
    )
    def explain_records(name: str, version: str, body: PredictRequest) -> ExplainResponse:
        bundle = models.get(name, version)
        if len(body.records) > MAX_EXPLAIN_RECORDS:
            raise DataError(
                f"{len(body.records):,} records were sent to explain, over the limit of "
                f"{MAX_EXPLAIN_RECORDS}; "
                "send smaller batches or use batch scoring."
            )
        _check_values(body.records)
        out = []
        space = ""
        for p in bundle.predict(body.records):
            expl = p.explanation
            space = expl.output_space
            output = str(p.label) if str(p.label) in expl.outputs else expl.outputs[0]
            k = expl.output_index(output)
            tokens = None
            if expl.tokens is not None:
                values = expl.token_values(0)[:, k]
                tokens = [
                    (t.strip(), float(v)) for t, v in zip(expl.tokens[0], values, strict=True)
                ]
                contributions = {expl.feature_names[0]: sum(v for _, v in tokens)}
            else:
                contributions = {
                    f: float(v)
                    for f, v in zip(expl.feature_names, expl.values_array(k)[0], strict=True)
                }
            out.append(
                RecordExplanation(
                    label=p.label,
                    probabilities=p.probabilities,
                    output=output,
                    base_value=expl.base_value(0, k),
                    contributions=contributions,
                    tokens=tokens,
                )
            )
        return ExplainResponse(
            model=bundle.version.name,
            version=bundle.version.version,
            output_space=space,
            predictions=out,
        )

    @app.post(
        "/models/{name}/versions/{version}/batch",
        tags=["models"],
        dependencies=auth,
        summary="Score a table file (CSV, TSV, Parquet, JSON Lines); the result comes back as CSV",
        response_class=Response,
    )
    def batch(name: str, version: str, file: UploadFile) -> Response:
        from lepton_core.data import load_table
        from lepton_core.runs import score_table

        bundle = models.get(name, version)
        # The upload's name only picks the format; it never becomes a path.
        table = load_table(
            file.file.read(), filename=_safe_name(file.filename), max_bytes=max_body_bytes
        )
        scored = score_table(bundle, table)
        return Response(scored.to_csv(index=False), media_type="text/csv")

    # ------------------------------------------------------------ OIP v2
    @app.get("/v2", tags=["v2"], summary="Server metadata (Open Inference Protocol v2)")
    def v2_server() -> dict[str, Any]:
        return {"name": "lepton", "version": "1", "extensions": []}

    @app.get("/v2/health/live", tags=["v2", "health"])
    def v2_live() -> dict[str, bool]:
        return {"live": True}

    @app.get("/v2/health/ready", tags=["v2", "health"])
    def v2_ready() -> JSONResponse:
        response = ready()
        return JSONResponse(
            {"ready": response.status_code == 200}, status_code=response.status_code
        )

    def v2_metadata(name: str, version: str = "latest") -> dict[str, Any]:
        bundle = models.get(name, version)
        n_classes = len(bundle.model.classes_) if bundle.model.task != "regression" else 0
        outputs = [{"name": "label", "datatype": "BYTES", "shape": [-1]}]
        if n_classes:
            outputs.append({"name": "probabilities", "datatype": "FP64", "shape": [-1, n_classes]})
        return {
            "name": bundle.version.name,
            "versions": [str(bundle.version.version)],
            "platform": "lepton",
            "inputs": [
                {"name": f.name, "datatype": _V2_TYPES.get(f.kind, "BYTES"), "shape": [-1]}
                for f in bundle.input_schema.fields
            ],
            "outputs": outputs,
        }

    def v2_model_ready(name: str, version: str = "latest") -> dict[str, Any]:
        bundle = models.get(name, version)
        return {"name": bundle.version.name, "ready": True}

    def v2_infer(name: str, body: V2Request, version: str = "latest") -> dict[str, Any]:
        bundle = models.get(name, version)
        records = _v2_records(body, bundle)
        return _v2_response(bundle, _predictions(bundle, records, models.scorer(bundle)), body.id)

    for prefix in ("/v2/models/{name}", "/v2/models/{name}/versions/{version}"):
        app.get(prefix, tags=["v2"], dependencies=auth, summary="Model metadata (v2)")(v2_metadata)
        app.get(prefix + "/ready", tags=["v2"], dependencies=auth, summary="Model ready (v2)")(
            v2_model_ready
        )
        app.post(prefix + "/infer", tags=["v2"], dependencies=auth, summary="Inference (v2)")(
            v2_infer
        )
    return app


class _Unauthorised(Exception):
    pass


def _error(request: Request, detail: str, status: int) -> JSONResponse:
    # Open Inference Protocol clients expect {"error": ...}; the rest of the API uses FastAPI's.
    key = "error" if request.url.path.startswith("/v2/") else "detail"
    return JSONResponse({key: detail}, status_code=status)


def _safe_name(filename: str | None) -> str | None:
    if not filename:
        return None
    return filename.replace("\\", "/").rsplit("/", 1)[-1][:200] or None


@dataclass
class TryResult(JsonMixin):
    """One call made through the API in process, as the Deploy page's "try it" shows it."""

    status: int
    body: Any
    latency_ms: float


_OWNER_APPS: dict[str, FastAPI] = {}


def try_predict(workspace: Workspace, name: str, version: int, records: list[dict]) -> TryResult:
    """Call the predict endpoint in process, as the workspace's owner (no key needed)."""
    from fastapi.testclient import TestClient

    key = str(workspace.root.resolve())
    if key not in _OWNER_APPS:
        _OWNER_APPS[key] = create_app(workspace, require_key=False)
    with TestClient(_OWNER_APPS[key]) as client:
        start = time.perf_counter()
        response = client.post(
            f"/models/{name}/versions/{version}/predict", json={"records": records}
        )
        elapsed = (time.perf_counter() - start) * 1000
    return TryResult(status=response.status_code, body=response.json(), latency_ms=elapsed)


def api_examples(base_url: str, name: str, version: int, record: dict[str, Any]) -> dict[str, str]:
    """Ready-to-run ``curl`` and Python calls of the predict endpoint with one real record."""
    import json
    import pprint

    url = f"{base_url.rstrip('/')}/models/{name}/versions/{version}/predict"
    body = json.dumps({"records": [record]}, indent=2, allow_nan=False)
    curl = (
        f"curl -s {url} \\\n"
        '  -H "Authorization: Bearer $LEPTON_API_KEY" \\\n'
        '  -H "Content-Type: application/json" \\\n'
        f"  -d '{body.replace(chr(39), chr(39) + chr(92) + chr(39) + chr(39))}'"
    )
    python = (
        "import os\n\nimport httpx\n\n"
        f"record = {pprint.pformat(record, sort_dicts=False)}\n"
        "response = httpx.post(\n"
        f"    {url!r},\n"
        '    headers={"Authorization": f"Bearer {os.environ[\'LEPTON_API_KEY\']}"},\n'
        '    json={"records": [record]},\n'
        ")\n"
        "response.raise_for_status()\n"
        'print(response.json()["predictions"][0])'
    )
    return {"curl": curl, "python": python}


def serve(
    workspace: Workspace | None = None,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    runtime: str = "native",
) -> None:
    """Run the API under uvicorn until interrupted (the access log never shows keys)."""
    import uvicorn

    uvicorn.run(
        create_app(workspace, runtime=runtime),
        host=host,
        port=port,
        log_level="info",
        access_log=True,
    )
