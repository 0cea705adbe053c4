"""The Evaluate page's fusion section: average this model with others of its data set."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages._common import guard, list_runs, run_label, workspace
from app_pages._i18n import tr
from app_pages._team import may
from lepton_core.runs import fuse_versions
from lepton_core.workspace import Role, RunSummary


def fusion_section(run: RunSummary) -> None:
    """Pick other registered versions of the run's data set and fuse them with this one."""
    with st.expander(tr("Fuse with other models"), icon=":material/join:"):
        others = [
            r
            for r in list_runs()
            if r.dataset_id == run.dataset_id
            and r.run_id != run.run_id
            and r.model_version is not None
            and r.task == run.task
        ]
        st.write(
            tr(
                "Average this model's answers with other models trained on the same data set. "
                "The weights are fitted on the validation rows; the mix becomes a new model "
                "version, evaluated on the same test rows, that deploys like any other."
            )
        )
        if not others:
            st.write(tr("Train another model on this data set to fuse it with this one."))
            return
        if not may(Role.EDITOR):
            st.write(tr("An editor of this workspace can fuse models here."))
            return
        picked = st.multiselect(
            tr("Models to add"),
            [r.run_id for r in others],
            format_func=lambda i: run_label(next(r for r in others if r.run_id == i)),
            key="fusion_runs",
        )
        if st.button(tr("Fuse"), icon=":material/join:", disabled=not picked):
            refs = [f"{run.model_name}:{run.model_version}"]
            refs += [f"{r.model_name}:{r.model_version}" for r in others if r.run_id in picked]
            with st.spinner(tr("Fitting the weights and scoring the mix on the test rows…")):
                result = guard(fuse_versions, workspace(), refs)
            st.success(
                tr("Registered {model}:{version}; validation {metric} {score:.4f}.").format(
                    model=result.model_name,
                    version=result.model_version,
                    metric={"roc_auc": "ROC AUC", "r2": "R²"}.get(result.metric, result.metric),
                    score=result.valid_score,
                )
            )
            st.dataframe(
                pd.DataFrame(
                    {
                        tr("model"): [m["model"] for m in result.members],
                        tr("weight"): [m["weight"] for m in result.members],
                        tr("validation score"): [m["score"] for m in result.members],
                    }
                ),
                hide_index=True,
            )
