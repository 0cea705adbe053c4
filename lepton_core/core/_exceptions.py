"""Errors raised by Lepton.

Every error a user can cause is a :class:`LeptonError` whose message says, in
one sentence, what happened and what to do next. Pages and the CLI show that
sentence and nothing else; any other exception is a bug.

::

    LeptonError
    ├── DataError        the table cannot be read or cannot be used as asked
    ├── TrainingError    training could not produce a model
    ├── ModelError       a model is missing, unfitted or cannot score the input
    ├── ExplainError     SHAP values could not be computed for this model/input
    ├── WorkspaceError   the workspace (MLflow store, artifacts) is unusable
    └── JobError         a background job could not be started or found

Bad arguments from code (not from a user's data) raise ``ValueError``.

A user error is raised with a :class:`~lepton_core.core.Message` (``DataError(Message(
"load.empty"))``): ``str(error)`` is the English sentence, and a page shows the
Message in the reader's language.
"""

from __future__ import annotations

import errno

from lepton_core.core._messages import Message

__all__ = [
    "DataError",
    "ExplainError",
    "JobError",
    "LeptonError",
    "ModelError",
    "NotFittedError",
    "TrainingError",
    "WorkspaceError",
    "disk_full_error",
]


class LeptonError(Exception):
    """Base class of every error a user can act on."""


class DataError(LeptonError):
    """The data cannot be loaded or does not fit the requested task."""


class TrainingError(LeptonError):
    """Training failed for a reason the user can fix."""


class ModelError(LeptonError):
    """A model is unknown, unfitted or cannot score the given input."""


class NotFittedError(ModelError, AttributeError):
    """A model was used before ``fit``; subclass of ``AttributeError`` like scikit-learn's."""


class ExplainError(LeptonError):
    """Explanations could not be computed."""


class WorkspaceError(LeptonError):
    """The workspace cannot be opened, read or written."""


class JobError(LeptonError):
    """A background job could not be started, found or read."""


def disk_full_error(exc: BaseException) -> WorkspaceError | None:
    """The :class:`WorkspaceError` to show when ``exc`` (or what caused it) is a full disk.

    Libraries wrap ``OSError`` in their own exceptions, so the whole chain is searched.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT):
            if current.filename:
                return WorkspaceError(Message("error.disk_full_at", path=str(current.filename)))
            return WorkspaceError(Message("error.disk_full"))
        current = current.__cause__ or current.__context__
    return None
