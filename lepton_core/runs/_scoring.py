"""Score and explain records with a registered model: the demo page's engine.

A :class:`ModelBundle` carries everything a visitor needs and nothing from the
publisher's session: the model, its input schema, a background sample for
explanations, and the headline figures measured when it was trained.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from lepton_core.core import JsonMixin, Message, ModelError
from lepton_core.data import InputSchema
from lepton_core.explain import Explanation, explain
from lepton_core.models import LeptonModel
from lepton_core.runs._reports import RunReports, load_run_reports
from lepton_core.workspace import ModelVersionInfo, Workspace

__all__ = ["ModelBundle", "Prediction", "load_bundle", "one_row"]


@dataclass
class Prediction(JsonMixin):
    """One record's prediction with its SHAP explanation."""

    label: Any
    probabilities: dict[str, float] | None
    explanation: Explanation


@dataclass
class ModelBundle:
    """A registered model version with what scoring and explaining it needs.

    ``demo_title`` and ``demo_description`` are what the owner set for the demo page
    (:meth:`~lepton_core.workspace.Workspace.set_demo_text`), one plain line each; empty
    where none is set, and the page then uses the automatic title.
    """

    version: ModelVersionInfo
    model: LeptonModel
    input_schema: InputSchema
    background: pd.DataFrame
    reports: RunReports
    demo_title: str = ""
    demo_description: str = ""

    def predict(self, records: list[dict[str, Any]]) -> list[Prediction]:
        """Predict and explain each record (checked against the input schema first)."""
        features = self.input_schema.to_frame(records)
        labels, proba = self.model.predict_scored(features)
        expl = explain(self.model, features, background=self.background, max_rows=len(features))
        out = []
        for i, label in enumerate(labels):
            probabilities = (
                {str(c): float(p) for c, p in zip(self.model.classes_, proba[i], strict=True)}
                if proba is not None
                else None
            )
            out.append(
                Prediction(
                    label=label.item() if hasattr(label, "item") else label,
                    probabilities=probabilities,
                    explanation=one_row(expl, i),
                )
            )
        return out


def one_row(expl: Explanation, i: int) -> Explanation:
    return expl.subset([i])


def load_bundle(
    workspace: Workspace,
    name: str,
    version: str | int | None = None,
    *,
    require_published: bool = False,
) -> ModelBundle:
    """Load a model version and its stored reports.

    Raises
    ------
    ModelError
        The model or version does not exist, its files changed on disk, or it is
        not published when ``require_published`` is set.
    """
    info = workspace.model_version(name, version)
    if require_published and not info.published:
        raise ModelError(Message("runs.not_published", model=info.name, version=info.version))
    run = info.run_id
    background = workspace.load_report(run, "background")
    schema = workspace.load_input_schema(run)
    title, description = workspace.demo_text(info.name, info.version)
    return ModelBundle(
        version=info,
        model=workspace.load_model(info.name, info.version),
        input_schema=schema,
        background=schema.prepare(pd.DataFrame(background["data"], columns=background["columns"])),
        reports=load_run_reports(workspace, run),
        demo_title=title,
        demo_description=description,
    )
