"""The model families Lepton knows, by name.

A family is one :class:`~lepton_core.models.LeptonModel` subclass that owns all that
differs between families (see the class's "what the family is" attributes). The
registry maps each name to where its class lives and imports it the first time it
is asked for, the way MLflow loads a flavour: the registry never imports its plugins,
so a family may live in a higher package (``text``) and keep its heavy libraries
to itself. Family modules import torch, transformers and the like inside their
methods, so asking a family for its title or settings stays cheap.

Adding a family is its module, one line in :data:`_FAMILIES` and its tests
(``docs/model-families.md``).
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lepton_core.core import TASKS, ModelError, Task
from lepton_core.models._base import FORMAT_VERSION, MODEL_FILE

if TYPE_CHECKING:
    from lepton_core.models._base import LeptonModel

__all__ = ["family_class", "family_names", "family_title", "load_model", "make_model"]

#: family name → "module:class", in the order the Train page lists them.
_FAMILIES = {
    "lightgbm": "lepton_core.models._lightgbm:LightGBMModel",
    "logistic": "lepton_core.models._linear:LinearModel",
    "tree": "lepton_core.models._tree:TreeModel",
    "mlp": "lepton_core.models._mlp:MLPModel",
    "text": "lepton_core.text:TextModel",
    "ngram": "lepton_core.text:NgramTextModel",
    "image": "lepton_core.images:ImageModel",
    "ner_crf": "lepton_core.ner:NerCrfModel",
    "ner_minilm": "lepton_core.ner:NerMiniLMModel",
    "ner_spacy": "lepton_core.ner:NerSpacyModel",
    "mitigated": "lepton_core.models._mitigated:MitigatedModel",
    "ensemble": "lepton_core.models._ensemble:EnsembleModel",
    "federated": "lepton_core.models._federated:FederatedModel",
}


def family_class(name: str) -> type[LeptonModel]:
    """The class of the family ``name``.

    Raises
    ------
    ValueError
        No family has that name.
    """
    if name not in _FAMILIES:
        raise ValueError(f"Unknown model family {name!r}; use one of {', '.join(family_names())}.")
    module, _, cls = _FAMILIES[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def family_names(*, reads: str | None = None, searchable: bool | None = None) -> list[str]:
    """Names of the families a person can train, optionally only those that read ``reads``
    ("table" or "text") or that Auto may (or may not) search."""
    names = []
    for name in _FAMILIES:
        cls = family_class(name)
        if not cls.trainable or (reads is not None and cls.reads != reads):
            continue
        if searchable is None or cls.searchable == searchable:
            names.append(name)
    return names


def family_title(name: str) -> str:
    """The family's name for people; the name itself for one Lepton does not know."""
    return family_class(name).title if name in _FAMILIES else name


def make_model(family: str, task: Task, *, seed: int = 0, **params: Any) -> LeptonModel:
    """A new, unfitted model of ``family`` for ``task``; ``params`` override the defaults."""
    if family not in _FAMILIES or not family_class(family).trainable:
        raise ValueError(
            f"Unknown model family {family!r}; use one of {', '.join(family_names())}."
        )
    cls = family_class(family)
    if task not in TASKS:
        raise ValueError(f"Unknown task {task!r}; use one of {', '.join(TASKS)}.")
    known = set(cls().get_params(deep=False))
    unknown = sorted(set(params) - known)
    if unknown:
        raise ValueError(
            f"Unknown parameter {unknown[0]!r} for {family}; use {', '.join(sorted(known))}."
        )
    return cls(task=task, seed=seed, **params)


def load_model(path: str | os.PathLike) -> LeptonModel:
    """Read a model that :meth:`LeptonModel.save` wrote into the folder ``path``."""
    folder = Path(path)
    meta_file = folder / MODEL_FILE
    if not meta_file.is_file():
        raise ModelError(
            f"There is no saved model in '{folder}'; pick the folder a model was saved to."
        )
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    if meta.get("format_version") != FORMAT_VERSION or meta.get("family") not in _FAMILIES:
        raise ModelError(
            f"The model in '{folder}' was saved by another Lepton version; train it again here."
        )
    return family_class(meta["family"]).load(folder, meta)
