"""The prediction log: every prediction the API, the demo page and batch scoring make.

A request never waits for the database: :meth:`PredictionLog.record` puts its
predictions on an in-memory queue and returns their ids at once, and a background
thread writes the queue in batches, one transaction each, so a killed process leaves
whole batches or nothing. The queue is bounded: when the database falls behind or is
down until the queue fills, new predictions are dropped and counted (and the log says
so) rather than held up. What is queued is written when the log closes or the process
exits.

Personal data never reaches the table in clear (:func:`private_columns`): the input
columns that the personal-data scan flags on the training sample stored with the run,
and those the data set hashed or masked, are hashed with the workspace salt as the data
set's ``hash`` action does (so hashed keys still join); free-text ones are left out.
When the columns cannot be worked out, the whole record is left out.

Rows older than the retention (``$LEPTON_PREDICTION_RETENTION_DAYS``, default 90 days)
are deleted by the writer when it starts and every hour after. True answers arrive
later through :meth:`PredictionLog.add_labels`, by prediction id or by a record column.
"""

from __future__ import annotations

import atexit
import collections
import json
import logging
import math
import os
import re
import threading
import time
import uuid
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import sqlalchemy as sa

from lepton_core.core import (
    DataError,
    JsonMixin,
    LeptonError,
    Message,
    WorkspaceError,
    whole_number_setting,
)
from lepton_core.data import hash_value, load_salt, scan_table, visible_name
from lepton_core.workspace._database import Database, database_url, open_database
from lepton_core.workspace._tables import predictions_table
from lepton_core.workspace._workspace import Workspace

__all__ = [
    "DEFAULT_RETENTION_DAYS",
    "ENV_PREDICTION_LOG",
    "ENV_RETENTION_DAYS",
    "LOG_COLUMNS",
    "SOURCES",
    "LabelResult",
    "PredictionLog",
    "capture_enabled",
    "predicted_probability",
    "prediction_log",
    "private_columns",
]

#: Where a prediction came from.
SOURCES = ("api", "v2", "demo", "batch")
#: ``off`` (or ``0``, ``false``, ``no``) stops the API, the demo page and batch scoring
#: from logging predictions.
ENV_PREDICTION_LOG = "LEPTON_PREDICTION_LOG"
#: Days a logged prediction is kept.
ENV_RETENTION_DAYS = "LEPTON_PREDICTION_RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 90
#: The columns :meth:`PredictionLog.read_predictions` gives before the input columns.
LOG_COLUMNS = (
    "time",
    "model",
    "version",
    "source",
    "caller",
    "latency_ms",
    "status",
    "prediction",
    "confidence",
    "label",
    "id",
)
_RETENTION_EVERY_S = 3600.0
_HASHED = re.compile(r"[0-9a-f]{16}")  # what the data set's hash action writes
_SAMPLE_LATENCIES = 100_000  # rows read for latency percentiles where SQL has none
_CHUNK = 500  # ids per IN (...) query
_NUMBERS = ("<a number>",)  # what a regression model's labels must be
_log = logging.getLogger(__name__)


def capture_enabled() -> bool:
    """Whether predictions are logged: yes unless ``$LEPTON_PREDICTION_LOG`` is off."""
    value = os.environ.get(ENV_PREDICTION_LOG, "").strip().lower()
    return value not in ("off", "0", "false", "no")


def predicted_probability(label: Any, probabilities: Mapping[str, float] | None) -> float | None:
    """The probability a classifier gave its own answer (None for regression)."""
    if not probabilities:
        return None
    return probabilities.get(str(label))


@dataclass
class LabelResult(JsonMixin):
    """What :meth:`PredictionLog.add_labels` joined.

    Attributes
    ----------
    labelled : int
        Logged predictions that got their true answer.
    unknown : int
        Ids (or record keys) that matched no logged prediction of the model.
    examples : list of str
        Up to ten of the unknown ones, to show.
    """

    labelled: int
    unknown: int
    examples: list[str] = field(default_factory=list)


class _Item(NamedTuple):
    """One call's predictions, as queued (records still as sent)."""

    ids: list[str]
    at: datetime
    model: str
    version: int
    source: str
    caller: str
    latency_ms: float
    status: str
    records: Sequence[Mapping[str, Any]] | None
    predictions: Sequence[Any] | None
    confidences: Sequence[float | None] | None


def private_columns(workspace: Workspace, model: str, version: int) -> dict[str, str]:
    """The input columns of a model version kept out of the log in clear.

    Returns
    -------
    dict
        Column → ``"hash"`` (salted, as the data set's hash action does), ``"hashed"``
        (the data set hashed it: a value that is a hash already is kept, others are
        hashed) or ``"drop"`` (free text, which a hash would not help to read): the columns
        the personal-data scan flags on the run's training sample, and those the data set
        hashed or masked.

    Raises
    ------
    LeptonError
        The model version or its stored reports cannot be read.
    """
    return _columns(workspace, model, version)[1]


def _columns(workspace: Workspace, model: str, version: int) -> tuple[set[str], dict[str, str]]:
    """The input columns of a version, and :func:`private_columns`."""
    run_id = workspace.model_version(model, version).run_id
    fields = workspace.load_input_schema(run_id).fields
    steps = (workspace.find_report(run_id, "anonymisation") or {}).get("steps") or []
    hashed = {s.get("column") for s in steps if s.get("action") in ("hash", "mask")}
    flagged = set(hashed)
    sample = workspace.find_report(run_id, "background")
    if sample:
        # The fast scan (no NLP model): what it flags by header and by value patterns.
        table = pd.DataFrame(sample["data"], columns=sample["columns"])
        flagged |= {f.column for f in scan_table(table, nlp=False).personal}
    return {f.name for f in fields}, {
        f.name: "drop" if f.kind == "text" else "hashed" if f.name in hashed else "hash"
        for f in fields
        if f.name in flagged
    }


class PredictionLog:
    """The prediction log of one workspace's database: record, label and read predictions.

    Most callers use the process's shared log, :func:`prediction_log`.

    Parameters
    ----------
    workspace : Workspace
        Whose database, salt and model versions the log uses.
    max_backlog : int
        Predictions that may wait in memory; beyond it new ones are dropped and counted.
    batch_rows : int
        The writer starts a batch as soon as this many wait; otherwise every ``interval_s``.
    interval_s : float
        Seconds the writer lets predictions gather before writing them.
    """

    def __init__(
        self,
        workspace: Workspace,
        *,
        max_backlog: int = 100_000,
        batch_rows: int = 500,
        interval_s: float = 0.25,
    ):
        self.workspace = workspace
        self.max_backlog, self.batch_rows, self.interval_s = max_backlog, batch_rows, interval_s
        self._cond = threading.Condition()
        self._items: collections.deque[_Item] = collections.deque()
        self._backlog = 0  # queued and not yet written (or given up on)
        self._accepted = 0
        self._settled = 0  # written, or dropped after being accepted
        self._dropped = 0
        self._closing = False
        self._flush = False
        self._thread: threading.Thread | None = None
        self._policies: dict[tuple[str, int], tuple[set[str], dict[str, str]]] = {}
        self._classes: dict[tuple[str, int], tuple[str, ...]] = {}
        self._salt: bytes | None = None
        self._warned = 0.0

    # ------------------------------------------------------------------ recording
    def record(
        self,
        model: str,
        version: int,
        records: Sequence[Mapping[str, Any]],
        predictions: Sequence[Any],
        confidences: Sequence[float | None] | None = None,
        *,
        source: str,
        caller: str = "",
        latency_ms: float,
        wait: bool = False,
        at: datetime | None = None,
    ) -> list[str]:
        """Queue one call's predictions and return their ids (written in the background).

        Parameters
        ----------
        records, predictions, confidences
            One per prediction: the input record as sent, the answer, and the probability
            of that answer (None, or no list at all, for regression).
        source : str
            One of :data:`SOURCES`.
        caller : str
            The API key id, share link id or user; empty when unknown.
        latency_ms : float
            The call's time (each record's share, for a batch).
        wait : bool
            Wait (up to a minute) for room rather than drop when the queue is full: batch
            scoring, which has no caller waiting on each row.
        at : datetime, optional
            When they were made (now by default): replays and imports of older logs.
        """
        ids = [uuid.uuid4().hex for _ in records]
        made = _utc(at) if at is not None else datetime.now(UTC)
        item = _Item(
            ids, made, model, int(version), source, caller, float(latency_ms),
            "ok", records, predictions, confidences,
        )  # fmt: skip
        self._put(item, wait)
        return ids

    def record_error(
        self, model: str, version: int, *, source: str, caller: str = "", latency_ms: float
    ) -> str:
        """Queue one refused call (status ``error``, no record) and return its id."""
        pid = uuid.uuid4().hex
        item = _Item(
            [pid], datetime.now(UTC), model, int(version), source, caller, float(latency_ms),
            "error", None, None, None,
        )  # fmt: skip
        self._put(item, False)
        return pid

    @property
    def dropped(self) -> int:
        """Predictions dropped so far because the queue was full or the database down."""
        return self._dropped

    def _put(self, item: _Item, wait: bool) -> None:
        n = len(item.ids)
        deadline = time.monotonic() + 60.0
        with self._cond:
            if self._thread is None or not self._thread.is_alive():
                self._start()
            # An empty queue takes any call, however large.
            while self._backlog and self._backlog + n > self.max_backlog:
                left = deadline - time.monotonic()
                if not wait or left <= 0:
                    self._drop(n)
                    return
                self._cond.wait(left)
            self._items.append(item)
            self._backlog += n
            self._accepted += n
            if self._backlog == n or self._backlog >= self.batch_rows:
                self._cond.notify_all()  # the first of a batch, or a full one

    def _drop(self, n: int) -> None:
        """Count ``n`` dropped predictions and say so, at most once a minute (holds the lock)."""
        self._dropped += n
        if time.monotonic() - self._warned > 60.0:
            self._warned = time.monotonic()
            _log.warning(
                "The prediction log of %s cannot keep up or cannot reach its database; "
                "%d predictions dropped so far.",
                self.workspace.root,
                self._dropped,
            )

    def _start(self) -> None:
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="lepton-prediction-log", daemon=True)
        self._thread.start()
        _open_logs.add(self)

    def flush(self, timeout: float = 10.0) -> bool:
        """Write what is queued now; False when ``timeout`` seconds were not enough."""
        deadline = time.monotonic() + timeout
        with self._cond:
            target = self._accepted
            self._flush = True
            self._cond.notify_all()
            while self._settled < target:
                left = deadline - time.monotonic()
                if left <= 0 or self._thread is None or not self._thread.is_alive():
                    return self._settled >= target
                self._cond.wait(min(left, 0.1))
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued and stop the writer (a later :meth:`record` starts it again)."""
        with self._cond:
            thread = self._thread
            if thread is None:
                return
            self._closing = True
            self._cond.notify_all()
        thread.join(timeout)
        if thread.is_alive():
            _log.warning(
                "The prediction log of %s could not write its last %d predictions in %.0f s.",
                self.workspace.root,
                self._backlog,
                timeout,
            )

    # ------------------------------------------------------------------ the writer
    def _run(self) -> None:
        expire_at = 0.0
        delay = 0.5
        while True:
            with self._cond:
                if not (self._items or self._closing or self._flush):
                    # Asleep until the first prediction comes (or the retention is due).
                    self._cond.wait(max(0.01, expire_at - time.monotonic()))
                if not (self._closing or self._flush or self._backlog >= self.batch_rows):
                    self._cond.wait(self.interval_s)  # let a batch gather
                self._flush = False
                items = list(self._items)
                self._items.clear()
                closing = self._closing
            if items:
                written = self._write(items)
                with self._cond:
                    if written or closing:
                        n = sum(len(i.ids) for i in items)
                        self._backlog -= n
                        self._settled += n
                        if not written:
                            self._drop(n)
                    else:  # back to the front, in order, for the next try
                        self._items.extendleft(reversed(items))
                    self._cond.notify_all()
                if not written and not closing:
                    with self._cond:  # a close() wakes it
                        self._cond.wait(delay)
                    delay = min(delay * 2, 30.0)
                    continue
                delay = 0.5
            elif closing:
                return
            if time.monotonic() >= expire_at:
                expire_at = time.monotonic() + _RETENTION_EVERY_S
                try:
                    self.delete_expired()
                except LeptonError as exc:
                    _log.warning("Old predictions were not deleted: %s", exc)

    def _write(self, items: list[_Item]) -> bool:
        """Insert ``items`` in one transaction; False when the database cannot be reached."""
        try:
            rows = [row for item in items for row in self._rows(item)]
            with self._db().begin() as conn:
                conn.execute(sa.insert(predictions_table), rows)
        except WorkspaceError as exc:
            if time.monotonic() - self._warned > 60.0:
                self._warned = time.monotonic()
                _log.warning("Predictions wait to be logged: %s", exc)
            return False
        except Exception:
            # Not the database being away (a bad value, a bug): trying again would fail
            # again, and a dead writer would stop all logging. Say so and go on.
            n = sum(len(i.ids) for i in items)
            _log.exception("%d predictions could not be logged.", n)
            with self._cond:
                self._dropped += n
        return True

    def _rows(self, item: _Item) -> list[dict[str, Any]]:
        common = {
            "at": item.at,
            "model": item.model,
            "version": item.version,
            "source": item.source,
            "caller": item.caller,
            "latency_ms": item.latency_ms,
            "status": item.status,
        }
        if item.records is None:
            empty = {"record": None, "prediction": None, "confidence": None}
            return [{**common, **empty, "id": pid} for pid in item.ids]
        policy = self._policy(item.model, item.version)
        confidences = item.confidences or [None] * len(item.ids)
        return [
            {
                **common,
                "id": pid,
                "record": None if policy is None else self._private(record, policy),
                "prediction": _text(prediction),
                "confidence": _number(confidence),
            }
            for pid, record, prediction, confidence in zip(
                item.ids, item.records, item.predictions or (), confidences, strict=True
            )
        ]

    def _policy(self, model: str, version: int) -> tuple[set[str], dict[str, str]] | None:
        """The input columns of a version and :func:`private_columns`, cached; None (no
        record kept) when they cannot be read."""
        key = (model, version)
        if key not in self._policies:
            try:
                self._policies[key] = _columns(self.workspace, model, version)
            except LeptonError as exc:  # not cached: the registry may answer next time
                _log.warning(
                    "Records of %s:%s are logged without their inputs: %s", model, version, exc
                )
                return None
        return self._policies[key]

    def _private(
        self, record: Mapping[str, Any], policy: tuple[set[str], dict[str, str]]
    ) -> dict[str, Any]:
        names, private = policy
        out = {}
        for name, value in record.items():
            action = private.get(name)
            value = _plain(value)
            if name not in names or action == "drop":  # what the model does not read is not kept
                continue
            if action is not None and value is not None:
                value = self._hashed(value, action)
            out[str(name)] = value
        return out

    def _hashed(self, value: Any, action: str) -> str:
        # A value of a column the data set hashed may be a hash already: kept, it joins.
        if action == "hashed" and _HASHED.fullmatch(str(value)):
            return str(value)
        return hash_value(value, self.salt) or ""

    @property
    def salt(self) -> bytes:
        """The workspace's hashing salt (:func:`lepton_core.data.load_salt`)."""
        if self._salt is None:
            self._salt = load_salt(self.workspace.root)
        return self._salt

    def _db(self) -> Database:
        return open_database(self.workspace.root)

    # ------------------------------------------------------------------ retention
    @property
    def retention_days(self) -> int:
        """Days a prediction is kept: ``$LEPTON_PREDICTION_RETENTION_DAYS``, default 90."""
        return whole_number_setting(
            ENV_RETENTION_DAYS,
            DEFAULT_RETENTION_DAYS,
            what="The prediction log's retention",
            hint="a number of days, 1 or more",
            error=WorkspaceError,
        )

    def delete_expired(self, days: int | None = None) -> int:
        """Delete predictions older than ``days`` (default :attr:`retention_days`); how many."""
        cutoff = datetime.now(UTC) - timedelta(days=days or self.retention_days)
        with self._db().begin() as conn:
            done = conn.execute(sa.delete(predictions_table).where(predictions_table.c.at < cutoff))
        return int(done.rowcount or 0)

    # ------------------------------------------------------------------ feedback
    def add_labels(
        self,
        model: str,
        labels: Mapping[Any, Any] | Iterable[tuple[Any, Any]],
        *,
        key_column: str | None = None,
        version: int | Sequence[int] | None = None,
    ) -> LabelResult:
        """Join true answers to logged predictions of ``model``.

        Parameters
        ----------
        labels : mapping or iterable of pairs
            ``{prediction_id: label}``, or with ``key_column`` ``{key value: label}``. A
            missing label is skipped; a new label replaces an earlier one.
        key_column : str, optional
            Match on this input column of the record instead of the prediction id
            (hashed first when the log hashes it); every prediction with that value gets
            the label.
        version : int or sequence of int, optional
            Only predictions of these versions.
        """
        pairs = [
            (_text(k), _text(v))
            for k, v in (labels.items() if isinstance(labels, Mapping) else labels)
        ]
        pairs = [(k, v) for k, v in pairs if k is not None and v is not None]
        self.flush()  # a prediction still queued gets its label too
        t = predictions_table
        where = [t.c.model == model, t.c.status == "ok"]
        if version is not None:
            versions = [version] if isinstance(version, int) else list(version)
            where.append(t.c.version.in_(versions))
        with self._db().begin() as conn:
            if key_column is None:
                found = self._ids(conn, [k for k, _ in pairs], where)
                matches = {k: [k] for k in found}
            else:
                matches = self._by_key(conn, model, key_column, [k for k, _ in pairs], where)
            now = datetime.now(UTC)
            updates = [
                {"pid": pid, "new_label": label, "when": now}
                for key, label in pairs
                for pid in matches.get(key, ())
            ]
            if updates:
                self._check_answers(conn, model, updates)
                conn.execute(
                    sa.update(t)
                    .where(t.c.id == sa.bindparam("pid"))
                    .values(label=sa.bindparam("new_label"), labelled_at=sa.bindparam("when")),
                    updates,
                )
        unknown = [k for k, _ in pairs if k not in matches]
        return LabelResult(labelled=len({u["pid"] for u in updates}), unknown=len(unknown),
                           examples=unknown[:10])  # fmt: skip

    def _check_answers(self, conn: sa.Connection, model: str, updates: list[dict]) -> None:
        """Refuse every label when one is no answer the labelled versions can give: a
        misspelt class would otherwise count as a wrong prediction in the accuracy."""
        t = predictions_table
        pids = [u["pid"] for u in updates]
        versions: set[int] = set()
        for start in range(0, len(pids), _CHUNK):
            chunk = pids[start : start + _CHUNK]
            versions |= set(
                conn.execute(sa.select(t.c.version).distinct().where(t.c.id.in_(chunk))).scalars()
            )
        answers = [self._answers(model, v) for v in sorted(versions)]
        if any(a is None for a in answers):  # a version whose evaluation is unreadable
            return
        classes = {c for a in answers if a != _NUMBERS for c in a}
        shown = visible_name(model)
        for label in dict.fromkeys(u["new_label"] for u in updates):
            if _NUMBERS in answers and not classes:
                if _number_text(label) is None:
                    raise DataError(
                        Message("predictions.error.label_not_number", label=label, model=shown)
                    )
            elif label not in classes:
                listed = ", ".join(sorted(classes)[:10])
                raise DataError(
                    Message(
                        "predictions.error.label_not_answer",
                        label=label,
                        model=shown,
                        answers=listed,
                    )
                )

    def _answers(self, model: str, version: int) -> tuple[str, ...] | None:
        """The classes a version predicts (:data:`_NUMBERS` for a regression), cached; None
        when its evaluation cannot be read."""
        key = (model, version)
        if key not in self._classes:
            try:
                run_id = self.workspace.model_version(model, version).run_id
                evaluation = self.workspace.find_report(run_id, "evaluation") or {}
            except LeptonError:
                return None
            if evaluation.get("task") == "regression":
                self._classes[key] = _NUMBERS
            elif evaluation.get("classes"):
                self._classes[key] = tuple(str(c) for c in evaluation["classes"])
            else:
                return None
        return self._classes[key]

    @staticmethod
    def _ids(conn: sa.Connection, ids: list[str], where: list[Any]) -> set[str]:
        t = predictions_table
        found: set[str] = set()
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            found |= set(conn.execute(sa.select(t.c.id).where(t.c.id.in_(chunk), *where)).scalars())
        return found

    def _by_key(
        self, conn: sa.Connection, model: str, column: str, keys: list[str], where: list[Any]
    ) -> dict[str, list[str]]:
        """Key → ids of the predictions whose record holds it (one pass over the model's rows)."""
        t = predictions_table
        query = sa.select(t.c.id, t.c.version, t.c.record[column].as_string()).where(*where)
        stored: dict[tuple[int, str], list[str]] = {}
        for pid, version, value in conn.execute(query):
            if (text := _text(value)) is not None:
                stored.setdefault((version, text), []).append(pid)
        matches: dict[str, list[str]] = {}
        for version in {v for v, _ in stored}:
            action = (self._policy(model, version) or (set(), {}))[1].get(column)
            for key in keys:
                # The log keeps a hashed column hashed: so must the key it is matched on.
                sent = self._hashed(key, action) if action in ("hash", "hashed") else key
                if pids := stored.get((version, sent)):
                    matches.setdefault(key, []).extend(pids)
        return matches

    # ------------------------------------------------------------------ reading
    def read_predictions(
        self,
        model: str,
        version: int | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        *,
        limit: int | None = None,
        sample: int | None = None,
        status: str | None = "ok",
    ) -> pd.DataFrame:
        """Logged predictions of a model as a table that :mod:`lepton_core.monitoring` reads.

        Parameters
        ----------
        version : int, optional
            One version; every version by default.
        since, until : datetime or ISO text, optional
            From ``since`` (included) to ``until`` (excluded); UTC when no zone is given.
        limit : int, optional
            The newest ``limit`` predictions only.
        sample : int, optional
            At most about this many, drawn at random over the whole range (the ids are
            random, so a range of ids is a fair sample read through the index).
        status : str or None
            ``"ok"`` (default), ``"error"``, or None for both.

        Returns
        -------
        pandas.DataFrame
            Oldest first: :data:`LOG_COLUMNS` (``time`` in UTC; ``prediction`` and
            ``label`` as text, as numbers for a regression model), then one column per
            input field (a field named like one of those columns gets `` (input)`` added).
        """
        t = predictions_table
        where = self._range(model, version, since, until)
        if status is not None:
            where.append(t.c.status == status)
        # Time and record as the driver returns them (text on SQLite): SQLAlchemy's
        # per-row date and JSON processing took most of the read; both are decoded below
        # in one vectorised pass.
        raw = sa.Text
        query = sa.select(
            sa.type_coerce(t.c.at, raw), t.c.model, t.c.version, t.c.source, t.c.caller,
            t.c.latency_ms, t.c.status, t.c.prediction, t.c.confidence, t.c.label, t.c.id,
            sa.type_coerce(t.c.record, raw),
        ).where(*where)  # fmt: skip
        with self._db().begin() as conn:
            if sample is not None:
                query = query.where(*self._sampled(conn, where, sample))
            if limit is not None:
                query = query.order_by(t.c.at.desc()).limit(limit)
            # Plain tuples: pandas probes SQLAlchemy's Row objects attribute by attribute,
            # which took most of the time for 100,000 rows.
            rows = [tuple(row) for row in conn.execute(query).fetchall()]
        frame = pd.DataFrame(rows, columns=["time", *LOG_COLUMNS[1:], "record"])
        if sample is not None and len(frame) > sample:
            frame = frame.sample(sample, random_state=0)
        frame = frame.sort_values("time", kind="stable").reset_index(drop=True)
        frame["time"] = pd.to_datetime(frame["time"], utc=True)
        frame["confidence"] = frame["confidence"].astype(float)
        ok = frame["status"] == "ok"
        answers = frame.loc[ok, "prediction"]
        # Numbers without a confidence are a regression's answers; an entity model's (the
        # kinds of name found) have no confidence either, and stay text.
        numbers = pd.to_numeric(answers, errors="coerce").notna().sum() == answers.notna().sum()
        if ok.any() and frame.loc[ok, "confidence"].isna().all() and numbers:
            for column in ("prediction", "label"):
                frame[column] = pd.to_numeric(frame[column], errors="coerce")
        inputs = _records(frame.pop("record"))
        inputs.index = frame.index
        inputs.columns = [f"{c} (input)" if c in LOG_COLUMNS else c for c in inputs.columns]
        return pd.concat([frame, inputs], axis=1)

    def traffic_by_window(
        self,
        model: str,
        version: int | None = None,
        window: str | timedelta = "1h",
        since: datetime | str | None = None,
        until: datetime | str | None = None,
    ) -> pd.DataFrame:
        """Requests, errors and latency per time window, counted in SQL.

        Returns
        -------
        pandas.DataFrame
            One row per window that saw traffic, oldest first: ``start`` (UTC),
            ``requests``, ``errors``, ``error_rate``, ``p50_ms`` and ``p99_ms``. PostgreSQL
            computes the percentiles; elsewhere they come from a random sample of at most
            100,000 rows.
        """
        seconds = _window_seconds(window)
        t = predictions_table
        where = self._range(model, version, since, until)
        db = self._db()
        if db.dialect == "postgresql":
            bucket = sa.func.floor(sa.extract("epoch", t.c.at) / seconds) * seconds
        else:  # whole seconds: integer division floors (SQLite may lack floor())
            bucket = sa.cast(sa.func.strftime("%s", t.c.at), sa.Integer) // seconds * seconds
        bucket = bucket.label("bucket")
        columns = [
            bucket,
            sa.func.count().label("requests"),
            sa.func.sum(sa.case((t.c.status == "error", 1), else_=0)).label("errors"),
        ]
        if db.dialect == "postgresql":
            columns += [
                sa.func.percentile_cont(q).within_group(t.c.latency_ms).label(name)
                for q, name in ((0.5, "p50_ms"), (0.99, "p99_ms"))
            ]
        with db.begin() as conn:
            counts = pd.DataFrame(
                conn.execute(sa.select(*columns).where(*where).group_by(bucket).order_by(bucket)),
                columns=[c.name for c in columns],
            )
            if db.dialect != "postgresql" and len(counts):
                latency = sa.select(bucket, t.c.latency_ms).where(
                    *where, *self._sampled(conn, where, _SAMPLE_LATENCIES)
                )
                lat = pd.DataFrame(
                    [tuple(row) for row in conn.execute(latency).fetchall()],
                    columns=["bucket", "latency"],
                )
                by = lat.groupby("bucket")["latency"]
                counts = counts.merge(
                    pd.DataFrame({"p50_ms": by.quantile(0.5), "p99_ms": by.quantile(0.99)}),
                    left_on="bucket", right_index=True, how="left",
                )  # fmt: skip
        counts["start"] = pd.to_datetime(counts.pop("bucket").astype(float), unit="s", utc=True)
        counts["requests"] = counts["requests"].astype(int)
        counts["errors"] = counts["errors"].fillna(0).astype(int)
        counts["error_rate"] = counts["errors"] / counts["requests"].clip(lower=1)
        # No traffic at all on SQLite: the latency columns were never merged in.
        return counts.reindex(
            columns=["start", "requests", "errors", "error_rate", "p50_ms", "p99_ms"]
        )

    @staticmethod
    def _range(
        model: str, version: int | None, since: Any, until: Any
    ) -> list[sa.ColumnElement[bool]]:
        t = predictions_table
        where = [t.c.model == model]
        if version is not None:
            where.append(t.c.version == int(version))
        if since is not None:
            where.append(t.c.at >= _utc(since))
        if until is not None:
            where.append(t.c.at < _utc(until))
        return where

    @staticmethod
    def _sampled(conn: sa.Connection, where: list[Any], rows: int) -> list[sa.ColumnElement[bool]]:
        """A condition keeping about ``rows`` of the rows ``where`` selects (none if fewer)."""
        if rows < 1:
            raise ValueError("sample must be at least 1")
        total = conn.execute(sa.select(sa.func.count()).where(*where)).scalar() or 0
        if total <= rows:
            return []
        # Ids are uniform random hex: those below a threshold are a random share of them.
        share = min(1.0, rows * 1.05 / total)
        return [predictions_table.c.id < format(int(share * 16**8), "08x")]


def _records(values: pd.Series) -> pd.DataFrame:
    """Logged records (JSON text, or dicts from PostgreSQL's driver) as one table.

    Arrow's JSON reader decodes 100,000 records about three times as fast as one
    ``json.loads`` per row; a field whose values change type between rows (a number,
    then text) is beyond it, and those records go through ``json`` instead.
    """
    import io

    import pyarrow as pa
    import pyarrow.json as pa_json

    texts = [_record_text(v) for v in values]
    if not texts:
        return pd.DataFrame(index=range(0))
    try:
        table = pa_json.read_json(io.BytesIO("\n".join(texts).encode()))
        return table.to_pandas() if table.num_rows == len(texts) else _records_json(texts)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return _records_json(texts)


def _record_text(value: Any) -> str:
    if isinstance(value, str) and value.startswith("{"):
        return value
    return json.dumps(value) if isinstance(value, dict) else "{}"  # an error row has none


def _records_json(texts: list[str]) -> pd.DataFrame:
    decoded = json.loads("[" + ",".join(texts) + "]")
    return pd.DataFrame.from_records([r if isinstance(r, dict) else {} for r in decoded])


def _utc(value: datetime | str | pd.Timestamp) -> datetime:
    """A moment in UTC, as the table stores it; a time without a zone is taken as UTC."""
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise DataError(Message("predictions.error.bad_time", value=str(value)[:40])) from None
    if pd.isna(stamp):
        raise DataError(Message("predictions.error.bad_time", value=str(value)[:40]))
    stamp = stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)
    return stamp.to_pydatetime()


def _window_seconds(window: str | timedelta) -> int:
    try:
        seconds = pd.Timedelta(window).total_seconds()
    except (TypeError, ValueError):
        seconds = 0
    if not seconds >= 1:
        raise DataError(Message("predictions.error.bad_window", window=str(window)[:40]))
    return int(seconds)


def _plain(value: Any) -> Any:
    """A value JSON can hold: numpy scalars as Python ones, NaN as null, times as text."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, (datetime, pd.Timestamp)):
        return value.isoformat()
    return str(value)


def _text(value: Any) -> str | None:
    """A prediction, label or key as the table keeps it: ``1.0`` and ``1`` read the same."""
    value = _plain(value)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _number_text(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _number(value: Any) -> float | None:
    value = _plain(value)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


# -- the process's shared logs ---------------------------------------------------------------
_open_logs: weakref.WeakSet[PredictionLog] = weakref.WeakSet()
_shared: dict[tuple[str, Path], PredictionLog] = {}
_shared_lock = threading.Lock()


def prediction_log(workspace: Workspace) -> PredictionLog:
    """The process's log for ``workspace`` (one per database, so one writer thread)."""
    key = (database_url(workspace.root), Path(workspace.root).resolve())
    with _shared_lock:
        if key not in _shared:
            _shared[key] = PredictionLog(workspace)
        return _shared[key]


@atexit.register
def _close_all() -> None:
    # A daemon thread would die with the process: write what is queued first.
    for log in list(_open_logs):
        log.close()


def _after_fork() -> None:
    # A forked child has none of its parent's threads and must not wait on its locks.
    _open_logs.clear()
    _shared.clear()


os.register_at_fork(after_in_child=_after_fork)
