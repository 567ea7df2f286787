"""The ECG victims: a Hannun-style 1D residual CNN (``architecture: resnet1d``, the default) and
Han et al.'s own plain 13-layer CNN (``architecture: han2020``), both for single-lead rhythm
classification into N, A, O, ~.

resnet1d
--------

Hannun et al., "Cardiologist-level arrhythmia detection and classification in ambulatory
electrocardiograms using a deep neural network", Nat Med 2019;25:65-69. Han et al. (Nat Med
2020;26:360-363) attacked a network of this family trained on PhysioNet/CinC 2017 at 60 s.

Choices made here (the paper's values in brackets where they differ):

* Stem conv -> BN -> ReLU, then ``n_blocks`` pre-activation residual blocks (BN, ReLU, dropout,
  conv, BN, ReLU, dropout, conv), so the network has ``1 + 2 * n_blocks`` convolutions; the
  13-conv configuration is ``n_blocks=6``.
* Every other block halves the time axis (stride in its first conv, max-pool on the shortcut);
  the width doubles every ``double_every`` blocks, starting at ``width`` [32]. A 1x1 conv on the
  shortcut matches channels where the width changes [Hannun pads with zeros].
* Kernel size is odd (default 15) so 'same' padding is exact [16].
* Global average pooling over time, then one linear layer to the four classes N, A, O, ~ (Hannun
  emits one label per 256 samples; one label per record is what the 2017 challenge scores).
* The input is raw ADC units (1000 units/mV), as in Han et al.: no normalisation, so that the
  attack budget eps is in the units the paper states. ``input_scale`` multiplies the input
  inside the network (a constant, so gradients w.r.t. the raw input are unchanged in meaning);
  it only puts the first conv's activations near unit scale for training.

han2020
-------
The network Han et al. attacked, as published with their code (github.com/XintianHan/ADV_ECG,
``model/CNN.py``; Han et al., Nat Med 2020, Methods): 13 convolutions, no residual connections,
each conv -> BatchNorm -> ReLU (-> max-pool) -> dropout 0.3, then the mean over time and one
linear layer. :data:`HAN2020_LAYERS` lists its (channels, kernel, dilation, padding, max-pool)
per convolution: 320 channels with kernel 24, then 256 with kernel 16 (dilations 2, 4, 4, 4), 128
with kernel 8 (dilations 4, 6, 6, 6, 6, 8) and 64 with kernel 8 (dilation 8); max-pools of size 2,
stride 2, padding 1, dilation 2 after the 1st, 6th and 11th convolutions. It has 5,486,916
parameters. Its only free settings here are ``input_scale`` (as above: the authors feed raw ADC
units; the BatchNorm after the first convolution makes the network nearly indifferent to the
scale, and it keeps eps in ADC units) and ``n_classes``; the resnet1d keys are ignored. At 60 s it
costs about 40 GMAC per ECG forward, a GPU network (``config/paper.yaml``).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

N_CLASSES = 4


ARCHITECTURES = ("resnet1d", "han2020")
# Han et al.'s 13 convolutions: (out channels, kernel, dilation, padding, max-pool after it).
HAN2020_LAYERS = (
    (320, 24, 1, 11, True),
    (256, 16, 2, 15, False), (256, 16, 4, 30, False), (256, 16, 4, 30, False), (256, 16, 4, 30, False),
    (128, 8, 4, 14, True),
    (128, 8, 6, 21, False), (128, 8, 6, 21, False), (128, 8, 6, 21, False), (128, 8, 6, 21, False),
    (128, 8, 8, 28, True),
    (64, 8, 8, 28, False), (64, 8, 8, 28, False),
)
HAN2020_DROPOUT = 0.3


@dataclass(frozen=True)
class ModelConfig:
    architecture: str = "resnet1d"
    n_blocks: int = 4
    width: int = 16
    kernel_size: int = 15
    stem_stride: int = 1
    double_every: int = 4
    dropout: float = 0.2
    input_scale: float = 1e-3
    n_classes: int = N_CLASSES

    def to_dict(self) -> dict:
        return asdict(self)


class ResidualBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int, dropout: float):
        super().__init__()
        pad = kernel_size // 2
        self.body = nn.Sequential(
            nn.BatchNorm1d(c_in), nn.ReLU(), nn.Dropout(dropout),
            nn.Conv1d(c_in, c_out, kernel_size, stride=stride, padding=pad),
            nn.BatchNorm1d(c_out), nn.ReLU(), nn.Dropout(dropout),
            nn.Conv1d(c_out, c_out, kernel_size, padding=pad),
        )
        pool = nn.MaxPool1d(stride, ceil_mode=True) if stride > 1 else nn.Identity()
        match = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()
        self.shortcut = nn.Sequential(pool, match)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)


class ResNet1d(nn.Module):
    """(batch, length) raw ADC units -> (batch, n_classes) logits."""

    def __init__(self, config: ModelConfig = ModelConfig()):
        super().__init__()
        if config.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd for exact 'same' padding, got {config.kernel_size}")
        self.config = config
        k, w = config.kernel_size, config.width
        self.stem = nn.Sequential(nn.Conv1d(1, w, k, stride=config.stem_stride, padding=k // 2),
                                  nn.BatchNorm1d(w), nn.ReLU())
        blocks, c_in = [], w
        for i in range(config.n_blocks):
            c_out = w * 2 ** ((i + 1) // config.double_every)
            blocks.append(ResidualBlock(c_in, c_out, k, stride=2 if i % 2 == 1 else 1,
                                        dropout=config.dropout))
            c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.BatchNorm1d(c_in), nn.ReLU())
        self.fc = nn.Linear(c_in, config.n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x.unsqueeze(1) * self.config.input_scale)
        h = self.head(self.blocks(h))
        return self.fc(h.mean(dim=-1))


class Han2020CNN(nn.Module):
    """Han et al.'s plain 13-layer CNN; (batch, length) raw ADC units -> (batch, n_classes) logits."""

    def __init__(self, config: ModelConfig = ModelConfig(architecture="han2020")):
        super().__init__()
        self.config = config
        layers, c_in = [], 1
        for c_out, kernel, dilation, padding, pool in HAN2020_LAYERS:
            layers += [nn.Conv1d(c_in, c_out, kernel, padding=padding, dilation=dilation),
                       nn.BatchNorm1d(c_out), nn.ReLU()]
            if pool:
                layers.append(nn.MaxPool1d(kernel_size=2, stride=2, padding=1, dilation=2))
            layers.append(nn.Dropout(HAN2020_DROPOUT))
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c_in, config.n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x.unsqueeze(1) * self.config.input_scale)
        return self.fc(h.mean(dim=-1))


def build_model(config: ModelConfig) -> nn.Module:
    """The network ``config.architecture`` names."""
    if config.architecture == "resnet1d":
        return ResNet1d(config)
    if config.architecture == "han2020":
        return Han2020CNN(config)
    raise ValueError(f"config key 'ecg.model.architecture' is {config.architecture!r}; expected one of "
                     f"{ARCHITECTURES}")


def n_convs(config: ModelConfig) -> int:
    return len(HAN2020_LAYERS) if config.architecture == "han2020" else 1 + 2 * config.n_blocks


def n_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
