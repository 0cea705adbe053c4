"""What the image family shows and defaults to: its modes, Train-page settings and the size
the network reads images at."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from lepton_core.core import DataError, Message
from lepton_core.models import Setting

__all__ = ["MODES", "SETTINGS", "auto_image_size"]

#: Train the last blocks and a head, or a linear head on frozen features.
MODES = ("finetune", "quick")

SETTINGS = (
    Setting(
        name="mode",
        label=Message("setting.image.mode"),
        default="finetune",
        choices={
            "finetune": Message("setting.image.mode.finetune"),
            "quick": Message("setting.image.mode.quick"),
        },
        help=Message("setting.image.mode.help"),
    ),
    Setting(
        name="epochs",
        label=Message("setting.image.epochs"),
        default=3,
        minimum=1,
        maximum=30,
        step=1,
        when=("mode", "finetune"),
        help=Message("setting.image.epochs.help"),
    ),
)

_SAMPLE = 32


def auto_image_size(refs: Sequence[str], opener: Callable[[str], Any]) -> int:
    """The side the network reads: four times the median shorter side of a few images
    (small pictures are enlarged so the network's filters see their detail), between 96
    and 224 (what it was trained at), in steps of 32."""
    step = max(1, len(refs) // _SAMPLE)
    sides = []
    for ref in list(refs)[::step][:_SAMPLE]:
        try:
            sides.append(min(opener(ref).size))
        except DataError:
            continue
    if not sides:
        return 224
    side = sorted(sides)[len(sides) // 2] * 4
    return int(min(224, max(96, round(side / 32) * 32)))
