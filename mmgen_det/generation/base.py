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
        layout: the layout the image shows when the generator moved its objects off the requested
            boxes (the copy-paste generator's per-instance scale, rotation and truncation): its boxes,
            not the requested ones, annotate the image. None: the requested layout's boxes are exact.
    """
    image: Image.Image
    seed: int
    record: dict[str, Any] = field(default_factory=dict)
    attempts: int = 1
    layout: Layout | None = None


class BaseGenerator(abc.ABC):
    """A layout-to-image generator.

    ``generate(layouts, seeds)`` must be a pure function of its arguments (and the generator's
    settings): the same layout and seed give the same image whatever else is in the batch, which is
    what makes sets resumable and shardable.
    """

    #: short name stored in each image's generation record, e.g. 'gligen' or 'copy_paste'
    name: str = ''
    #: bumped whenever the same settings would give other pixels; stored with every set
    version: int = 1

    @classmethod
    def pixel_settings(cls, cfg: dict[str, Any]) -> dict[str, Any]:
        """The keys of a ``build_generator`` config (without ``type``) that determine the images.

        Known without building the generator, so a set's settings are checked, and an experiment's
        generate stage keyed, before any model loads. Keys that only change the speed are left out.
        """
        return dict(cfg)

    @classmethod
    def placement(cls, cfg: dict[str, Any]) -> dict[str, Any]:
        """Where this machine would run ``cfg`` when that changes the pixels (device class, dtype)."""
        return {}

    @abc.abstractmethod
    def generate(self, layouts: Sequence[Layout], seeds: Sequence[int]) -> list[GeneratedImage]:
        """Make one image per layout; ``seeds[i]`` seeds image ``i``."""

    @abc.abstractmethod
    def identity(self) -> dict[str, Any]:
        """What determines the output, as built: version, model id and resolved revision or weights
        digest, dtype and device class, steps, prompts...

        Stored in ``generation_config.json``: a resumed set whose generator's identity differs refuses
        to mix its images with the existing ones.
        """
