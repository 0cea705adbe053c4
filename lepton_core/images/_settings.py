"""What the image family shows and defaults to: its modes, Train-page settings and the size
the network reads images at."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from lepton_core.core import DataError, Message
from lepton_core.models import Setting

__all__ = ["BUILTIN_BACKBONE", "MODES", "SETTINGS", "auto_image_size", "auto_tune_blocks"]

#: Train the last blocks and a head, or a linear head on frozen features.
MODES = ("finetune", "quick")
#: The network that ships with Lepton; a Hub id or a folder can replace it in Quick mode.
BUILTIN_BACKBONE = "efficientnet-lite0"

SETTINGS = (
    Setting(
        name="backbone",
        label=Message("setting.image.backbone"),
        default=BUILTIN_BACKBONE,
        choices={BUILTIN_BACKBONE: Message("setting.image.backbone.builtin")},
        other=Message("setting.image.backbone.other"),
        other_label=Message("setting.image.backbone.other_label"),
        placeholder=Message("setting.image.backbone.placeholder"),
        help=Message("setting.image.backbone.help"),
    ),
    Setting(
        name="mode",
        label=Message("setting.image.mode"),
        default="finetune",
        choices={
            "finetune": Message("setting.image.mode.finetune"),
            "quick": Message("setting.image.mode.quick"),
        },
        help=Message("setting.image.mode.help"),
        when=("backbone", BUILTIN_BACKBONE),  # another backbone has Quick only
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

# When fine-tuning trains every block: at most this many image passes (training images ×
# epochs) at 128 px, larger images counting as their area. PneumoniaMNIST's 4,708 × 3
# took 5.7 minutes on 2 cores with every block and gained 5 points of test accuracy over
# the last 5 (bench/README.md); 20,000 is about 8 minutes there.
_ALL_BLOCKS_PASSES = 20_000
# ... and while the cached stem outputs (32 maps at half the side, float16) fit in 2 GiB.
_ALL_BLOCKS_CACHE_BYTES = 2 * 2**30
_TAIL_BLOCKS = 5  # otherwise: the last 5 of 16 blocks, a third of the time
_N_BLOCKS = 16


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


def auto_tune_blocks(n_images: int, epochs: float, image_size: int) -> int:
    """How many of the 16 blocks fine-tuning trains when not told: every one for a small
    fine-tune (``n_images`` × ``epochs`` passes, scaled by the image's area against 128 px,
    within about 8 minutes on 2 cores, and its cache within 2 GiB), else the last 5.
    Counts, not a clock, decide it, so the same data gives the same model on any machine."""
    area = (image_size / 128) ** 2
    cache_bytes = n_images * 32 * (image_size // 2) ** 2 * 2
    small = n_images * max(float(epochs), 1.0) * area <= _ALL_BLOCKS_PASSES
    return _N_BLOCKS if small and cache_bytes <= _ALL_BLOCKS_CACHE_BYTES else _TAIL_BLOCKS
