"""Model families behind one scikit-learn estimator contract, and the registry that names them.

==========  =================================  =======================================
family      final_estimator_                   files next to ``model.json``
==========  =================================  =======================================
lightgbm    ``lightgbm.Booster``               ``booster.txt``
logistic    ``LogisticRegression``/``Ridge``    ``pipeline.skops``
tree        ``DecisionTree*``                  ``pipeline.skops``
mlp         ``torch.nn.Sequential``            ``pipeline.skops``, ``weights.safetensors``
mitigated   thresholds or an ensemble          ``base/`` (the model it was made from)
ensemble    the members' weights               ``member_0/``, ... (each member's own files)
federated   ``torch.nn.Sequential``            ``weights.safetensors`` (encoding in ``model.json``)
text        a transformer network              its weights or head, the tokenizer
ngram       TF-IDF n-grams + a linear model    ``pipeline.skops``, ``tokens.json``
==========  =================================  =======================================
"""

from lepton_core.models._base import (
    BASE_REQUIREMENTS,
    FORMAT_VERSION,
    MODEL_FILE,
    LeptonModel,
    ProgressFn,
    Setting,
    private_params,
)
from lepton_core.models._columns import (
    probabilities_from_raw,
)
from lepton_core.models._ensemble import (
    EnsembleModel,
    ensemble_scorer,
    greedy_weights,
    member_output,
)
from lepton_core.models._federated import (
    FederatedModel,
)
from lepton_core.models._int8 import (
    COMPRESSION_METHODS,
    Int8,
    quantize_dynamic,
)
from lepton_core.models._lightgbm import (
    LightGBMModel,
)
from lepton_core.models._linear import (
    LinearModel,
)
from lepton_core.models._mitigated import (
    METHOD_TITLES,
    MITIGATION_METHODS,
    MitigatedModel,
)
from lepton_core.models._mlp import (
    DPMLPModel,
    MLPModel,
    train_network,
    train_private,
)
from lepton_core.models._onnx import (
    OPSET,
    OnnxNetwork,
    OnnxScorer,
    quantize_onnx,
)

# Pipelines saved before the package was split name their one-hot namer here.
from lepton_core.models._pipeline import (
    PipelineModel,
    _onehot_name,  # noqa: F401
)
from lepton_core.models._pretrained import (
    from_pretrained,
    pretrained_source,
)
from lepton_core.models._registry import (
    family_class,
    family_names,
    family_title,
    load_model,
    make_model,
)
from lepton_core.models._tree import (
    TreeModel,
)

__all__ = [
    "BASE_REQUIREMENTS",
    "COMPRESSION_METHODS",
    "FORMAT_VERSION",
    "METHOD_TITLES",
    "MITIGATION_METHODS",
    "MODEL_FILE",
    "OPSET",
    "DPMLPModel",
    "EnsembleModel",
    "FederatedModel",
    "Int8",
    "LeptonModel",
    "LightGBMModel",
    "LinearModel",
    "MLPModel",
    "MitigatedModel",
    "OnnxNetwork",
    "OnnxScorer",
    "PipelineModel",
    "ProgressFn",
    "Setting",
    "TreeModel",
    "ensemble_scorer",
    "family_class",
    "family_names",
    "family_title",
    "from_pretrained",
    "greedy_weights",
    "load_model",
    "make_model",
    "member_output",
    "pretrained_source",
    "private_params",
    "probabilities_from_raw",
    "quantize_dynamic",
    "quantize_onnx",
    "train_network",
    "train_private",
]
