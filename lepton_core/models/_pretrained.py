"""Pretrained transformers models from a local folder or the Hugging Face Hub, loaded safely.

Shared by the families that start from such a model (text encoders, image backbones):

- a local folder loads as it is and must hold safetensors weights;
- a hub id loads from the local cache first (a model downloaded once works offline),
  then from the Hub;
- an offline machine, a model without safetensors or a wrong name each give one sentence
  that names the family's built-in model as the way out.

Remote code is never run (``trust_remote_code=False``). transformers is not imported
here: the caller hands in its ``AutoModel``-style loader.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lepton_core.core import Message, ModelError
from lepton_core.data import hub_reachable

__all__ = ["from_pretrained", "pretrained_source"]

# Words in transformers' and huggingface_hub's errors when the files could not be fetched.
_OFFLINE_WORDS = ("offline", "connect", "Connection", "resolve", "cached", "Network", "timed out")


def pretrained_source(name: str) -> str:
    """Where a model that is not built in loads from: a folder (which must hold
    safetensors weights) as itself, anything else as a Hugging Face Hub id.

    Raises
    ------
    ModelError
        The folder holds no ``.safetensors`` file, or ``name`` looks like a path that
        does not exist.
    """
    name = name.strip()
    folder = Path(name).expanduser()
    if folder.is_dir():
        if not any(folder.glob("*.safetensors")):
            raise ModelError(Message("pretrained.no_safetensors", name=name))
        return str(folder)
    if name.startswith((".", "/", "~")) or os.sep in name.strip("/").replace("/", "", 1):
        raise ModelError(Message("pretrained.no_folder", name=name))
    return name


def _hub_error(name: str, error: Exception, builtin: str) -> ModelError:
    """The one sentence for a model ``name`` that did not load because of ``error``;
    ``builtin`` names the family's built-in model (a Message such as "the built-in ...")."""
    text = str(error)
    if any(word in text for word in _OFFLINE_WORDS):
        return ModelError(Message("pretrained.offline", name=name, builtin=builtin))
    if "safetensors" in text:
        return ModelError(Message("pretrained.hub_no_safetensors", name=name))
    detail = text.splitlines()[0][:160] if text else type(error).__name__
    return ModelError(Message("pretrained.failed", name=name, detail=detail, builtin=builtin))


def from_pretrained(loader: Any, name: str, source: str, *, builtin: str, **kwargs: Any) -> Any:
    """``loader.from_pretrained(source, **kwargs)``, without remote code: a folder as it is,
    a hub id from the local cache first, then from the Hub.

    Parameters
    ----------
    loader : type
        A transformers auto class (``AutoModel``, ``AutoTokenizer``, ...).
    name : str
        What the person asked for, as errors name it.
    source : str
        Where it loads from (:func:`pretrained_source`, or a family's verified folder).
    builtin : str
        The family's built-in model, offered when loading fails.

    Raises
    ------
    ModelError
        Offline and not in the cache, no safetensors weights, or no such model.
    """
    kwargs["trust_remote_code"] = False
    if Path(source).is_dir():
        try:
            return loader.from_pretrained(source, **kwargs)
        except (OSError, ValueError) as error:  # e.g. a file the loader needs is missing
            detail = str(error).splitlines()[0][:160] if str(error) else type(error).__name__
            raise ModelError(
                Message("pretrained.failed", name=name, detail=detail, builtin=builtin)
            ) from None
    try:  # a hub model downloaded before loads without the network
        return loader.from_pretrained(source, local_files_only=True, **kwargs)
    except (OSError, ValueError) as error:
        if not hub_reachable():
            raise _hub_error(name, ConnectionError("offline"), builtin) from None
        cached_error = error
    try:
        return loader.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as error:
        raise _hub_error(name, error, builtin) from cached_error
