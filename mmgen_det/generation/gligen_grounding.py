"""Per-sample GLIGEN grounding: several different layouts denoised in one pipeline call.

diffusers' GLIGEN pipelines take ONE layout per call and broadcast its grounding tensors
(``cross_attention_kwargs['gligen']``: boxes, embeddings, masks; 30 slots) over the batch.

In: the loaded pipeline, same-size layouts and what each is generated from (:class:`Condition`:
prompt, phrases, reference crops). Out: the UNet's ``gligen`` tensors for the whole batch, built per
layout exactly as diffusers builds them for a single call (:func:`batch_grounding`), and a context
(:func:`per_sample_grounding`) in which a forward pre-hook on the UNet swaps the broadcast tensors
for those. With classifier-free guidance the text-box pipeline's unconditional half gets zero masks;
the text-image pipeline runs its own ungrounded pass, which is left untouched.

The hook relies on how diffusers' pipelines and UNet work inside, not on public API: each assumption is
an entry, with a check, of :data:`mmgen_det.compat.diffusers_internals.DIFFUSERS_INTERNALS`, named where
the code relies on it.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import torch
from PIL import Image

from ..compat.diffusers_internals import DiffusersChanged
from ..layouts import Layout
from ..layouts.layout import GLIGEN_MAX_BOXES

#: norm diffusers' text-image pipeline gives projected image embeddings (its ``gligen_normalize_constant``;
#: DIFFUSERS_INTERNALS 'text-image grounding builder')
IMAGE_EMBEDDING_NORM = 28.7
# The pipelines require grounding inputs and build one-layout tensors from them; the UNet pre-hook
# replaces those tensors by the per-sample ones, so a one-box placeholder is all they need
# (DIFFUSERS_INTERNALS 'pipeline call').
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
    if guidance_scale > 1.0:  # diffusers' condition and order (DIFFUSERS_INTERNALS 'guidance batch order')
        gligen = {key: torch.cat([value, value]) for key, value in gligen.items()}
        if grounding == 'text-box':
            # as StableDiffusionGLIGENPipeline: the unconditional half sees no objects. (The
            # text-image pipeline instead takes its unconditional half from an ungrounded pass.)
            gligen['masks'][:len(layouts)] = 0
    return gligen


def text_box_grounding(pipe: Any, layout: Layout, condition: Condition) -> dict[str, torch.Tensor]:
    """One layout's tensors as ``StableDiffusionGLIGENPipeline.__call__`` builds them (step 5.1; DIFFUSERS_INTERNALS
    'text-box grounding tensors')."""
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
    """One layout's tensors from diffusers' own text-image builder (phrases and/or crops; DIFFUSERS_INTERNALS
    'text-image grounding builder')."""
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
    to the UNet, once per step, so identity tells the grounded calls apart from the text-image pipeline's
    ungrounded pass (whose all-zero tensors are the same for every sample and stay untouched). That is
    diffusers' internal behaviour (DIFFUSERS_INTERNALS 'grounding dict reaches the UNet', 'UNet gligen
    kwargs', 'text-image ungrounded pass', 'guidance batch order', 'fuser switch'): a call that shows
    otherwise raises :class:`~mmgen_det.compat.diffusers_internals.DiffusersChanged`.
    """
    # DIFFUSERS_INTERNALS 'text-image beta ignored': diffusers 0.42.1's text-image pipeline computes
    # int(beta * steps) but never switches the fusers off; the text-box pipeline does. Applying it here
    # makes both honour the setting.
    schedule_fusers = grounding != 'text-box'
    grounded_calls = 0

    def swap_grounding(module: torch.nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict] | None:
        nonlocal grounded_calls
        if kwargs.get('cross_attention_kwargs') is not marker:
            return None
        broadcast = marker.get('gligen')
        if not isinstance(broadcast, dict) or set(broadcast) != set(gligen):
            raise DiffusersChanged('UNet gligen kwargs', f"the pipeline's cross_attention_kwargs['gligen'] is "
                                   f'{sorted(broadcast) if isinstance(broadcast, dict) else broadcast!r}, not '
                                   f'the inputs {sorted(gligen)}')
        if args and len(args[0]) != len(gligen['boxes']):
            raise DiffusersChanged('guidance batch order', f'a grounded UNet call has {len(args[0])} samples, the '
                                   f"batch's grounding {len(gligen['boxes'])}")
        if schedule_fusers and grounded_calls == int(scheduled_sampling_beta * len(pipe.scheduler.timesteps)):
            pipe.enable_fuser(False)
        grounded_calls += 1
        return args, {**kwargs, 'cross_attention_kwargs': {**marker, 'gligen': gligen}}

    handle = pipe.unet.register_forward_pre_hook(swap_grounding, with_kwargs=True)
    try:
        yield
    finally:
        handle.remove()
    if grounded_calls != len(pipe.scheduler.timesteps):
        raise DiffusersChanged('grounding dict reaches the UNet',
                               f'{grounded_calls} UNet calls over {len(pipe.scheduler.timesteps)} denoising steps got '
                               'the cross_attention_kwargs dict given to the pipeline, not one per step')
