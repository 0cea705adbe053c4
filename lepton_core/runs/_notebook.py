"""A Jupyter notebook that reproduces a training run with ``lepton_core`` calls.

:func:`run_notebook` writes the steps :func:`lepton_core.runs.train` takes — the same
data set and split, the same family, settings and seed, the same evaluation, fairness
and SHAP calls — as code cells, with a short explanation before each in the reader's
language. Run top to bottom, it prints the run's metrics, fairness figures and most
important columns again; it registers nothing. nbformat is imported inside the function
that builds the notebook.
"""

from __future__ import annotations

import pprint
from typing import Any

from lepton_core.core import LANGUAGES, Message, WorkspaceError
from lepton_core.models import family_class
from lepton_core.workspace import Workspace

__all__ = ["notebook_bytes", "run_notebook"]

_TAG = "lepton."
# How record_run turns its background rows into model input, for text and for tables.
_BACKGROUND_TEXT = 'background_raw.fillna("").astype("str")'
_BACKGROUND_TABLE = "prepare_features(background_raw, data.schema, target)"


def run_notebook(workspace: Workspace, run_id: str, *, language: str = "en") -> Any:
    """The notebook (an ``nbformat`` v4 node) that trains run ``run_id`` again.

    Raises
    ------
    WorkspaceError
        The run does not exist, stored no training configuration, was derived from
        another run (mitigation, compression) or combines several (an ensemble): fitting
        one model cannot redo those. A federated run's notebook trains it federated again.
    """
    import nbformat.v4 as nbf

    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, not {language!r}")
    run = workspace.get_run(run_id)
    tags = workspace.client.get_run(run_id).data.tags
    parent = tags.get(_TAG + "parent_run")
    if parent:
        raise WorkspaceError(Message("notebook.derived", run=run_id, parent=parent))
    if workspace.find_report(run_id, "ensemble") is not None:
        raise WorkspaceError(Message("notebook.ensemble", run=run_id))
    config = dict(workspace.load_report(run_id, "config"))
    # The data set as the run stored it: a file or sample is read from the workspace's copy.
    config["data"] = f"dataset:{run.dataset_id}"
    reads_text = family_class(config["model"]).reads in ("text", "image")

    def say(text: Message) -> Any:
        return nbf.new_markdown_cell(text.render(language))

    def code(source: str, tag: str = "") -> Any:
        return nbf.new_code_cell(source.strip(), metadata={"tags": [tag]} if tag else {})

    federated = workspace.find_report(run_id, "federated")
    if federated is not None:  # its model came from averaged weights: train it that way
        settings = {**federated["config"], "data": config["data"], "register": False}
        return _notebook(
            nbf,
            [
                say(
                    Message(
                        "notebook.federated",
                        run=run_id,
                        model=f"{run.model_name}:{run.model_version}",
                        dataset=run.dataset_name,
                        clients=len(federated["clients"]),
                        rounds=settings["rounds"],
                    )
                ),
                code(
                    f"""
from lepton_core.runs import FederatedConfig, run_federated
from lepton_core.workspace import Workspace

workspace = Workspace({str(workspace.root)!r})
config = FederatedConfig.from_dict(
{_indent(pprint.pformat(settings, sort_dicts=False, width=88))}
)
result = run_federated(config, workspace=workspace)
{{"federated": result.federated, "centralised": result.centralised}}
""",
                    "metrics",
                ),
            ],
        )

    cells = [
        say(
            Message(
                "notebook.intro",
                run=run_id,
                model=f"{run.model_name}:{run.model_version}",
                family=run.family,
                dataset=run.dataset_name,
            )
        ),
        say(Message("notebook.setup")),
        code(
            f"""
from lepton_core.data import prepare_features
from lepton_core.evaluation import evaluate, fairness_reports
from lepton_core.explain import explain, summarize
from lepton_core.models import make_model
from lepton_core.runs import TrainConfig, prepare_data
from lepton_core.workspace import Workspace

workspace = Workspace({str(workspace.root)!r})
config = TrainConfig.from_dict(
{_indent(pprint.pformat(config, sort_dicts=False, width=88))}
)
"""
        ),
        say(Message("notebook.data")),
        code(
            """
data = prepare_data(config, workspace)
split, target = data.split, data.info.target
print(f"{len(split.train):,} training rows, {len(split.valid):,} validation, "
      f"{len(split.test):,} test; predicting {target!r} ({data.info.task})")
"""
        ),
        say(Message("notebook.train")),
        code(
            """
model = make_model(config.model, data.info.task, seed=config.seed, **config.params)
if config.privacy is not None:
    model = model.private(config.privacy)
has_valid = len(split.valid) > 0
model.fit(
    data.x_train,
    split.train[target].to_numpy(),
    X_valid=data.x_valid if has_valid else None,
    y_valid=split.valid[target].to_numpy() if has_valid else None,
)
"""
        ),
        say(Message("notebook.evaluate")),
        code(
            """
y_test = split.test[target].to_numpy()
y_pred, proba = model.predict_scored(data.x_test)
classes = list(model.classes_) if proba is not None else None
evaluation = evaluate(y_test, y_pred, task=data.info.task, y_proba=proba, classes=classes)
evaluation.metrics
""",
            "metrics",
        ),
        code('{"test_rows": evaluation.n_rows, "confusion": evaluation.confusion}', "counts"),
        say(Message("notebook.fairness")),
        code(
            """
attributes = data.info.sensitive
fairness = fairness_reports(
    y_test,
    y_pred,
    sensitive_features=split.test[attributes].reset_index(drop=True),
    task=data.info.task,
    positive_label=classes[1] if data.info.task == "binary" and classes else None,
) if attributes else []
{report.attribute: report.summary() for report in fairness}
""",
            "fairness",
        ),
        say(Message("notebook.explain")),
        code(
            f"""
# The same 100 background rows the run drew, with the same seed.
background_raw = split.train[data.features].sample(
    min(100, len(split.train)), random_state=config.seed
)
background = {_BACKGROUND_TEXT if reads_text else _BACKGROUND_TABLE}
explanation = explain(
    model, data.x_test, background=background, max_rows=config.explain_rows, seed=config.seed
)
importance = summarize(explanation)["importance"]
first = next(iter(importance))
importance[first][:10]
""",
            "shap",
        ),
    ]
    return _notebook(nbf, cells)


def _notebook(nbf: Any, cells: list[Any]) -> Any:
    notebook = nbf.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    notebook.metadata["language_info"] = {"name": "python"}
    return notebook


def notebook_bytes(workspace: Workspace, run_id: str, *, language: str = "en") -> bytes:
    """:func:`run_notebook` as the ``.ipynb`` file's bytes (for a download button)."""
    import nbformat

    return nbformat.writes(run_notebook(workspace, run_id, language=language)).encode("utf-8")


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())
