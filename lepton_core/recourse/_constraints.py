"""What a counterfactual may change: the rules a person sets once per data set.

Every sensitive attribute is immutable by default (a counterfactual never asks someone
to change their sex or age); the person adds other immutable features, features that
can only go up (education in years, say), ranges and steps for numbers, and the outcome
people want (``desired``: ``">50K"`` for Adult, ``0`` — no default — for a credit data
set). They are stored with the data set (:meth:`Workspace.set_dataset_setting`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lepton_core.core import DataError, JsonMixin, Message
from lepton_core.data import InputSchema
from lepton_core.workspace import DatasetInfo, Workspace

__all__ = ["SETTING_KEY", "RecourseConstraints", "load_constraints", "save_constraints"]

#: The data set setting the constraints are stored under.
SETTING_KEY = "recourse"


@dataclass
class RecourseConstraints(JsonMixin):
    """The rules every counterfactual of one data set keeps.

    Attributes
    ----------
    immutable : list of str
        Features that never change (the sensitive attributes by default).
    only_up : list of str
        Numeric features that may only rise.
    ranges : dict of str to [low, high]
        The values a numeric feature may take (the training range where none is set).
    steps : dict of str to float
        A numeric feature changes by whole multiples of its step (1 for whole numbers
        where none is set).
    desired : str or None
        The outcome people want; None: the positive label (the second in sorted order,
        or the one that reads as "yes").
    """

    immutable: list[str] = field(default_factory=list)
    only_up: list[str] = field(default_factory=list)
    ranges: dict[str, list[float]] = field(default_factory=dict)
    steps: dict[str, float] = field(default_factory=dict)
    desired: str | None = None

    @classmethod
    def for_dataset(cls, info: DatasetInfo) -> RecourseConstraints:
        """The defaults: every sensitive attribute immutable, nothing else set."""
        return cls(immutable=list(info.sensitive))

    def check(self, schema: InputSchema) -> None:
        """Refuse rules that name a feature the model does not read, or bad numbers.

        Raises
        ------
        DataError
            One sentence naming the feature and what to do.
        """
        fields = {f.name: f for f in schema.fields}
        named = [*self.immutable, *self.only_up, *self.ranges, *self.steps]
        for name in named:
            if name not in fields:
                raise DataError(
                    Message(
                        "recourse.unknown_feature",
                        feature=name,
                        features=", ".join(schema.names),
                    )
                )
        for name in [*self.only_up, *self.ranges, *self.steps]:
            if fields[name].kind != "numeric":
                raise DataError(Message("recourse.not_numeric", feature=name))
        for name, bounds in self.ranges.items():
            if len(bounds) != 2 or not bounds[0] <= bounds[1]:
                raise DataError(Message("recourse.bad_range", feature=name))
        for name, step in self.steps.items():
            if not step > 0:
                raise DataError(Message("recourse.bad_step", feature=name))


def load_constraints(workspace: Workspace, dataset_id: str) -> RecourseConstraints:
    """The data set's stored constraints, or the defaults where none are stored."""
    stored: Any = workspace.dataset_setting(dataset_id, SETTING_KEY)
    if stored is None:
        return RecourseConstraints.for_dataset(workspace.get_dataset(dataset_id))
    return RecourseConstraints.from_dict(stored)


def save_constraints(
    workspace: Workspace,
    dataset_id: str,
    constraints: RecourseConstraints,
    schema: InputSchema | None = None,
) -> None:
    """Store the constraints with the data set, checked against ``schema`` when given."""
    if schema is not None:
        constraints.check(schema)
    workspace.set_dataset_setting(dataset_id, SETTING_KEY, constraints.to_dict())
