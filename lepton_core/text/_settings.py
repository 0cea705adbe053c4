"""What the text family shows and defaults to: its Train-page settings, the private
variant's defaults and what the Train page says about training it privately."""

from __future__ import annotations

from lepton_core.core import Message
from lepton_core.models import Setting
from lepton_core.text._library import DEFAULT_BASE, LIBRARY

__all__ = [
    "DP_FINETUNE_BATCH",
    "DP_FINETUNE_EPOCHS",
    "DP_FINETUNE_LEARNING_RATE",
    "DP_FINETUNE_PATIENCE",
    "DP_TEXT_MAX_LENGTH",
    "MODES",
    "PRIVACY_NOTES",
    "SETTINGS",
]

#: Fine-tune every weight, or train only a head on frozen embeddings.
MODES = ("finetune", "quick")
_MODE_TITLES = {
    "finetune": Message("setting.text.mode.finetune"),
    "quick": Message("setting.text.mode.quick"),
}

#: The Train page's few settings; the rest keep their defaults.
SETTINGS = (
    Setting(
        name="base",
        label=Message("setting.text.base"),
        default=DEFAULT_BASE,
        choices={m.key: m.title for m in LIBRARY},
        other=Message("setting.text.base.other"),
        help=Message("setting.text.base.help"),
    ),
    Setting(
        name="mode",
        label=Message("setting.text.mode"),
        default="finetune",
        choices=_MODE_TITLES,
        help=Message("setting.text.mode.help"),
    ),
    Setting(
        name="epochs",
        label=Message("setting.text.epochs"),
        default=1,
        minimum=1,
        maximum=20,
        step=1,
        when=("mode", "finetune"),
        help=Message("setting.text.epochs.help"),
    ),
)

#: Truncation length of a private model unless the user sets one: a fixed setting, so
#: that it reveals nothing about the private texts (short-text classification rarely
#: needs more).
DP_TEXT_MAX_LENGTH = 128
#: DP fine-tune: larger expected batches (the noise per step is shared by the batch),
#: larger steps and more epochs than the plain fine-tune, as in DP NLP work.
DP_FINETUNE_BATCH = 256
DP_FINETUNE_EPOCHS = 3.0
DP_FINETUNE_LEARNING_RATE = 5e-3
#: Evaluations without a lower validation loss before stopping (noisy under DP).
DP_FINETUNE_PATIENCE = 3

#: What learns from the rows under DP-SGD in each mode, and what it costs.
PRIVACY_NOTES = {
    "quick": Message("privacy.text.quick"),
    "finetune": Message(
        "privacy.text.finetune", length=DP_TEXT_MAX_LENGTH, epochs=DP_FINETUNE_EPOCHS
    ),
}
