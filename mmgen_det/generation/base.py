"""The interface every generator implements: layouts + seeds in, images + generation records out.

Generators (GLIGEN text-box, GLIGEN text-image, copy-paste) are interchangeable behind this
interface, so the writer, the hook and ``tools/generate.py`` never know which one they drive.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, Sequence

from PIL import Image

from ..layouts import Layout


@dataclass
class GeneratedImage:
    """One generated image and what is needed to reproduce and audit it.

    Attributes:
        image: RGB image of exactly ``layout.width x layout.height`` pixels.
        seed: the seed that produced the kept image (after any regeneration).
        record: generator-specific part of the per-image generation record, e.g.
            ``{'prompt': ..., 'phrases': [...], 'grounding': 'text-box'}``; JSON-serialisable.
        attempts: how many tries it took (> 1 when a safety checker blanked earlier tries).
    """
    image: Image.Image
    seed: int
    record: dict[str, Any] = field(default_factory=dict)
    attempts: int = 1


class BaseGenerator(abc.ABC):
    """A layout-to-image generator.

    ``generate(layouts, seeds)`` must be a pure function of its arguments (and the generator's
    settings): the same layout and seed give the same image whatever else is in the batch, which is
    what makes sets resumable and shardable.
    """

    #: short name stored in each image's generation record, e.g. 'gligen' or 'copy_paste'
    name: str = ''

    @abc.abstractmethod
    def generate(self, layouts: Sequence[Layout], seeds: Sequence[int]) -> list[GeneratedImage]:
        """Make one image per layout; ``seeds[i]`` seeds image ``i``."""

    @abc.abstractmethod
    def identity(self) -> dict[str, Any]:
        """Settings that determine the output (model id/revision, steps, prompts...).

        Stored in ``generation_config.json``: a rerun whose identity differs refuses to mix its
        images with the existing set.
        """
