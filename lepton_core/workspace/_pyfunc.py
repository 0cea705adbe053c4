"""MLflow "model from code" entry point, so a Lepton model is a standard MLflow pyfunc.

MLflow reads this file instead of unpickling a Python object; it loads the
estimator Lepton saved under the ``lepton_model`` artifact. Lepton itself
loads models through :meth:`lepton_core.workspace._workspace.Workspace.load_model`,
which checks the files' hashes first.
"""

from __future__ import annotations

import mlflow.pyfunc
import pandas as pd
from mlflow.models import set_model


class LeptonPyfunc(mlflow.pyfunc.PythonModel):
    """Predicts labels (and class probabilities) with a saved Lepton model."""

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        from lepton_core.models import load_model

        self.model = load_model(context.artifacts["lepton_model"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        out = pd.DataFrame({"prediction": self.model.predict(model_input)})
        if self.model.task != "regression":
            proba = self.model.predict_proba(model_input)
            for i, label in enumerate(self.model.classes_):
                out[f"proba_{label}"] = proba[:, i]
        return out


set_model(LeptonPyfunc())
