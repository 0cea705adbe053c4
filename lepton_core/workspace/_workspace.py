"""The workspace: data sets, runs and registered models, on MLflow.

By default everything lives in one folder (``$LEPTON_WORKSPACE`` or
``~/.lepton/workspace``): an MLflow SQLite store, its artifact folder, the
confirmed data sets and the jobs table. A team points ``$LEPTON_TRACKING_URI``
at an MLflow tracking server instead: runs, reports, models *and* data sets then
live on the server (a data set is one run of the ``lepton-datasets`` experiment),
so every machine pointed at it sees the same ones; the folder keeps the jobs and a
cache of the data sets this machine has read.

Layout::

    <root>/mlflow.db            MLflow runs, metrics, model registry
    <root>/artifacts/           MLflow artifacts (reports, models)
    <root>/datasets/<id>/       data.parquet, test.parquet (optional), info.json
    <root>/lepton.db            Lepton's own tables: jobs, keys, links, audit (or the
                                team's database: see lepton_core.workspace._database)
    <root>/jobs/<id>/           background jobs' logs (see lepton_core.jobs)
    <root>/team.toml            who may do what, with team sign-in (see _team.py)
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import logging
import os
import re
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse
from urllib.request import url2pathname

import pandas as pd

from lepton_core.core import (
    ENV_TRACKING_URI,
    ENV_WORKSPACE,
    DataError,
    JsonMixin,
    ModelError,
    WorkspaceError,
    cache_entries,
    default_workspace_path,
    disk_full_error,
    file_sha256,
    process_alive,
    process_token,
)
from lepton_core.data import InputSchema, visible_name

# MLflow and lepton_core.models (scikit-learn: seconds to import) are imported inside the
# methods that log or load a model, so that opening a workspace stays fast.
if TYPE_CHECKING:
    from mlflow import MlflowClient

    from lepton_core.models import LeptonModel

__all__ = [
    "DatasetInfo",
    "ModelVersionInfo",
    "RunSummary",
    "Workspace",
    "parse_model_ref",
    "quiet_mlflow",
]

EXPERIMENT = "lepton"
# On a shared store, one run per data set; apart from the training runs so that listing
# runs, the dashboard and recovery never meet them.
DATASET_EXPERIMENT = "lepton-datasets"
MODEL_ARTIFACT = "lepton_model"
_TAG = "lepton."
# A run's process without a process tag, or on another host, is presumed dead after this.
_STALE_RUN_S = 24 * 3600
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_DATASET_FILES = ("data.parquet", "test.parquet")
# In a shared data set's cache folder: the hash of each table fetched into it.
_CACHED_FILES = "files.json"
_MAX_TAG = 8000  # MLflow's longest tag value


def quiet_mlflow() -> None:
    """Set MLflow's environment for Lepton before it is imported; a user's own setting wins.

    MLflow sends usage records to its makers unless told not to: a workspace's data and
    the people using it are nobody else's business, and servers here reach no one.
    """
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # A tracking server makes MLflow print "View run ... at" on stdout, which would
    # break the CLI's --json output.
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


def slugify(text: str) -> str:
    """A registry-safe name: lower case letters, digits and dashes."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:60] or "model"


def parse_model_ref(ref: str) -> tuple[str, str | None]:
    """Split ``NAME[:VERSION]`` (version may be a number or ``latest``/an alias)."""
    name, _, version = ref.partition(":")
    return name, (version or None)


def _check_name(name: str) -> str:
    # Names reach file paths and URLs; refuse anything that is not a plain name.
    # fullmatch: with match, "$" also matches before a trailing newline ("adult\n").
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name) or ".." in name:
        raise ModelError(
            f"'{visible_name(name)}' is not a valid model name; "
            "use letters, digits, '-', '_' or '.'."
        )
    return name


def _hash_files(folder: Path) -> dict[str, str]:
    hashes = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        hashes[path.relative_to(folder).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


def _digest(hashes: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


@dataclass
class DatasetInfo(JsonMixin):
    """A confirmed data set: the table plus the user's choices about it."""

    id: str
    name: str
    target: str
    task: str
    sensitive: list[str]
    n_rows: int
    n_columns: int
    fingerprint: str
    source: str = ""
    has_test: bool = False
    created: float = field(default_factory=time.time)
    # A version derived from another data set: the parent's id and the anonymisation
    # steps applied (lepton_core.data.AnonymisationStep as dicts).
    parent: str = ""
    anonymisation: list[dict[str, Any]] = field(default_factory=list)
    # The free-text column a text model reads; empty for a tabular data set.
    text_column: str = ""
    # Clean-ups applied before confirming (lepton_core.data.CleanupStep as dicts): numbers
    # read from text, spellings merged, column types chosen by the user.
    cleanups: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ModelVersionInfo(JsonMixin):
    """One registered model version."""

    name: str
    version: int
    run_id: str
    created: float
    published: bool = False

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"


@dataclass
class RunSummary(JsonMixin):
    """One training run as listed on the pages: headline figures only."""

    run_id: str
    name: str
    status: str
    started: float
    dataset_id: str
    dataset_name: str
    family: str
    task: str
    model_name: str | None
    model_version: int | None
    metrics: dict[str, float]


class Workspace:
    """Data sets, runs and models of one workspace.

    Parameters
    ----------
    path : path-like, optional
        The workspace folder; defaults to :func:`default_workspace_path`.
    tracking_uri : str, optional
        An MLflow tracking URI; defaults to ``$LEPTON_TRACKING_URI`` or the
        SQLite file in the folder.
    """

    def __init__(self, path: str | os.PathLike | None = None, *, tracking_uri: str | None = None):
        self.root = Path(path).expanduser() if path else default_workspace_path()
        try:
            if not self.root.exists():
                # The folder holds personal data and secrets: only its owner may enter it.
                self.root.mkdir(mode=0o700, parents=True)
            for sub in ("datasets", "artifacts", "jobs"):
                (self.root / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise WorkspaceError(
                f"The workspace folder {self.root} cannot be created ({exc.strerror}); "
                f"set {ENV_WORKSPACE} to a folder you can write to."
            ) from exc
        db = (self.root / "mlflow.db").resolve().as_posix()
        self.tracking_uri = tracking_uri or os.environ.get(ENV_TRACKING_URI) or f"sqlite:///{db}"
        self._experiment_id: str | None = None

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"

    # ------------------------------------------------------------------ MLflow
    @functools.cached_property
    def client(self) -> MlflowClient:
        """An MLflow client bound to this workspace's store."""
        quiet_mlflow()
        from mlflow import MlflowClient

        try:
            client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        except Exception as exc:  # MLflow raises many types for a bad store
            raise WorkspaceError(
                f"The MLflow store at {_redacted(self.tracking_uri)} cannot be opened ({exc}); "
                f"check {ENV_TRACKING_URI} or the workspace folder."
            ) from exc
        if self.shared:
            _check_server(self.tracking_uri)
        database = self.root / "mlflow.db"
        if database.is_file():  # created by MLflow with the process umask
            with contextlib.suppress(OSError):
                database.chmod(0o600)
        return client

    @property
    def experiment_id(self) -> str:
        if self._experiment_id is None:
            self._experiment_id = self._experiment(EXPERIMENT)
        return self._experiment_id

    def _experiment(self, name: str) -> str:
        """The id of experiment ``name``, made on first use."""
        from mlflow.exceptions import MlflowException

        exp = self.client.get_experiment_by_name(name)
        if exp is not None:
            return exp.experiment_id
        # A server chooses where its artifacts go; a store reached directly (the SQLite
        # file, a database) would put them under the current directory, so they go here.
        location = None if self.shared else (self.root / "artifacts").resolve().as_uri()
        try:
            return self.client.create_experiment(name, artifact_location=location)
        except MlflowException:
            exp = self.client.get_experiment_by_name(name)  # another machine made it first
            if exp is None:
                raise
            return exp.experiment_id

    @property
    def shared(self) -> bool:
        """Whether the MLflow store is a tracking server, which other machines see too.

        Data sets are then stored on it as well; with the folder's own SQLite file (or
        any store reached directly) they stay in the folder.
        """
        uri = self.tracking_uri
        return urlparse(uri).scheme in ("http", "https") or uri.startswith("databricks")

    def _read_text(self, artifact_uri: str, path: str) -> str:
        """The text of file ``path`` under an artifact folder: read in place when local."""
        local = _local_path(artifact_uri)
        if local is not None:
            return (local / path).read_text(encoding="utf-8")
        with tempfile.TemporaryDirectory() as tmp:
            got = self._artifacts(artifact_uri).download_artifacts(path, dst_path=tmp)
            return Path(got).read_text(encoding="utf-8")

    def folder_bytes(self, artifact_uri: str) -> int | None:
        """Bytes of the files under an artifact folder; None when it cannot be listed."""
        local = _local_path(artifact_uri)
        if local is not None:
            files = [p for p in local.rglob("*") if p.is_file()] if local.is_dir() else []
            return sum(p.stat().st_size for p in files) if files else None
        try:
            repo = self._artifacts(artifact_uri)
            total, folders = 0, [""]
            while folders:
                for entry in repo.list_artifacts(folders.pop() or None):
                    if entry.is_dir:
                        folders.append(entry.path)
                    else:
                        total += entry.file_size or 0
        except Exception:  # the store's own errors for a folder it cannot list
            return None
        return total or None

    def _artifacts(self, artifact_uri: str) -> Any:
        """MLflow's artifact repository for a folder, bound to this workspace's server."""
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        # The tracking URI, not the process-wide one: an ``mlflow-artifacts:`` location
        # is a path on whichever server is named.
        return get_artifact_repository(artifact_uri, tracking_uri=self.tracking_uri)

    # ---------------------------------------------------------------- data sets
    def save_dataset(
        self,
        df: pd.DataFrame,
        *,
        name: str,
        target: str,
        task: str,
        sensitive: list[str],
        fingerprint: str,
        test: pd.DataFrame | None = None,
        source: str = "",
        parent: str = "",
        anonymisation: list[dict[str, Any]] | None = None,
        text_column: str = "",
        cleanups: list[dict[str, Any]] | None = None,
    ) -> DatasetInfo:
        """Store a confirmed table (and optional test table); same content and choices, same id."""
        choices: list[Any] = [fingerprint, target, task, sorted(sensitive), name]
        if text_column:
            choices.append(text_column)
        key = json.dumps(choices, sort_keys=True)
        ds_id = hashlib.sha256(key.encode()).hexdigest()[:12]
        folder = self.root / "datasets" / ds_id
        folder.mkdir(parents=True, exist_ok=True)
        info = DatasetInfo(
            id=ds_id,
            name=name,
            target=target,
            task=task,
            sensitive=list(sensitive),
            n_rows=len(df),
            n_columns=df.shape[1],
            fingerprint=fingerprint,
            source=source,
            has_test=test is not None,
            parent=parent,
            anonymisation=list(anonymisation or []),
            text_column=text_column,
            cleanups=list(cleanups or []),
        )
        try:
            df.to_parquet(folder / "data.parquet.tmp", index=False)
            (folder / "data.parquet.tmp").replace(folder / "data.parquet")
            if test is not None:
                test.to_parquet(folder / "test.parquet.tmp", index=False)
                (folder / "test.parquet.tmp").replace(folder / "test.parquet")
            else:  # the same id saved again without its test table
                (folder / "test.parquet").unlink(missing_ok=True)
        except (ValueError, TypeError) as exc:
            raise DataError(
                f"The table cannot be stored ({exc}); make each column hold one type of value."
            ) from exc
        _write_atomic(folder / "info.json", info.to_json())
        if self.shared:
            self._upload_dataset(info, folder)
        return info

    def list_datasets(self) -> list[DatasetInfo]:
        """Confirmed data sets, newest first."""
        if self.shared:
            return self._shared_datasets()
        infos = []
        for path in (self.root / "datasets").glob("*/info.json"):
            infos.append(DatasetInfo.from_json(path.read_text(encoding="utf-8")))
        return sorted(infos, key=lambda d: d.created, reverse=True)

    def _dataset_folder(self, dataset_id: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{12}", dataset_id or ""):
            raise DataError(f"There is no data set '{dataset_id}'; pick one on the Data page.")
        folder = self.root / "datasets" / dataset_id
        if not (folder / "info.json").is_file():
            raise DataError(f"There is no data set '{dataset_id}'; pick one on the Data page.")
        return folder

    def get_dataset(self, dataset_id: str) -> DatasetInfo:
        if self.shared:
            return self._run_dataset_info(self._dataset_run(dataset_id))
        folder = self._dataset_folder(dataset_id)
        return DatasetInfo.from_json((folder / "info.json").read_text(encoding="utf-8"))

    def dataset_paths(self, dataset_id: str) -> tuple[Path, Path | None]:
        """Paths of the data set's table and of its test table (None when split from the data)."""
        if self.shared:
            return self._cached_dataset(dataset_id)
        folder = self._dataset_folder(dataset_id)
        test = folder / "test.parquet"
        return folder / "data.parquet", (test if test.is_file() else None)

    def load_dataset(self, dataset_id: str) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        data, test = self.dataset_paths(dataset_id)
        return pd.read_parquet(data), (pd.read_parquet(test) if test else None)

    def set_dataset_setting(self, dataset_id: str, key: str, value: Any) -> None:
        """Store a data set's setting (JSON; the recourse constraints, say) beside it."""
        text = json.dumps(value, allow_nan=False)
        if len(text) > _MAX_TAG:
            raise WorkspaceError(f"The setting '{key}' is too long to store; make it shorter.")
        if self.shared:  # a tag of the data set's run, which every machine reads
            self.client.set_tag(self._dataset_run(dataset_id).info.run_id, _TAG + key, text)
            return
        path = self._dataset_folder(dataset_id) / "settings.json"
        settings = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        _write_atomic(path, json.dumps(settings | {key: value}, sort_keys=True))

    def dataset_setting(self, dataset_id: str, key: str) -> Any:
        """A setting stored by :meth:`set_dataset_setting`, or None where none is."""
        if self.shared:
            text = self._dataset_run(dataset_id).data.tags.get(_TAG + key)
            return json.loads(text) if text is not None else None
        path = self._dataset_folder(dataset_id) / "settings.json"
        return json.loads(path.read_text(encoding="utf-8")).get(key) if path.is_file() else None

    # A data set on a shared store is one run of DATASET_EXPERIMENT: its tables under
    # ``<sha256 prefix>/`` (a new table never overwrites one a reader may be fetching) and
    # info.json as artifacts; its id, info and the tables' hashes as tags, so that one
    # search lists them all. The folder's datasets/<id>/ is then a cache of the tables,
    # fetched again when the hashes on the server change.
    @functools.cached_property
    def _dataset_experiment_id(self) -> str:
        return self._experiment(DATASET_EXPERIMENT)

    def _upload_dataset(self, info: DatasetInfo, folder: Path) -> None:
        from mlflow.entities import RunTag

        files = {n: file_sha256(folder / n) for n in _DATASET_FILES if (folder / n).is_file()}
        client = self.client
        run = self._dataset_run(info.id, missing_ok=True)
        new = run is None
        if run is None:
            run = client.create_run(
                self._dataset_experiment_id,
                run_name=info.name,
                tags={_TAG + "dataset_id": info.id, _TAG + "process": process_token()},
            )
        run_id = run.info.run_id
        try:
            repo = self._artifacts(run.info.artifact_uri)
            stored = json.loads(run.data.tags.get(_TAG + "files", "{}"))
            for name, digest in files.items():
                if stored.get(name) != digest:
                    repo.log_artifact(str(folder / name), artifact_path=digest[:16])
            repo.log_artifact(str(folder / "info.json"))
            text = info.to_json()
            tags = [
                RunTag(_TAG + "files", json.dumps(files, sort_keys=True)),
                RunTag(_TAG + "dataset_name", info.name),
            ]
            if len(text) <= _MAX_TAG:
                tags.append(RunTag(_TAG + "dataset_info", text))
            elif _TAG + "dataset_info" in run.data.tags:
                client.delete_tag(run_id, _TAG + "dataset_info")  # info.json is read instead
            client.log_batch(run_id, tags=tags)
            if new:
                client.set_terminated(run_id, "FINISHED")
        except Exception as exc:
            if new:
                with contextlib.suppress(Exception):
                    client.set_terminated(run_id, "FAILED")
            full = disk_full_error(exc)
            if full is not None:
                raise full from exc
            raise WorkspaceError(
                f"Data set '{info.name}' could not be stored on the tracking server at "
                f"{_redacted(self.tracking_uri)}; check that the server is running and "
                "confirm the data set again."
            ) from exc
        _write_atomic(folder / _CACHED_FILES, json.dumps(files, sort_keys=True))

    def _dataset_run(self, dataset_id: str, *, missing_ok: bool = False) -> Any:
        """The newest finished run that stores data set ``dataset_id`` (None if missing_ok)."""
        if not re.fullmatch(r"[0-9a-f]{12}", dataset_id or ""):
            raise DataError(f"There is no data set '{dataset_id}'; pick one on the Data page.")
        runs = self.client.search_runs(
            [self._dataset_experiment_id],
            filter_string=(
                f"tags.`{_TAG}dataset_id` = '{dataset_id}' and attributes.status = 'FINISHED'"
            ),
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
        if not runs and not missing_ok:
            raise DataError(f"There is no data set '{dataset_id}'; pick one on the Data page.")
        return runs[0] if runs else None

    def _run_dataset_info(self, run: Any) -> DatasetInfo:
        text = run.data.tags.get(_TAG + "dataset_info")
        if text is None:  # too long for a tag
            text = self._read_text(run.info.artifact_uri, "info.json")
        return DatasetInfo.from_json(text)

    def _shared_datasets(self) -> list[DatasetInfo]:
        infos: dict[str, DatasetInfo] = {}
        token = None
        while True:
            page = self.client.search_runs(
                [self._dataset_experiment_id],
                filter_string="attributes.status = 'FINISHED'",
                max_results=1000,
                page_token=token,
            )
            for run in page:
                if _TAG + "dataset_id" not in run.data.tags:
                    continue  # not Lepton's
                info = self._run_dataset_info(run)
                if info.id not in infos or info.created > infos[info.id].created:
                    infos[info.id] = info  # two machines saved it at once: one is enough
            token = page.token
            if not token:
                break
        return sorted(infos.values(), key=lambda d: d.created, reverse=True)

    def _cached_dataset(self, dataset_id: str) -> tuple[Path, Path | None]:
        """The tables of a shared data set, fetched into the folder unless already there."""
        run = self._dataset_run(dataset_id)
        files: dict[str, str] = json.loads(run.data.tags.get(_TAG + "files", "{}"))
        if "data.parquet" not in files:
            raise DataError(f"Data set '{dataset_id}' has no table; confirm it again.")
        folder = self.root / "datasets" / dataset_id
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        cache = folder / _CACHED_FILES
        cached = json.loads(cache.read_text(encoding="utf-8")) if cache.is_file() else {}
        for name, digest in files.items():
            if cached.get(name) == digest and (folder / name).is_file():
                continue
            with tempfile.TemporaryDirectory(dir=folder) as tmp:
                repo = self._artifacts(run.info.artifact_uri)
                got = Path(repo.download_artifacts(f"{digest[:16]}/{name}", dst_path=tmp))
                if file_sha256(got) != digest:
                    raise DataError(
                        f"The files of data set '{dataset_id}' on the tracking server are not "
                        "the ones Lepton stored, so they will not be read; confirm it again."
                    )
                got.replace(folder / name)
            cached[name] = digest
            _write_atomic(cache, json.dumps(cached, sort_keys=True))
        test = folder / "test.parquet" if "test.parquet" in files else None
        return folder / "data.parquet", test

    # ------------------------------------------------------------------- runs
    def log_run(
        self,
        *,
        run_name: str,
        params: dict[str, Any],
        tags: dict[str, str],
        metrics: dict[str, float],
        history: list[dict[str, float]],
        reports: dict[str, Any],
        model: LeptonModel,
        model_name: str,
        input_example: pd.DataFrame,
    ) -> tuple[str, int]:
        """Record a finished training run and register its model; return (run id, version)."""
        import mlflow
        from mlflow.entities import Metric, Param, RunTag

        _check_name(model_name)
        client = self.client
        # Which process writes the run: recover() fails it if that process dies first.
        run = client.create_run(
            self.experiment_id, run_name=run_name, tags={_TAG + "process": process_token()}
        )
        run_id = run.info.run_id
        try:
            now = int(time.time() * 1000)
            logged = [Param(k, str(v)[:6000]) for k, v in params.items()]
            all_tags = [RunTag(_TAG + k, str(v)) for k, v in tags.items()]
            values = [Metric(k, float(v), now, 0) for k, v in metrics.items() if v is not None]
            for entry in history:
                step = int(entry["step"])
                values += [Metric(k, float(v), now, step) for k, v in entry.items() if k != "step"]
            for i in range(0, max(len(values), 1), 900):  # MLflow's batch limit is 1,000
                client.log_batch(
                    run_id,
                    metrics=values[i : i + 900],
                    params=logged if i == 0 else [],
                    tags=all_tags if i == 0 else [],
                )
            for name, report in reports.items():
                self.log_report(run_id, name, report)
            version = self._log_model(run_id, model, model_name, input_example)
            client.set_tag(run_id, _TAG + "model_name", model_name)
            client.set_tag(run_id, _TAG + "model_version", str(version))
            client.set_terminated(run_id, "FINISHED")
        except Exception as exc:
            with contextlib.suppress(Exception):  # a full disk may refuse this write too
                self._fail_run(run_id)
            full = disk_full_error(exc)
            if full is not None:
                raise full from exc
            raise
        mlflow.set_tracking_uri(self.tracking_uri)  # keep fluent calls in this store
        return run_id, version

    def _fail_run(self, run_id: str) -> None:
        """Mark an unfinished run FAILED and remove what it wrote: versions, files."""
        client = self.client
        client.set_terminated(run_id, "FAILED")
        for mv in client.search_model_versions(f"run_id = '{run_id}'"):
            client.delete_model_version(mv.name, mv.version)
        models = client.search_logged_models(
            experiment_ids=[self.experiment_id], filter_string=f"source_run_id = '{run_id}'"
        )
        for logged in models:
            client.delete_logged_model(logged.model_id)
            self._remove_artifacts(logged.artifact_location)
        self._remove_artifacts(client.get_run(run_id).info.artifact_uri)

    def _remove_artifacts(self, uri: str) -> None:
        """Delete an artifact folder, on a server too where it allows that."""
        local = _local_path(uri)
        if local is not None:
            shutil.rmtree(local, ignore_errors=True)
            return
        # A store may refuse deletes (MLflow's S3 proxy without the right, say); the files
        # then stay behind a run marked FAILED, which nothing reads.
        with contextlib.suppress(Exception):
            self._artifacts(uri).delete_artifacts()

    def recover(self) -> list[str]:
        """Fail the runs whose process died before finishing them; return their ids.

        A run is RUNNING only while its process logs it (seconds), so one whose
        process is gone was cut short (``kill -9``, a crash, a reboot). Runs from
        another host are left alone unless a day old.
        """
        failed = []
        running = "attributes.status = 'RUNNING'"
        for run in self.client.search_runs([self.experiment_id], filter_string=running):
            if _abandoned(run):
                self._fail_run(run.info.run_id)
                failed.append(run.info.run_id)
        if self.shared:  # a data set whose upload was cut short: never listed, so just fail it
            for run in self.client.search_runs(
                [self._dataset_experiment_id], filter_string=running
            ):
                if _abandoned(run):
                    self.client.set_terminated(run.info.run_id, "FAILED")
                    self._remove_artifacts(run.info.artifact_uri)
                    failed.append(run.info.run_id)
        return failed

    def _log_model(
        self, run_id: str, model: LeptonModel, model_name: str, example: pd.DataFrame
    ) -> int:
        import mlflow
        from mlflow.models import Model, infer_signature

        from lepton_core.workspace import _pyfunc

        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / MODEL_ARTIFACT
            folder.mkdir()
            model.save(folder)
            signature = infer_signature(example, model.predict(example))
            mlflow.set_tracking_uri(self.tracking_uri)
            mlflow.set_registry_uri(self.tracking_uri)
            with warnings.catch_warnings():
                # The signature is given explicitly; MLflow still nags for an input example.
                warnings.simplefilter("ignore", UserWarning)
                # Model.log with run_id, not a fluent start_run, which would mark the run
                # FINISHED before its model is registered; the logged model is made here so
                # that it lives in this workspace's experiment, not MLflow's default one.
                logged = self.client.create_logged_model(
                    self.experiment_id, name="model", source_run_id=run_id
                )
                info = Model.log(
                    artifact_path=None,
                    name="model",
                    flavor=mlflow.pyfunc,
                    run_id=run_id,
                    model_id=logged.model_id,
                    python_model=_pyfunc.__file__,
                    artifacts={MODEL_ARTIFACT: str(folder)},
                    signature=signature,
                    pip_requirements=_pip_requirements(model.requirements),
                )
        location = self.client.get_logged_model(info.model_id).artifact_location
        with tempfile.TemporaryDirectory() as tmp:
            digest = _digest(_hash_files(self._download(location, tmp)))
        # The version is created with its hash in one transaction: a crash can leave an
        # unregistered logged model (removed by recover()), never a version without a hash.
        with contextlib.redirect_stderr(io.StringIO()):  # MLflow prints "Successfully ..."
            mv = mlflow.register_model(
                info.model_uri,
                model_name,
                tags={_TAG + "sha256": digest, _TAG + "hashed": "folder", _TAG + "run_id": run_id},
            )
        return int(mv.version)

    def _download(self, uri: str, dest: str) -> Path:
        """A local copy of an artifact folder (the folder itself for a local store)."""
        local = _local_path(uri)
        if local is not None:
            return local
        return Path(self._artifacts(uri).download_artifacts("", dst_path=dest))

    def list_runs(self, *, max_results: int = 200) -> list[RunSummary]:
        """Finished training runs, newest first."""
        runs = self.client.search_runs(
            [self.experiment_id],
            filter_string="attributes.status = 'FINISHED'",
            order_by=["attributes.start_time DESC"],
            max_results=max_results,
        )
        return [self._summary(r) for r in runs]

    def _summary(self, run: Any) -> RunSummary:
        tags = run.data.tags
        version = tags.get(_TAG + "model_version")
        return RunSummary(
            run_id=run.info.run_id,
            name=run.info.run_name or run.info.run_id[:8],
            status=run.info.status,
            started=run.info.start_time / 1000,
            dataset_id=tags.get(_TAG + "dataset_id", ""),
            dataset_name=tags.get(_TAG + "dataset_name", ""),
            family=tags.get(_TAG + "family", ""),
            task=tags.get(_TAG + "task", ""),
            model_name=tags.get(_TAG + "model_name"),
            model_version=int(version) if version else None,
            metrics=dict(run.data.metrics),
        )

    def get_run(self, run_id: str) -> RunSummary:
        """One run's summary; WorkspaceError when it does not exist."""
        return self._summary(self._mlflow_run(run_id))

    def _mlflow_run(self, run_id: str) -> Any:
        from mlflow.exceptions import MlflowException

        if not re.fullmatch(r"[0-9a-f]{32}", run_id or ""):
            raise WorkspaceError(f"There is no run '{run_id}'; pick one from the list of runs.")
        try:
            return self.client.get_run(run_id)
        except MlflowException as exc:
            raise WorkspaceError(
                f"There is no run '{run_id}'; pick one from the list of runs."
            ) from exc

    def set_run_tags(self, run_id: str, tags: dict[str, str]) -> None:
        for key, value in tags.items():
            self.client.set_tag(run_id, _TAG + key, str(value))

    def log_report(self, run_id: str, name: str, report: Any) -> None:
        """Store a JSON report with the run (read back by :meth:`load_report`)."""
        self.client.log_text(run_id, json.dumps(report, allow_nan=False), f"{name}.json")

    # Bounded: a run's test predictions can be megabytes as Python objects.
    @functools.lru_cache(maxsize=cache_entries(32))  # noqa: B019 - run artifacts never change once written
    def load_report(self, run_id: str, name: str) -> Any:
        """A JSON report the run stored (``evaluation``, ``fairness``, ``explanation``, ...)."""
        uri = self._mlflow_run(run_id).info.artifact_uri
        try:
            # Read in place from the local folder; fetched from a server or a cloud store.
            text = self._read_text(uri, f"{name}.json")
        except Exception as exc:  # MLflow raises its own and OS errors for a missing file
            raise WorkspaceError(
                f"Run '{run_id}' has no {name} report; train the model again to produce it."
            ) from exc
        return json.loads(text)

    def find_report(self, run_id: str, name: str) -> Any | None:
        """:meth:`load_report`, or None when the run stored no such report."""
        try:
            return self.load_report(run_id, name)
        except WorkspaceError:
            return None

    def load_input_schema(self, run_id: str) -> InputSchema:
        """The input schema stored with a run's model (the demo form and request checks)."""
        return InputSchema.from_dict(self.load_report(run_id, "input_schema"))

    # ----------------------------------------------------------------- models
    def model_versions(self, name: str | None = None) -> list[ModelVersionInfo]:
        """Registered model versions (of one name, or all), newest first."""
        query = f"name = '{_check_name(name)}'" if name else ""
        versions = self.client.search_model_versions(query)
        out = [
            ModelVersionInfo(
                name=mv.name,
                version=int(mv.version),
                run_id=mv.run_id or mv.tags.get(_TAG + "run_id", ""),
                created=mv.creation_timestamp / 1000,
                published=mv.tags.get(_TAG + "published") == "true",
            )
            for mv in versions
            if mv.tags.get(_TAG + "sha256")  # one without is not Lepton's (or half-made)
        ]
        return sorted(out, key=lambda v: (v.created, v.version), reverse=True)

    def model_version(self, name: str, version: str | int | None = None) -> ModelVersionInfo:
        """Resolve ``version`` (number, ``latest``/None) to one registered version."""
        _check_name(name)
        versions = self.model_versions(name)
        if not versions:
            raise ModelError(
                f"There is no model named '{name}'; train one first or pick an existing model."
            )
        if version in (None, "", "latest"):
            return max(versions, key=lambda v: v.version)
        try:
            number = int(version)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ModelError(
                f"'{version}' is not a model version; give a number such as 1."
            ) from None
        for info in versions:
            if info.version == number:
                return info
        raise ModelError(
            f"Model '{name}' has no version {number}; its versions are "
            f"{', '.join(str(v.version) for v in sorted(versions, key=lambda v: v.version))}."
        )

    def load_model(self, name: str, version: str | int | None = None) -> LeptonModel:
        """Load a registered model after checking its files are the ones Lepton saved."""
        return self._load_model_cached(*self._model_key(name, version))

    def _model_key(self, name: str, version: str | int | None) -> tuple[str, int, str]:
        info = self.model_version(name, version)
        mv = self.client.get_model_version(info.name, str(info.version))
        return info.name, info.version, mv.tags.get(_TAG + "sha256", "")

    def model_location(self, name: str, version: int) -> str:
        """The artifact URI of a registered version's MLflow model folder."""
        # Resolved through this workspace's client, not a ``models:/`` URI, which MLflow
        # would resolve against the process-wide registry.
        mv = self.client.get_model_version(name, str(version))
        model_id = mv.model_id or mv.source.removeprefix("models:/")
        return self.client.get_logged_model(model_id).artifact_location

    # Bounded: a text model holds about 100 MB.
    @functools.lru_cache(maxsize=cache_entries(8))  # noqa: B019 - keyed on the stored hash
    def _load_model_cached(self, name: str, version: int, digest: str) -> LeptonModel:
        from lepton_core.models import load_model

        with tempfile.TemporaryDirectory() as tmp:
            path = self._download(self.model_location(name, version), tmp)
            self._check_files(name, version, path)
            try:
                return load_model(path / "artifacts" / MODEL_ARTIFACT)
            except Exception as exc:
                # The hashes matched (or the tag was rewritten too): a file its reader cannot
                # read, whatever the reader raises, is still not a file Lepton saved.
                raise _not_ours(name, version) from exc

    def checked_model_folder(self, name: str, version: int, dest: str | Path) -> Path:
        """A copy, under ``dest``, of the version's MLflow model folder, checked file by file."""
        import mlflow.artifacts

        path = Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=self.model_location(name, version),
                dst_path=str(dest),
                tracking_uri=self.tracking_uri,
            )
        )
        self._check_files(name, version, path)  # the copy itself, so nothing changes after
        return path

    def _check_files(self, name: str, version: int, path: Path) -> None:
        """Refuse a model folder whose files are not the ones Lepton saved.

        The hash covers the whole folder (``MLmodel``, the pyfunc code, requirements and
        the model's own files); versions registered before it did cover ``lepton_model/``.
        """
        tags = self.client.get_model_version(name, str(version)).tags
        digest = tags.get(_TAG + "sha256", "")
        hashed = (
            path if tags.get(_TAG + "hashed") == "folder" else path / "artifacts" / MODEL_ARTIFACT
        )
        if not digest or not hashed.is_dir() or _digest(_hash_files(hashed)) != digest:
            raise _not_ours(name, version)

    def set_published(self, name: str, version: int, published: bool = True) -> ModelVersionInfo:
        """Publish (or withdraw) a model version for its demo page."""
        info = self.model_version(name, version)
        self.client.set_model_version_tag(
            info.name, str(info.version), _TAG + "published", "true" if published else "false"
        )
        info.published = published
        return info

    #: The longest demo title and description kept (longer text is cut).
    DEMO_TITLE_MAX = 80
    DEMO_DESCRIPTION_MAX = 200

    def set_demo_text(
        self, name: str, version: int, *, title: str = "", description: str = ""
    ) -> tuple[str, str]:
        """Set the title and one-line description of a version's demo page, as stored.

        Empty text means the automatic title and no description. Each is kept as one
        line of plain text: control and format characters become spaces, length is capped.
        """
        info = self.model_version(name, version)
        stored = (
            self._demo_line(title, self.DEMO_TITLE_MAX),
            self._demo_line(description, self.DEMO_DESCRIPTION_MAX),
        )
        for key, text in zip(("demo_title", "demo_description"), stored, strict=True):
            self.client.set_model_version_tag(info.name, str(info.version), _TAG + key, text)
        return stored

    def demo_text(self, name: str, version: int) -> tuple[str, str]:
        """The demo's title and description set by the owner; empty where none is set."""
        tags = self.client.get_model_version(name, str(version)).tags
        # Cleaned again: a tag may have been written by other means than set_demo_text.
        return (
            self._demo_line(tags.get(_TAG + "demo_title", ""), self.DEMO_TITLE_MAX),
            self._demo_line(tags.get(_TAG + "demo_description", ""), self.DEMO_DESCRIPTION_MAX),
        )

    def set_model_setting(self, name: str, key: str, value: Any) -> None:
        """Store a model's setting (JSON; alert limits, say), shared by all its versions."""
        text = json.dumps(value, allow_nan=False)
        if len(text) > _MAX_TAG:
            raise WorkspaceError(f"The setting '{key}' is too long to store; make it shorter.")
        self.model_version(name)  # a clear error for a model that does not exist
        self.client.set_registered_model_tag(name, _TAG + key, text)

    def model_setting(self, name: str, key: str) -> Any:
        """A model's setting stored by :meth:`set_model_setting`, or None where none is."""
        self.model_version(name)  # a clear error for a model that does not exist
        text = self.client.get_registered_model(name).tags.get(_TAG + key)
        if text is None:
            return None
        try:
            return json.loads(text)
        except ValueError:  # written by other means than set_model_setting
            return None

    @staticmethod
    def _demo_line(text: str, limit: int) -> str:
        line = " ".join("".join(c if c.isprintable() else " " for c in str(text)).split())
        return line[:limit].rstrip()


def _local_path(uri: str) -> Path | None:
    """The folder of a local artifact URI; None for a server's or a cloud store's."""
    if uri.startswith("file:"):
        return Path(url2pathname(urlparse(uri).path))
    if os.path.isabs(uri):  # MLflow's default experiment records a plain path
        return Path(uri)
    return None


def _redacted(uri: str) -> str:
    """A store's address without the user name or password it may carry."""
    parts = urlparse(uri)
    if not parts.password and not parts.username:
        return uri
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def _check_server(uri: str) -> None:
    """Say so in one sentence when a tracking server does not answer at all.

    MLflow would retry for a minute or more and then raise a long chain of errors. Only
    a refused or timed-out connection counts: a server that answers anything (a proxy
    asking for sign-in, a certificate MLflow is set up to trust) is left to MLflow.
    """
    import socket
    import urllib.error
    import urllib.request

    plain = _redacted(uri)
    try:
        urllib.request.urlopen(f"{plain.rstrip('/')}/health", timeout=5).close()
        return
    except urllib.error.HTTPError:  # it answered, if only to refuse
        return
    except urllib.error.URLError as exc:
        reason = exc.reason
    except (ConnectionError, TimeoutError) as exc:
        reason = exc
    except Exception:  # an address urllib cannot use; MLflow reports on it
        return
    if isinstance(reason, ConnectionError | TimeoutError | socket.gaierror):
        raise WorkspaceError(
            f"The MLflow tracking server at {plain} does not answer; start it, or point "
            f"{ENV_TRACKING_URI} at one that runs."
        )


def _abandoned(run: Any) -> bool:
    """Whether a RUNNING run's process is gone (or, on another host, it is a day old)."""
    alive = process_alive(run.data.tags.get(_TAG + "process", ""))
    stale = time.time() - run.info.start_time / 1000 > _STALE_RUN_S
    return alive is False or (alive is None and stale)


def _not_ours(name: str, version: int) -> ModelError:
    return ModelError(
        f"The files of model '{name}' version {version} are not the ones Lepton saved, "
        "so they will not be loaded; train the model again."
    )


def _pip_requirements(extra: tuple[str, ...] = ()) -> list[str]:
    """Pinned versions of what every model needs and the family's ``extra`` packages."""
    from importlib.metadata import PackageNotFoundError, version

    from lepton_core.models import BASE_REQUIREMENTS

    reqs = []
    for pkg in [*BASE_REQUIREMENTS, *extra]:
        try:
            reqs.append(f"{pkg}=={version(pkg)}")
        except PackageNotFoundError:
            continue
    return reqs
