"""What the text family shows and defaults to: its Train-page settings, the private
variant's defaults and what the Train page says about training it privately."""

from __future__ import annotations

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
    "finetune": "Full: adjust the whole pretrained model (slower, most accurate)",
    "quick": "Quick: train only a small final layer (faster, less accurate)",
}

#: The Train page's few settings; the rest keep their defaults.
SETTINGS = (
    Setting(
        name="base",
        label="Pretrained model",
        default=DEFAULT_BASE,
        choices={m.key: m.title for m in LIBRARY},
        other="Other: a Hugging Face id or a folder",
        help="Only the built-in MiniLM works without internet; the others download once.",
    ),
    Setting(
        name="mode",
        label="Training",
        default="finetune",
        choices=_MODE_TITLES,
        help="Quick keeps the pretrained model as it is and trains only the layer that picks "
        "the label; Full adjusts the model too, which takes several times longer (expert: a "
        "linear head on a frozen encoder, or fine-tuning).",
    ),
    Setting(
        name="epochs",
        label="Passes over the texts",
        default=1,
        minimum=1,
        maximum=20,
        step=1,
        when=("mode", "finetune"),
        help="How many times training reads every training text; 1 is often enough "
        "(expert: epochs).",
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
    "quick": "The pretrained encoder stays frozen; only the head learns from your rows.",
    "finetune": "The encoder's biases and layer norms and the head learn with DP-SGD "
    f"(texts cut at {DP_TEXT_MAX_LENGTH} tokens; {DP_FINETUNE_EPOCHS:g} epochs when 'Passes "
    "over the texts' is left at 1); it takes 2–3 times a plain fine-tune (about 2.5 minutes "
    "for 4,000 short texts on one CPU core).",
}
