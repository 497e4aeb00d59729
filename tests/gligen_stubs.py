"""Stand-ins for the parts of a GLIGEN run that the GLIGEN generator tests control: the reference-crop
bank (flat colours, so any image grounding is known exactly) and the safety checker (flags chosen images,
to exercise regeneration)."""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from mmgen_det.generation.crops import ObjectCrop

COLOURS = {'fish': (200, 80, 20), 'crab': (20, 200, 80), 'ray': (80, 20, 200)}


class StubCropBank:
    """Stand-in for ObjectCropBank: a flat-colour crop per class, its shade drawn from ``rng`` when
    ``vary`` (without it the crop is fixed and ``rng`` is not used)."""

    def __init__(self, size: tuple[int, int] = (40, 32), vary: bool = True) -> None:
        self.size, self.vary = size, vary

    def pick(self, label: str, rng: np.random.Generator | None) -> ObjectCrop:
        shade = int(rng.integers(0, 50)) if self.vary else 0
        image = Image.new('RGB', self.size, tuple(c + shade for c in COLOURS[label]))
        return ObjectCrop(image=image, label=label, image_id=0, ann_id=shade, bbox=[0, 0, *self.size])


class FlaggingSafetyChecker:
    """Flags the images chosen by ``plan[call][i]`` and blanks them, like diffusers' checker."""

    def __init__(self, plan: list[list[bool]]) -> None:
        self.plan, self.calls = plan, 0

    def __call__(self, images: torch.Tensor, clip_input: torch.Tensor) -> tuple[torch.Tensor, list[bool]]:
        flags = self.plan[self.calls] if self.calls < len(self.plan) else [False] * len(images)
        self.calls += 1
        images = images.clone()
        images[torch.tensor(flags)] = 0
        return images, flags
