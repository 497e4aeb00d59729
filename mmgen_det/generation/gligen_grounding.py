"""Per-sample GLIGEN grounding: several different layouts denoised in one pipeline call.

diffusers' GLIGEN pipelines take ONE layout per call and broadcast its grounding tensors
(``cross_attention_kwargs['gligen']``: boxes, embeddings, masks; 30 slots) over the batch.

In: the loaded pipeline, same-size layouts and what each is generated from (:class:`Condition`:
prompt, phrases, reference crops). Out: the UNet's ``gligen`` tensors for the whole batch, built per
layout exactly as diffusers builds them for a single call (:func:`batch_grounding`), and a context
(:func:`per_sample_grounding`) in which a forward pre-hook on the UNet swaps the broadcast tensors
for those. With classifier-free guidance the text-box pipeline's unconditional half gets zero masks;
the text-image pipeline runs its own ungrounded pass, which is left untouched.
"""
from __future__ import annotations

import itertools
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import torch
from PIL import Image

from ..layouts import Layout
from ..layouts.layout import GLIGEN_MAX_BOXES

#: norm diffusers' text-image pipeline gives projected image embeddings (its ``gligen_normalize_constant``)
IMAGE_EMBEDDING_NORM = 28.7
# The pipelines require grounding inputs and build one-layout tensors from them; the UNet pre-hook
# replaces those tensors by the per-sample ones, so a one-box placeholder is all they need.
PLACEHOLDER_GROUNDING = dict(gligen_phrases=[''], gligen_boxes=[[0.0, 0.0, 1.0, 1.0]])


@dataclass
class Condition:
    """What one layout is generated from."""
    prompt: str
    phrases: list[str] | None  # one grounding phrase per box; None for image-only grounding
    crops: list[Image.Image] | None  # one reference crop per box; None for text-box grounding
    record: dict[str, Any]


def batch_grounding(pipe: Any, grounding: str, guidance_scale: float, layouts: Sequence[Layout],
                    conditions: Sequence[Condition]) -> dict[str, torch.Tensor]:
    """The ``gligen`` kwargs of the UNet for the whole (guidance-doubled) batch."""
    if grounding == 'text-box':
        samples = [text_box_grounding(pipe, layout, c) for layout, c in zip(layouts, conditions)]
    else:
        samples = [text_image_grounding(pipe, layout, c) for layout, c in zip(layouts, conditions)]
    gligen = {key: torch.cat([s[key] for s in samples]) for key in samples[0]}
    if guidance_scale > 1.0:  # diffusers' condition for classifier-free guidance
        gligen = {key: torch.cat([value, value]) for key, value in gligen.items()}
        if grounding == 'text-box':
            # as StableDiffusionGLIGENPipeline: the unconditional half sees no objects. (The
            # text-image pipeline instead takes its unconditional half from an ungrounded pass.)
            gligen['masks'][:len(layouts)] = 0
    return gligen


def text_box_grounding(pipe: Any, layout: Layout, condition: Condition) -> dict[str, torch.Tensor]:
    """One layout's tensors as ``StableDiffusionGLIGENPipeline.__call__`` builds them (step 5.1)."""
    device, dtype = pipe.device, pipe.text_encoder.dtype
    boxes = torch.zeros(1, GLIGEN_MAX_BOXES, 4, device=device, dtype=dtype)
    embeddings = torch.zeros(1, GLIGEN_MAX_BOXES, pipe.unet.config.cross_attention_dim, device=device,
                             dtype=dtype)
    masks = torch.zeros(1, GLIGEN_MAX_BOXES, device=device, dtype=dtype)
    n = len(layout)
    if n:  # diffusers cannot encode an empty phrase list; an empty layout keeps all masks at 0
        tokens = pipe.tokenizer(condition.phrases, padding=True, return_tensors='pt').to(device)
        embeddings[0, :n] = pipe.text_encoder(**tokens).pooler_output
        boxes[0, :n] = torch.tensor(layout.boxes.tolist())
        masks[0, :n] = 1
    return dict(boxes=boxes, positive_embeddings=embeddings, masks=masks)


def text_image_grounding(pipe: Any, layout: Layout, condition: Condition) -> dict[str, torch.Tensor]:
    """One layout's tensors from diffusers' own text-image builder (phrases and/or crops)."""
    return pipe.get_cross_attention_kwargs_with_grounded(
        hidden_size=pipe.text_encoder.config.hidden_size, gligen_phrases=condition.phrases,
        gligen_images=condition.crops, gligen_boxes=layout.boxes.tolist(), input_phrases_mask=None,
        input_images_mask=None, repeat_batch=1, normalize_constant=IMAGE_EMBEDDING_NORM,
        max_objs=GLIGEN_MAX_BOXES, device=pipe.device)


@contextmanager
def per_sample_grounding(pipe: Any, grounding: str, scheduled_sampling_beta: float, marker: dict[str, Any],
                         gligen: dict[str, torch.Tensor]) -> Iterator[None]:
    """While active, UNet calls made with ``cross_attention_kwargs=marker`` get ``gligen`` instead.

    The pipeline writes its broadcast one-layout tensors into ``marker`` and passes that same dict
    to the UNet, so identity tells the grounded calls apart from the text-image pipeline's
    ungrounded pass (whose all-zero tensors are the same for every sample and stay untouched).
    """
    # diffusers 0.42.1's text-image pipeline computes int(beta * steps) but never switches the
    # fusers off; the text-box pipeline does. Applying it here makes both honour the setting.
    schedule_fusers = grounding != 'text-box'
    step = itertools.count()

    def swap_grounding(module: torch.nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict] | None:
        if kwargs.get('cross_attention_kwargs') is not marker:
            return None
        i = next(step)
        if schedule_fusers and i == int(scheduled_sampling_beta * len(pipe.scheduler.timesteps)):
            pipe.enable_fuser(False)
        return args, {**kwargs, 'cross_attention_kwargs': {**marker, 'gligen': gligen}}

    handle = pipe.unet.register_forward_pre_hook(swap_grounding, with_kwargs=True)
    try:
        yield
    finally:
        handle.remove()
