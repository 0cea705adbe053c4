"""The Hugging Face Hub, when this machine can reach it: data sets by id.

Everything here fails within seconds with one clear sentence when the machine
is offline, instead of retrying for a minute. ``datasets`` is imported inside the
functions that use it: it takes about a second to import and most runs never touch the Hub.
"""

from __future__ import annotations

import functools
import os
import socket
from typing import Any
from urllib.parse import urlparse

import pandas as pd

from lepton_core.core import DataError, Message
from lepton_core.data._limits import InputLimits

__all__ = ["hub_reachable", "load_hub_dataset", "parse_hub_source"]

# Hub data sets are often far larger than a notebook needs: the first rows are kept.
_MAX_ROWS = 1_000_000


@functools.lru_cache(maxsize=1)
def hub_reachable() -> bool:
    """Whether the Hub's host answers at all; asked once per process."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname
    try:
        socket.create_connection((host, 443), timeout=3).close()
    except OSError:
        return False
    return True


def parse_hub_source(source: str) -> tuple[str, str | None, str]:
    """``hub:ID[:CONFIG][@SPLIT]`` as ``(id, config, split)``; the split defaults to train."""
    spec = source.removeprefix("hub:").strip()
    spec, _, split = spec.partition("@")
    dataset_id, _, config = spec.partition(":")
    if not dataset_id:
        raise DataError(Message("hub.no_id"))
    return dataset_id, config or None, split or "train"


def load_hub_dataset(dataset_id: str, *, config: str | None = None, split: str = "train") -> Any:
    """One split of a Hub data set as a pandas table, class labels as their names.

    Raises
    ------
    DataError
        The machine is offline, or the data set, config or split does not exist.
    """
    import datasets

    datasets.disable_progress_bars()
    try:  # a data set downloaded before loads without the network
        with _offline():
            loaded = datasets.load_dataset(dataset_id, config, split=split)
    except Exception as cached_error:  # datasets raises many types; retried below
        if not hub_reachable():
            raise DataError(Message("hub.offline", dataset=dataset_id)) from None
        try:
            loaded = datasets.load_dataset(dataset_id, config, split=split)
        except Exception as error:  # shown to the user in one sentence
            detail = str(error).splitlines()[0][:160] if str(error) else type(error).__name__
            raise DataError(
                Message("hub.failed", dataset=dataset_id, detail=detail)
            ) from cached_error
    frame = loaded.select(range(_rows_within_limits(loaded))).to_pandas()
    for name, feature in loaded.features.items():
        if isinstance(feature, datasets.ClassLabel):
            # Unlabelled rows (-1, e.g. a hidden test split) become missing values.
            frame[name] = pd.Series(
                [feature.names[v] if 0 <= v < len(feature.names) else None for v in frame[name]],
                dtype="str",
            )
    return frame


def _rows_within_limits(loaded: Any) -> int:
    """How many of the data set's first rows to keep, checked against :class:`InputLimits`
    while its values are still memory-mapped Arrow files, not pandas objects."""
    limits = InputLimits.from_env()
    columns = max(len(loaded.column_names), 1)
    limits.check_shape(0, columns)
    keep = min(loaded.num_rows, _MAX_ROWS, limits.max_rows, limits.max_cells // columns)
    if loaded.num_rows:
        limits.check_decompressed(loaded.data.nbytes * keep // loaded.num_rows)
    return keep


class _offline:
    """Make ``datasets`` use only its local cache for the duration of a ``with``."""

    def __enter__(self) -> None:
        import datasets.config

        self._saved = datasets.config.HF_HUB_OFFLINE
        datasets.config.HF_HUB_OFFLINE = True

    def __exit__(self, *exc: object) -> None:
        import datasets.config

        datasets.config.HF_HUB_OFFLINE = self._saved
