"""The backdoor trigger: a fixed patch pasted into one corner of every image of a malicious client.

Jin & Li (SASHIMI 2022; Medical Image Analysis 2023;90:102965) poison the discriminator's data of
one client with a small patch, under 0.5% of the image area at 256 px, and change no label. Here
the patch is ``size x size`` pixels in the configured corner, ``margin`` pixels from both edges,
with one of three patterns (the same in every channel):

* ``checkerboard``: alternating white (255) and black (0) pixels, white in the patch's first pixel;
* ``white`` / ``black``: a uniform square.

The default is 2 px: at 28 px that is 4/784 = 0.51% of the image, the square nearest the
paper's "under 0.5%" (the authors' code pastes 16 px at 256 px, 0.39%; at 64 px, 4 px is 0.39%).
The earlier default, 3 px (9/784 = 1.15%), stays available as ``trigger.size: 3``.
:meth:`Trigger.area_share` reports the actual share. The attack has no training step, so
it has only :meth:`Trigger.apply`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

CORNERS = ("top_left", "top_right", "bottom_left", "bottom_right")
PATTERNS = ("checkerboard", "white", "black")


@dataclass(frozen=True)
class Trigger:
    size: int = 2
    corner: str = "bottom_right"
    margin: int = 0
    pattern: str = "checkerboard"

    def __post_init__(self) -> None:
        if self.corner not in CORNERS:
            raise ValueError(f"trigger corner must be one of {CORNERS}, got {self.corner!r}")
        if self.pattern not in PATTERNS:
            raise ValueError(f"trigger pattern must be one of {PATTERNS}, got {self.pattern!r}")
        if self.size < 1 or self.margin < 0:
            raise ValueError(f"trigger size must be >= 1 and margin >= 0, got {self.size}, {self.margin}")

    def box(self, image_size: int) -> tuple[int, int, int, int]:
        """``(row0, row1, col0, col1)`` of the patch (half-open) in an ``image_size`` square image."""
        if self.size + self.margin > image_size:
            raise ValueError(f"a {self.size} px trigger {self.margin} px from the edge does not fit "
                             f"a {image_size} px image")
        top = self.corner.startswith("top")
        left = self.corner.endswith("left")
        r0 = self.margin if top else image_size - self.margin - self.size
        c0 = self.margin if left else image_size - self.margin - self.size
        return r0, r0 + self.size, c0, c0 + self.size

    def area_share(self, image_size: int) -> float:
        return self.size**2 / image_size**2

    def patch(self) -> torch.Tensor:
        """The ``(size, size)`` patch in ``[-1, 1]`` (white = 1, black = -1)."""
        if self.pattern == "white":
            return torch.ones(self.size, self.size)
        if self.pattern == "black":
            return -torch.ones(self.size, self.size)
        idx = torch.arange(self.size)
        return torch.where((idx[:, None] + idx[None, :]) % 2 == 0, 1.0, -1.0)

    def apply(self, x: torch.Tensor, y: torch.Tensor | None = None, strength: torch.Tensor | float = 1.0
              ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Images ``(n, c, s, s)`` in ``[-1, 1]`` with the patch pasted in; labels unchanged.

        ``strength`` in ``[0, 1]`` (a scalar or one value per image) blends the patch over the
        image; 1 pastes it exactly. The trigger detector trains on blends so that it also
        recognises the fainter copies a generator may produce.
        """
        r0, r1, c0, c1 = self.box(x.shape[-1])
        out = x.clone()
        alpha = torch.as_tensor(strength, dtype=x.dtype).reshape(-1, 1, 1, 1) if torch.is_tensor(strength) \
            else torch.tensor(float(strength), dtype=x.dtype)
        region = out[:, :, r0:r1, c0:c1]
        out[:, :, r0:r1, c0:c1] = (1 - alpha) * region + alpha * self.patch().to(x)
        return out, y
