"""The team dashboard: every registered model version, across data sets, in one table.

A row holds what a team compares models by: the headline accuracy-type figures, the
fairness gaps of each sensitive attribute, ε for a private model, the energy its training
used, the model's size on
disk, its latency when one was measured, whether it is published, its live share links
and when it was trained.

Everything comes from a handful of bulk queries, never from one report per version:
MLflow's ``search_model_versions`` (versions with their tags), ``search_runs`` (each
run's metrics, parameters and tags: training logs the gaps as
``fairness_<attribute>_<gap>`` metrics), ``search_logged_models`` (where each model's
folder is) and one query of the share-link table; a database store is read with plain
queries instead, a tracking server through those searches. Only a run recorded before
the gaps were logged as metrics has its ``fairness.json`` read, and the figures that
never change once written (those gaps, folder sizes) are kept per run and per model for
the process.
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

from lepton_core.core import JsonMixin, LeptonError
from lepton_core.evaluation import GAPS, Tradeoff, tradeoff
from lepton_core.models import family_title
from lepton_core.workspace import RunSummary, ShareLinks, Workspace

__all__ = [
    "BOARD_COLUMNS",
    "AttributeGap",
    "BoardRow",
    "board_tradeoff",
    "filter_board",
    "model_board",
]

# The prefix Lepton's workspace gives its MLflow tags (lepton.dataset_id, lepton.published, ...)
# and the MLflow experiment it records runs in.
_TAG = "lepton."
_EXPERIMENT = "lepton"
_PAGE = 10_000  # rows per MLflow search page (its limits: 50,000 runs, 200,000 versions)
# A figure measured where the model serves and logged on its run, when any was.
_LATENCY_METRIC = "latency_ms"
# The energy training used, logged on its run (lepton_core.runs._energy).
_ENERGY_METRIC = "energy_kwh"

#: The figures a board can be sorted by, in the order the dashboard shows them.
BOARD_COLUMNS = (
    "model",
    "dataset",
    "family",
    "task",
    "accuracy",
    "roc_auc",
    "rmse",
    "mae",
    "r2",
    "largest_gap",
    "epsilon",
    "energy_wh",
    "size_bytes",
    "latency_ms",
    "published",
    "live_links",
    "trained",
    "owner",
)


@dataclass
class AttributeGap(JsonMixin):
    """The fairness gaps of one sensitive attribute, as the run's fairness report has them.

    Gaps compare only the groups with enough test rows (the evaluation's small-group
    rule), so a figure is None when fewer than two groups were large enough, or for a
    task without it (parity and odds gaps exist for yes/no targets only).

    Attributes
    ----------
    attribute : str
    demographic_parity_difference, equalized_odds_difference : float or None
    worst_group_gap : float or None
        How much worse than overall the worst large-enough group does (accuracy; MAE for
        regression).
    """

    attribute: str
    demographic_parity_difference: float | None = None
    equalized_odds_difference: float | None = None
    worst_group_gap: float | None = None

    @property
    def largest(self) -> float | None:
        """The larger of the parity and odds gaps; None when neither was measured."""
        values = [
            v
            for v in (self.demographic_parity_difference, self.equalized_odds_difference)
            if v is not None
        ]
        return max(values) if values else None


@dataclass
class BoardRow(JsonMixin):
    """One registered model version on the dashboard; a figure not measured is None.

    Attributes
    ----------
    model, version : str, int
        The registered model and version (``model:version`` is its reference).
    run_id, dataset_id, dataset : str
        The training run and its data set (id and name).
    family, family_title, task : str
        The model family's name, its name for people, and the kind of prediction.
    accuracy, roc_auc : float or None
        Test accuracy and ROC AUC (classification).
    rmse, mae, r2 : float or None
        Test RMSE, MAE and R² (regression).
    gaps : list of AttributeGap
        One per sensitive attribute, in the order the run used them; empty when none was
        chosen or the run stored no fairness figures.
    epsilon : float or None
        The privacy budget spent, for a model trained with differential privacy.
    energy_wh : float or None
        The energy its training used (CodeCarbon, offline); None where none was measured.
    size_bytes : int or None
        The model's folder, on disk or on the tracking server; None when it cannot be
        listed.
    latency_ms : float or None
        A latency measured for the version and logged on its run; None when none was.
    published : bool
    live_links : int
        Share links neither revoked nor expired.
    trained : float
        When training finished (seconds since the epoch).
    owner : str
        Who started the training job, where that was recorded; empty otherwise.
    """

    model: str
    version: int
    run_id: str
    dataset_id: str
    dataset: str
    family: str
    family_title: str
    task: str
    accuracy: float | None = None
    roc_auc: float | None = None
    rmse: float | None = None
    mae: float | None = None
    r2: float | None = None
    gaps: list[AttributeGap] = field(default_factory=list)
    epsilon: float | None = None
    energy_wh: float | None = None
    size_bytes: int | None = None
    latency_ms: float | None = None
    published: bool = False
    live_links: int = 0
    trained: float = 0.0
    owner: str = ""

    @property
    def ref(self) -> str:
        return f"{self.model}:{self.version}"

    @property
    def largest_gap(self) -> float | None:
        """The largest parity or odds gap over every sensitive attribute (None: none measured)."""
        values = [g.largest for g in self.gaps if g.largest is not None]
        return max(values) if values else None  # type: ignore[type-var]

    def gap(self, attribute: str) -> AttributeGap | None:
        """The gaps of one attribute, None when the row has no figures for it."""
        return next((g for g in self.gaps if g.attribute == attribute), None)

    def headline(self) -> dict[str, float | None]:
        """The accuracy-type figures of its task, named as in ``EvalReport.metrics``."""
        if self.task == "regression":
            return {"rmse": self.rmse, "mae": self.mae, "r2": self.r2}
        figures: dict[str, float | None] = {"accuracy": self.accuracy}
        if self.task == "binary":
            figures["roc_auc"] = self.roc_auc
        return figures


def model_board(
    workspace: Workspace,
    *,
    dataset: str | None = None,
    published: bool | None = None,
    max_gap: float | None = None,
    search: str | None = None,
    owner: str | None = None,
    sort: str = "trained",
    descending: bool = True,
    owners: Mapping[str, str] | None = None,
) -> list[BoardRow]:
    """Every registered model version of the workspace, filtered and sorted.

    Parameters
    ----------
    workspace : Workspace
    dataset : str, optional
        Keep one data set's versions (its name or id).
    published : bool, optional
        True: published versions only; False: unpublished ones only.
    max_gap : float, optional
        Keep versions whose largest parity or odds gap, over every sensitive attribute,
        is at most this; a version with no gap measured is left out.
    search : str, optional
        Keep versions whose reference, data set, family, task or owner contains these
        words (any case; every word must match).
    owner : str, optional
        Keep the versions of one owner.
    sort : str
        One of :data:`BOARD_COLUMNS`; missing figures sort last either way.
    descending : bool
    owners : mapping, optional
        Run id → who started it (the jobs table records a job's owner and its run).

    Raises
    ------
    ValueError
        ``sort`` is not one of :data:`BOARD_COLUMNS`, or ``max_gap`` is negative.
    """
    if sort not in BOARD_COLUMNS:
        raise ValueError(f"cannot sort by {sort!r}; use one of {', '.join(BOARD_COLUMNS)}")
    rows = _collect(workspace, owners or {})
    rows = filter_board(
        rows, dataset=dataset, published=published, max_gap=max_gap, search=search, owner=owner
    )
    return _sorted(rows, sort, descending)


def filter_board(
    rows: Iterable[BoardRow],
    *,
    dataset: str | None = None,
    published: bool | None = None,
    max_gap: float | None = None,
    search: str | None = None,
    owner: str | None = None,
) -> list[BoardRow]:
    """The rows that pass every filter given (see :func:`model_board`), in their order."""
    if max_gap is not None and not (max_gap >= 0):
        raise ValueError(f"max_gap must be 0 or more, not {max_gap!r}")
    words = (search or "").lower().split()
    kept = []
    for row in rows:
        if dataset and dataset not in (row.dataset, row.dataset_id):
            continue
        if published is not None and row.published != published:
            continue
        if owner is not None and row.owner != owner:
            continue
        if max_gap is not None and ((gap := row.largest_gap) is None or gap > max_gap):
            continue
        if words:
            text = " ".join(
                (row.ref, row.dataset, row.family, row.family_title, row.task, row.owner)
            ).lower()
            if not all(word in text for word in words):
                continue
        kept.append(row)
    return kept


def _sorted(rows: list[BoardRow], sort: str, descending: bool) -> list[BoardRow]:
    def value(row: BoardRow) -> Any:
        return row.ref if sort == "model" else getattr(row, sort)

    present = [r for r in rows if value(r) is not None]
    missing = [r for r in rows if value(r) is None]
    if sort == "model":  # model names alphabetically, versions by number
        present.sort(key=lambda r: (r.model.lower(), r.version), reverse=descending)
    else:
        present.sort(
            key=lambda r: value(r).lower() if isinstance(value(r), str) else value(r),
            reverse=descending,
        )
    return present + missing


def board_tradeoff(
    rows: Iterable[BoardRow], dataset_id: str, *, attribute: str, gap: str = GAPS[0]
) -> Tradeoff:
    """Accuracy against one fairness gap across the board's versions of one data set.

    The same points and Pareto front as :func:`lepton_core.evaluation.tradeoff`, over
    every version on the board (that function reads the newest runs only).
    """
    return tradeoff(_BoardRuns(rows), dataset_id, attribute=attribute, gap=gap)


class _BoardRuns:
    """The board's rows as the run summaries :func:`tradeoff` reads from a workspace."""

    def __init__(self, rows: Iterable[BoardRow]):
        self._rows = list(rows)

    def list_runs(self) -> list[RunSummary]:
        summaries = []
        for row in self._rows:
            metrics = {"test_accuracy": row.accuracy, "privacy_epsilon": row.epsilon}
            if row.energy_wh is not None:
                metrics["energy_kwh"] = row.energy_wh / 1000
            for g in row.gaps:
                metrics[f"fairness_{g.attribute}_demographic_parity_difference"] = (
                    g.demographic_parity_difference
                )
                metrics[f"fairness_{g.attribute}_equalized_odds_difference"] = (
                    g.equalized_odds_difference
                )
            summaries.append(
                RunSummary(
                    run_id=row.run_id,
                    name=row.ref,
                    status="FINISHED",
                    started=row.trained,
                    dataset_id=row.dataset_id,
                    dataset_name=row.dataset,
                    family=row.family,
                    task=row.task,
                    model_name=row.model,
                    model_version=row.version,
                    metrics={k: v for k, v in metrics.items() if v is not None},
                )
            )
        return summaries


# ---------------------------------------------------------------------- collecting
@dataclass
class _Version:
    """What the board needs of one registered version."""

    name: str
    version: int
    run_id: str
    model_id: str
    created_ms: int
    tags: dict[str, str]


@dataclass
class _Run:
    """What the board needs of one finished run (headline metrics, attributes, tags)."""

    run_id: str
    start_ms: int | None
    end_ms: int | None
    artifact_uri: str
    metrics: dict[str, float]
    sensitive: str
    tags: dict[str, str]


@dataclass
class _Snapshot:
    versions: list[_Version]
    runs: dict[str, _Run]
    locations: dict[str, str]  # logged-model id -> artifact location


def _collect(workspace: Workspace, owners: Mapping[str, str]) -> list[BoardRow]:
    snapshot = _read_store(workspace)
    sizes = _model_sizes(snapshot, workspace)
    links = _live_links(workspace)
    rows = []
    for mv in snapshot.versions:
        run = snapshot.runs.get(mv.run_id)
        if run is None:  # its run failed, was deleted, or lives in another experiment
            continue
        rows.append(
            _row(
                mv,
                run,
                snapshot.runs,
                sizes=sizes,
                links=links,
                owner=owners.get(run.run_id, ""),
                workspace=workspace,
            )
        )
    return rows


def _read_store(workspace: Workspace) -> _Snapshot:
    """The versions, runs and model folders, read straight from a database store if it is one.

    MLflow's search calls build an ORM object per metric, parameter and tag: for 2,000
    runs that is seconds (``search_runs``) and another second (``search_model_versions``).
    A tracking store that is a database (the embedded SQLite file, or a team's database
    URI) is read with three plain queries instead; a tracking server is searched.
    """
    scheme = urlparse(workspace.tracking_uri).scheme.split("+")[0]
    if scheme in _DATABASES:
        return _sql_snapshot(workspace)
    return _api_snapshot(workspace)


_DATABASES = {"sqlite", "postgresql", "mysql", "mssql"}
_WANTED_METRICS = ("test_", "fairness_", "privacy_epsilon", _LATENCY_METRIC, _ENERGY_METRIC)
_VERSION_TAGS = (_TAG + "sha256", _TAG + "published", _TAG + "run_id")


def _wanted(metric: str) -> bool:
    return metric.startswith(_WANTED_METRICS)


def _model_id_of(source: str | None, model_id: str | None = None) -> str:
    source = str(source or "")
    return model_id or (source.removeprefix("models:/") if source.startswith("models:/") else "")


def _api_snapshot(workspace: Workspace) -> _Snapshot:
    """Through MLflow's client: works with any tracking store, a server included."""
    client = workspace.client
    versions = [
        _Version(
            name=mv.name,
            version=int(mv.version),
            run_id=mv.run_id or mv.tags.get(_TAG + "run_id", ""),
            model_id=_model_id_of(mv.source, mv.model_id),
            created_ms=int(mv.creation_timestamp or 0),
            tags={k: v for k, v in mv.tags.items() if k in _VERSION_TAGS},
        )
        for mv in _all_pages(client.search_model_versions, "")
    ]
    runs = {
        run.info.run_id: _Run(
            run_id=run.info.run_id,
            start_ms=run.info.start_time,
            end_ms=run.info.end_time,
            artifact_uri=run.info.artifact_uri or "",
            metrics={k: v for k, v in run.data.metrics.items() if _wanted(k)},
            sensitive=run.data.params.get("sensitive", ""),
            tags={k: v for k, v in run.data.tags.items() if k.startswith(_TAG)},
        )
        for run in _all_pages(
            client.search_runs,
            [workspace.experiment_id],
            filter_string="attributes.status = 'FINISHED'",
        )
    }
    locations: dict[str, str] = {}
    wanted = {v.model_id for v in versions} - _sizes_known()
    if wanted:
        # MLflow puts a logged model in the experiment active when it was logged, which
        # need not be the workspace's: look in every experiment.
        experiments = [e.experiment_id for e in _all_pages(client.search_experiments)]
        for i in range(0, len(experiments), 100):
            for logged in _all_pages(
                client.search_logged_models, experiment_ids=experiments[i : i + 100]
            ):
                if logged.model_id in wanted:
                    locations[logged.model_id] = logged.artifact_location
    return _Snapshot(_leptons(versions), runs, locations)


def _leptons(versions: list[_Version]) -> list[_Version]:
    # A version without Lepton's hash is not Lepton's (or was half-made).
    return [v for v in versions if v.tags.get(_TAG + "sha256")]


def _all_pages(search: Any, *args: Any, **kwargs: Any) -> list[Any]:
    """Every result of an MLflow search, page after page."""
    out: list[Any] = []
    token = None
    while True:
        page = search(*args, max_results=_PAGE, page_token=token, **kwargs)
        out.extend(page)
        token = page.token
        if not token:
            return out


_ENGINES: dict[str, Any] = {}


def _engine(uri: str) -> Any:
    import sqlalchemy

    with _LOCK:
        if uri not in _ENGINES:
            _ENGINES[uri] = sqlalchemy.create_engine(uri)
        return _ENGINES[uri]


# MLflow's own tables (its schema since 1.x; logged_models since 3.0). A test checks that
# this reading and the client's agree.
_SQL_VERSIONS = """
SELECT name, version, run_id, source, creation_time FROM model_versions
WHERE current_stage IS NULL OR current_stage <> 'Deleted_Internal'
"""
_SQL_VERSION_TAGS = """
SELECT name, version, key, value FROM model_version_tags WHERE key IN :keys
"""
_SQL_RUNS = """
SELECT run_uuid, start_time, end_time, artifact_uri FROM runs
WHERE experiment_id = :experiment AND status = 'FINISHED' AND lifecycle_stage = 'active'
"""
_SQL_METRICS = """
SELECT m.run_uuid, m.key, m.value, m.is_nan FROM latest_metrics m
JOIN runs r ON r.run_uuid = m.run_uuid
WHERE r.experiment_id = :experiment AND r.status = 'FINISHED'
AND (m.key LIKE 'test%' OR m.key LIKE 'fairness%' OR m.key IN :single)
"""
_SQL_PARAMS = """
SELECT p.run_uuid, p.value FROM params p JOIN runs r ON r.run_uuid = p.run_uuid
WHERE r.experiment_id = :experiment AND p.key = 'sensitive'
"""
_SQL_TAGS = """
SELECT t.run_uuid, t.key, t.value FROM tags t JOIN runs r ON r.run_uuid = t.run_uuid
WHERE r.experiment_id = :experiment AND t.key LIKE 'lepton.%'
"""
_SQL_LOGGED = "SELECT model_id, artifact_location FROM logged_models"
_SQL_EXPERIMENT = "SELECT experiment_id FROM experiments WHERE name = :name"


def _sql_snapshot(workspace: Workspace) -> _Snapshot:
    """The same as :func:`_api_snapshot`, by plain queries of MLflow's database."""
    import sqlalchemy

    expanding = sqlalchemy.bindparam
    with _engine(workspace.tracking_uri).connect() as db:
        # Looked up here rather than through ``workspace.experiment_id``, which imports
        # MLflow (seconds, on a server's first visit to the page).
        found = db.execute(sqlalchemy.text(_SQL_EXPERIMENT), {"name": _EXPERIMENT}).first()
        if found is None:  # nothing was ever trained in this workspace
            return _Snapshot([], {}, {})
        experiment = int(found[0])

        def query(sql: str, *expand: str, **args: Any) -> list[Any]:
            statement = sqlalchemy.text(sql).bindparams(
                *(expanding(n, expanding=True) for n in expand)
            )
            return list(db.execute(statement, args))

        version_tags: dict[tuple[str, int], dict[str, str]] = {}
        for name, number, key, value in query(_SQL_VERSION_TAGS, "keys", keys=list(_VERSION_TAGS)):
            version_tags.setdefault((name, int(number)), {})[key] = value
        versions = []
        for name, number, run_id, source, created in query(_SQL_VERSIONS):
            tags = version_tags.get((name, int(number)), {})
            versions.append(
                _Version(
                    name=name,
                    version=int(number),
                    run_id=run_id or tags.get(_TAG + "run_id", ""),
                    model_id=_model_id_of(source),
                    created_ms=int(created or 0),
                    tags=tags,
                )
            )
        runs = {
            run_id: _Run(run_id, start, end, uri or "", {}, "", {})
            for run_id, start, end, uri in query(_SQL_RUNS, experiment=experiment)
        }
        single = ["privacy_epsilon", _LATENCY_METRIC, _ENERGY_METRIC]
        for run_id, key, value, is_nan in query(
            _SQL_METRICS, "single", experiment=experiment, single=single
        ):
            if run_id in runs and _wanted(key):
                runs[run_id].metrics[key] = math.nan if is_nan else float(value)
        for run_id, value in query(_SQL_PARAMS, experiment=experiment):
            if run_id in runs:
                runs[run_id].sensitive = value
        for run_id, key, value in query(_SQL_TAGS, experiment=experiment):
            if run_id in runs:
                runs[run_id].tags[key] = value
        locations = {}
        if {v.model_id for v in versions} - _sizes_known():
            locations = dict(query(_SQL_LOGGED))
    return _Snapshot(_leptons(versions), runs, locations)


def _row(
    mv: _Version,
    run: _Run,
    runs: Mapping[str, _Run],
    *,
    sizes: Mapping[str, int | None],
    links: Mapping[tuple[str, int], int],
    owner: str,
    workspace: Workspace,
) -> BoardRow:
    tags, metrics = run.tags, run.metrics
    task = tags.get(_TAG + "task", "")
    family = tags.get(_TAG + "family", "")
    epsilon = _figure(metrics, "privacy_epsilon")
    parent = runs.get(tags.get(_TAG + "parent_run", ""))
    if epsilon is None and parent is not None and tags.get(_TAG + "compression"):
        # Quantising a private model keeps its guarantee: the parent's ε holds.
        epsilon = _figure(parent.metrics, "privacy_epsilon")
    return BoardRow(
        model=mv.name,
        version=mv.version,
        run_id=run.run_id,
        dataset_id=tags.get(_TAG + "dataset_id", ""),
        dataset=tags.get(_TAG + "dataset_name", ""),
        family=family,
        family_title=_title(family),
        task=task,
        accuracy=_figure(metrics, "test_accuracy"),
        roc_auc=_figure(metrics, "test_roc_auc"),
        rmse=_figure(metrics, "test_rmse"),
        mae=_figure(metrics, "test_mae"),
        r2=_figure(metrics, "test_r2"),
        gaps=_gaps(run, workspace),
        epsilon=epsilon,
        energy_wh=None if (kwh := _figure(metrics, _ENERGY_METRIC)) is None else kwh * 1000,
        size_bytes=sizes.get(mv.model_id),
        latency_ms=_figure(metrics, _LATENCY_METRIC),
        published=mv.tags.get(_TAG + "published") == "true",
        live_links=links.get((mv.name, mv.version), 0),
        trained=(run.end_ms or run.start_ms or mv.created_ms) / 1000,
        owner=owner,
    )


def _figure(metrics: Mapping[str, float], name: str) -> float | None:
    value = metrics.get(name)
    return None if value is None or not math.isfinite(value) else float(value)


def _title(family: str) -> str:
    try:
        return family_title(family)
    except (LeptonError, ValueError):
        return family


# ------------------------------------------------------------------- fairness gaps
_GAP_KEYS = ("demographic_parity_difference", "equalized_odds_difference", "worst_group_gap")
# Gaps read from the reports of older runs, by artifact location: artifacts never change.
_REPORT_GAPS: dict[str, tuple[AttributeGap, ...]] = {}
_LOCK = threading.Lock()


def _gaps(run: _Run, workspace: Workspace) -> list[AttributeGap]:
    """The run's gaps per sensitive attribute: from its metrics, else from its report.

    Training logs every gap a report has as a metric, and none that is None (too few
    rows per group), so an attribute without any ``fairness_<attribute>_*`` metric is one
    whose gaps are all unmeasured or a run recorded before gaps were metrics: only then
    is the report read.
    """
    attributes = [a for a in run.sensitive.split(",") if a]
    metrics = run.metrics
    gaps, unknown = [], []
    for attribute in attributes:
        prefix = f"fairness_{attribute}_"
        if not any(name.startswith(prefix) for name in metrics):
            unknown.append(attribute)
            gaps.append(AttributeGap(attribute))
            continue
        gaps.append(AttributeGap(attribute, *(_figure(metrics, prefix + key) for key in _GAP_KEYS)))
    if unknown:
        stored = {g.attribute: g for g in _report_gaps(run, workspace)}
        gaps = [stored.get(g.attribute, g) if g.attribute in unknown else g for g in gaps]
    return gaps


def _report_gaps(run: _Run, workspace: Workspace) -> tuple[AttributeGap, ...]:
    """The gaps in a run's stored ``fairness.json``; none when it stored no such report."""
    artifact_uri = run.artifact_uri
    with _LOCK:
        if artifact_uri in _REPORT_GAPS:
            return _REPORT_GAPS[artifact_uri]
    if artifact_uri.startswith("file:"):  # the embedded store: no need to import MLflow
        path = Path(url2pathname(unquote(urlparse(artifact_uri).path))) / "fairness.json"
        try:
            reports = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
        except (OSError, ValueError):
            reports = []
    else:
        # A server's ``mlflow-artifacts:`` location means nothing without the server's
        # address: fetched through the workspace, which knows it.
        reports = workspace.find_report(run.run_id, "fairness") or []
    if not isinstance(reports, list):
        reports = []
    found = tuple(
        AttributeGap(
            str(r.get("attribute", "")),
            r.get("demographic_parity_difference"),
            r.get("equalized_odds_difference"),
            (r.get("worst_group") or {}).get("gap"),
        )
        for r in reports
        if isinstance(r, dict)
    )
    with _LOCK:
        _REPORT_GAPS[artifact_uri] = found
    return found


# ------------------------------------------------------------------ sizes and links
# Bytes of a model's folder, by logged-model id: a registered model's files never change.
_SIZES: dict[str, int | None] = {}


def _sizes_known() -> set[str]:
    with _LOCK:
        return set(_SIZES)


def _model_sizes(snapshot: _Snapshot, workspace: Workspace) -> dict[str, int | None]:
    """Folder sizes of the versions' logged models, measured once per model."""
    wanted = {v.model_id for v in snapshot.versions} - {""}
    missing = sorted(wanted - _sizes_known())
    found: dict[str, int | None] = {}
    if missing:
        # Thousands of small folders: stat calls (or a server's listings) release the GIL,
        # so threads overlap them.
        def size(uri: str) -> int | None:
            local = _folder_size(uri)
            if local is None and uri and not _is_local(uri):
                return workspace.folder_bytes(uri)
            return local

        with ThreadPoolExecutor(max_workers=8) as pool:
            uris = [snapshot.locations.get(m, "") for m in missing]
            found = dict(zip(missing, pool.map(size, uris), strict=True))
    with _LOCK:
        _SIZES.update(found)
        return {m: _SIZES.get(m) for m in wanted}


def _is_local(uri: str) -> bool:
    return uri.startswith("file:") or os.path.isabs(uri)


def _folder_size(uri: str) -> int | None:
    """Bytes under a local artifact folder; None for a remote store or a missing folder."""
    if uri.startswith("file:"):
        folder = url2pathname(unquote(urlparse(uri).path))
    elif os.path.isabs(uri):  # MLflow's default experiment records a plain path
        folder = uri
    else:
        return None
    # The whole folder: MLmodel, the pyfunc code, requirements and the model's own files
    # (what the version's hash covers).
    try:
        return _tree_bytes(folder)
    except OSError:
        return None


def _tree_bytes(folder: str) -> int:
    total = 0
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                total += _tree_bytes(entry.path)
            elif entry.is_file(follow_symlinks=False):
                total += entry.stat(follow_symlinks=False).st_size
    return total


def _live_links(workspace: Workspace) -> dict[tuple[str, int], int]:
    """Live share links per (model, version)."""
    counts: dict[tuple[str, int], int] = {}
    for link in ShareLinks(workspace).list():
        if link.active:
            counts[(link.model, link.version)] = counts.get((link.model, link.version), 0) + 1
    return counts
