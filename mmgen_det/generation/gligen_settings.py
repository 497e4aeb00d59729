"""The settings of a GLIGEN generator, checked before any weights load.

In: the generator's arguments (grounding mode, prompt template, phrases, sampling settings, device) and,
once the pipeline is loaded, its UNet's input channels. Out: ``ValueError`` / ``NotAGligenModelError``
naming the first wrong setting and what is allowed, or the resolved device, dtype and scheduler class.
A request the model cannot do fails here, in a line, rather than deep inside diffusers.
"""
from __future__ import annotations

import logging
import string
from typing import Any, Mapping, Sequence, Union

import torch

from .model_loading import EXAMPLE_CHECKPOINTS, NotAGligenModelError

logger = logging.getLogger(__name__)

#: class name -> phrase, as a dict or as ``[name, phrase]`` pairs (see :func:`phrase_table`)
Phrases = Union[Mapping[str, str], Sequence[Sequence[str]]]

GROUNDINGS = ('text-box', 'text-image', 'image')
DTYPES = {'float16': torch.float16, 'bfloat16': torch.bfloat16, 'float32': torch.float32}
#: UNet input channels of GLIGEN's inpainting checkpoints: 4 noisy latents + 4 masked-image latents + 1 mask
INPAINTING_IN_CHANNELS = 9
#: public inpainting checkpoints, quoted in error messages
INPAINTING_CHECKPOINTS = {'text-box': 'masterful/gligen-1-4-inpainting-text-box',
                          'text-image': 'anhnct/Gligen_Inpainting_Text_Image',
                          'image': 'anhnct/Gligen_Inpainting_Text_Image'}


def check_unet_inputs(model: str, grounding: str, in_channels: int, inpainting: bool) -> None:
    """Raise :class:`NotAGligenModelError` unless the UNet's input channels fit the generation mode.

    Both kinds of checkpoint have the same pipeline class: only the UNet's input channels
    (``unet.config.in_channels``; DIFFUSERS_INTERNALS 'attention_type') tell them apart, and a mismatch
    would otherwise fail deep inside the UNet's first convolution.
    """
    if inpainting and in_channels != INPAINTING_IN_CHANNELS:
        raise NotAGligenModelError(
            f"background='inpaint' needs an inpainting GLIGEN, whose UNet takes {INPAINTING_IN_CHANNELS} input "
            f'channels (latents, masked-background latents, mask), e.g. {INPAINTING_CHECKPOINTS[grounding]!r}; '
            f"{model!r} is a text-to-image GLIGEN ({in_channels} input channels): use it with background='none'.")
    if not inpainting and in_channels == INPAINTING_IN_CHANNELS:
        raise NotAGligenModelError(
            f'{model!r} is an inpainting GLIGEN (its UNet takes {in_channels} input channels: latents, '
            f"masked-background latents, mask): generating whole images (background='none') needs a "
            f"text-to-image checkpoint such as {EXAMPLE_CHECKPOINTS[grounding]!r}, or set background='inpaint' "
            'to generate objects into your real frames.')


def phrase_table(phrases: Phrases | None) -> dict[str, str]:
    """Class name -> phrase from either written form: ``[[name, phrase], ...]``, which
    tools/init_experiment.py writes so that a dataset's class names are values of the config file and
    never its keys (mmengine writes keys unescaped), or a ``{name: phrase}`` dict written by hand."""
    if isinstance(phrases, Mapping):
        return {str(k): v for k, v in phrases.items()}
    table: dict[str, str] = {}
    for pair in phrases or ():
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ValueError(f'phrases must be a dict or a list of [class name, phrase] pairs, got {pair!r}')
        name, phrase = str(pair[0]), pair[1]
        if name in table:
            raise ValueError(f'phrases name class {name!r} twice')
        table[name] = phrase
    return table


def resolve_device(device: str, dtype: str | None) -> tuple[str, str]:
    """``(device, dtype)`` with ``'auto'`` and ``None`` resolved: CUDA and float16 when a GPU is
    available, else the CPU and float32."""
    device = ('cuda' if torch.cuda.is_available() else 'cpu') if device == 'auto' else device
    return device, dtype or ('float16' if device.startswith('cuda') else 'float32')


def check_settings(grounding: str, prompt: str, phrases: Mapping[str, str], num_inference_steps: int,
                   guidance_scale: float, scheduled_sampling_beta: float, scheduler: str | None,
                   dtype: str | None, device: str, batch_size: int | None, crop_bank: Any, min_crop_size: int,
                   max_attempts: int) -> None:
    """Raise ``ValueError`` naming the first wrong setting and what is allowed."""
    if grounding not in GROUNDINGS:
        raise ValueError(f'grounding must be one of {GROUNDINGS}, got {grounding!r}')
    fields = {f for _, f, _, _ in string.Formatter().parse(prompt) if f is not None}
    if fields - {'phrases'}:
        raise ValueError(f'prompt template {prompt!r} may only use the placeholder {{phrases}}, '
                         f'found {sorted(fields - {"phrases"})}')
    if not phrases and (grounding != 'image' or 'phrases' in fields):
        raise ValueError(f"phrases (class name -> phrase) are required for grounding={grounding!r}"
                         + (" and for a prompt with '{phrases}'" if 'phrases' in fields else ''))
    empty = sorted(k for k, v in phrases.items() if not isinstance(v, str) or not v.strip())
    if empty:
        raise ValueError(f'phrases must be non-empty strings; classes {empty} have none')
    if int(num_inference_steps) < 1:
        raise ValueError(f'num_inference_steps must be >= 1, got {num_inference_steps}')
    if guidance_scale < 0:
        raise ValueError(f'guidance_scale must be >= 0 (> 1 enables guidance), got {guidance_scale}')
    if not 0 <= scheduled_sampling_beta <= 1:
        raise ValueError(f'scheduled_sampling_beta must be in [0, 1], got {scheduled_sampling_beta}')
    if scheduled_sampling_beta > 0 and int(scheduled_sampling_beta * num_inference_steps) == 0:
        logger.warning('scheduled_sampling_beta=%s with %d steps grounds int(beta * steps) = 0 steps: '
                       'the boxes will have no effect.', scheduled_sampling_beta, num_inference_steps)
    if scheduler is not None:
        scheduler_class(scheduler)
    if dtype is not None and dtype not in DTYPES:
        raise ValueError(f'dtype must be one of {sorted(DTYPES)} or None, got {dtype!r}')
    if device not in ('auto', 'cpu') and not device.startswith('cuda'):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    if (batch_size is not None and int(batch_size) < 1) or int(max_attempts) < 1 or int(min_crop_size) < 1:
        raise ValueError(f'batch_size, max_attempts and min_crop_size must be >= 1, got {batch_size}, '
                         f'{max_attempts}, {min_crop_size}')
    uses_crops = grounding in ('text-image', 'image')
    if uses_crops and not callable(getattr(crop_bank, 'pick', None)):
        raise ValueError(f'grounding={grounding!r} needs a crop_bank with pick(label, rng) -> PIL.Image '
                         f'(e.g. ObjectCropBank), got {crop_bank!r}')
    if not uses_crops and crop_bank is not None:
        raise ValueError("crop_bank is only used by image grounding ('text-image' or 'image')")


def scheduler_class(name: str) -> type:
    """The diffusers scheduler class called ``name``; a ``ValueError`` listing some when there is none."""
    import diffusers

    cls = getattr(diffusers, name, None)
    if not (isinstance(cls, type) and issubclass(cls, diffusers.SchedulerMixin)):
        known = sorted(n for n in dir(diffusers) if n.endswith('Scheduler'))
        raise ValueError(f'scheduler must name a diffusers scheduler class, got {name!r}; e.g. {known[:12]}')
    return cls
