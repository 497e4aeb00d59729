"""GLIGEN layout-to-image generation: each layout's boxes ground its objects' phrases or reference crops.

Batching different layouts
    diffusers' GLIGEN pipelines take ONE layout per call and broadcast its grounding tensors
    (``cross_attention_kwargs['gligen']``: boxes, embeddings, masks; 30 slots) over the batch. To
    denoise ``batch_size`` different layouts in one loop, this generator calls the pipeline itself
    (per-sample prompts, one ``torch.Generator`` per image) and, through a forward pre-hook on the
    UNet, swaps the broadcast grounding for tensors built per layout exactly as diffusers builds them
    for a single call (same pooled text embeddings, same image encoder + projection, same masks; with
    classifier-free guidance the text-box pipeline's unconditional half has zero masks, the
    text-image pipeline runs its own ungrounded pass). An image is therefore the same, within float
    tolerance, whatever else is in its batch.

Seeds
    Image ``i`` starts from noise drawn by ``torch.Generator('cpu').manual_seed(seeds[i])`` (CPU
    generators give the same noise on any device). Reference crops are drawn with a numpy generator
    derived from the same seed. An image flagged by the pipeline's safety checker is regenerated from
    :func:`retry_seed` ``(seed, attempt)``, at most ``max_attempts`` tries in all.
"""
from __future__ import annotations

import itertools
import logging
import string
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Protocol, Sequence

import numpy as np
import torch
from PIL import Image

from ..layouts import Layout
from ..layouts.layout import GLIGEN_MAX_BOXES
from .base import BaseGenerator, GeneratedImage
from .model_loading import (EXAMPLE_CHECKPOINTS, PIPELINE_CLASSES, NotAGligenModelError, ResolvedModel,
                            load_gligen_pipeline)
from ..utils.seeds import derive_seed

if TYPE_CHECKING:
    from .crops import ObjectCrop

logger = logging.getLogger(__name__)

GROUNDINGS = ('text-box', 'text-image', 'image')
DTYPES = {'float16': torch.float16, 'bfloat16': torch.bfloat16, 'float32': torch.float32}
#: norm diffusers' text-image pipeline gives projected image embeddings (its ``gligen_normalize_constant``)
IMAGE_EMBEDDING_NORM = 28.7
# The pipelines require grounding inputs and build one-layout tensors from them; the UNet pre-hook
# replaces those tensors by the per-sample ones, so a one-box placeholder is all they need.
_PLACEHOLDER_GROUNDING = dict(gligen_phrases=[''], gligen_boxes=[[0.0, 0.0, 1.0, 1.0]])
#: UNet input channels of GLIGEN's inpainting checkpoints: 4 noisy latents + 4 masked-image latents + 1 mask
INPAINTING_IN_CHANNELS = 9
#: public inpainting checkpoints, quoted in error messages
INPAINTING_CHECKPOINTS = {'text-box': 'masterful/gligen-1-4-inpainting-text-box',
                          'text-image': 'anhnct/Gligen_Inpainting_Text_Image',
                          'image': 'anhnct/Gligen_Inpainting_Text_Image'}


class CropSource(Protocol):
    """What image grounding needs from a crop bank (e.g. ``mmgen_det.generation.crops.ObjectCropBank``)."""

    def pick(self, label: str, rng: np.random.Generator) -> 'ObjectCrop':
        """A real crop of class ``label`` (its ``image``, and ``ann_id`` stored in the record)."""


class SafetyCheckError(RuntimeError):
    """The safety checker flagged every try of an image."""


def check_unet_inputs(model: str, grounding: str, in_channels: int, inpainting: bool) -> None:
    """Raise :class:`NotAGligenModelError` unless the UNet's input channels fit the generation mode.

    Both kinds of checkpoint have the same pipeline class: only the UNet's input channels tell them
    apart, and a mismatch would otherwise fail deep inside the UNet's first convolution.
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


def resolve_device(device: str, dtype: str | None) -> tuple[str, str]:
    """``(device, dtype)`` with ``'auto'`` and ``None`` resolved: CUDA and float16 when a GPU is
    available, else the CPU and float32."""
    device = ('cuda' if torch.cuda.is_available() else 'cpu') if device == 'auto' else device
    return device, dtype or ('float16' if device.startswith('cuda') else 'float32')


def retry_seed(seed: int, attempt: int) -> int:
    """Seed for try ``attempt`` (0 = first) of the image whose seed is ``seed``.

    ``generate`` receives seeds, not (global seed, index), so retries derive from the seed itself: the
    first try uses it unchanged and a rerun regenerates exactly the same sequence of tries.
    """
    return seed if attempt == 0 else derive_seed(seed, 0, attempt, purpose='gligen-retry')


@dataclass
class _Condition:
    """What one layout is generated from."""
    prompt: str
    phrases: list[str] | None  # one grounding phrase per box; None for image-only grounding
    crops: list[Image.Image] | None  # one reference crop per box; None for text-box grounding
    record: dict[str, Any]


class GLIGENGenerator(BaseGenerator):
    """Generate images whose objects lie in the layout boxes, with a diffusers GLIGEN pipeline.

    Args:
        model: Hugging Face Hub id (e.g. ``'masterful/gligen-1-4-generation-text-box'``) or a local
            ``save_pretrained`` directory. Hub ids go through the HF cache; ``HF_HUB_OFFLINE=1`` uses
            only the cache.
        grounding: ``'text-box'`` (phrase per box; ``StableDiffusionGLIGENPipeline``),
            ``'text-image'`` (phrase + a real crop of the same class per box) or ``'image'`` (crop
            only); the last two need a ``StableDiffusionGLIGENTextImagePipeline`` checkpoint.
        prompt: caption template; ``{phrases}`` is replaced by the layout's distinct phrases
            (``'a fish, a crab and a ray'``). A template without it is used as is.
        phrases: class name -> phrase, e.g. ``{'0': 'a damselfish'}``. Required for text grounding
            and for a prompt with ``{phrases}``.
        negative_prompt: used for the unconditional half of classifier-free guidance.
        num_inference_steps: denoising steps.
        guidance_scale: classifier-free guidance weight (> 1 enables it, as in diffusers).
        scheduled_sampling_beta: fraction of the steps that are grounded (GLIGEN's scheduled
            sampling): ``int(beta * steps)`` steps with the gated layers on, then off.
        scheduler: name of a diffusers scheduler class (e.g. ``'DDIMScheduler'``), built with
            ``from_config`` from the checkpoint's scheduler; ``None`` keeps the checkpoint's.
        dtype: ``'float16'``, ``'bfloat16'`` or ``'float32'``; default float16 on CUDA, float32 on CPU.
        device: ``'cuda'``, ``'cuda:N'``, ``'cpu'`` or ``'auto'`` (CUDA if available).
        batch_size: at most this many layouts denoised together (layouts of one size per batch);
            ``None``: all layouts of a :meth:`generate` call. A synthetic set's generation sets its
            one ``generation.batch_size`` by the layouts it passes per call.
        crop_bank: source of reference crops for image grounding (see :class:`CropSource`).
        min_crop_size: smallest crop side in pixels accepted as a reference; a smaller crop is an
            error naming the class (the crop bank should not offer it: CLIP would see mostly blur).
        max_attempts: tries per image when the checkpoint's safety checker flags results.
        revision: Hub revision (branch, tag or commit) of ``model``.
    """

    name = 'gligen'
    #: whether the model must be an inpainting GLIGEN (see :func:`check_unet_inputs`)
    inpainting = False

    def __init__(self,
                 model: str,
                 grounding: str = 'text-box',
                 prompt: str = '{phrases}',
                 phrases: Mapping[str, str] | None = None,
                 negative_prompt: str | None = None,
                 num_inference_steps: int = 50,
                 guidance_scale: float = 7.5,
                 scheduled_sampling_beta: float = 0.3,
                 scheduler: str | None = None,
                 dtype: str | None = None,
                 device: str = 'auto',
                 batch_size: int | None = None,
                 crop_bank: CropSource | None = None,
                 min_crop_size: int = 16,
                 max_attempts: int = 3,
                 revision: str | None = None) -> None:
        self.phrases = {str(k): v for k, v in (phrases or {}).items()}
        self.check_settings(grounding, prompt, self.phrases, num_inference_steps, guidance_scale,
                            scheduled_sampling_beta, scheduler, dtype, device, batch_size, crop_bank,
                            min_crop_size, max_attempts)
        self.model = str(model)
        self.grounding = grounding
        self.prompt = prompt
        self.negative_prompt = negative_prompt
        self.num_inference_steps = int(num_inference_steps)
        self.guidance_scale = float(guidance_scale)
        self.scheduled_sampling_beta = float(scheduled_sampling_beta)
        self.device, self.dtype = resolve_device(device, dtype)
        if self.dtype == 'float16' and self.device == 'cpu':
            raise ValueError("dtype='float16' needs a CUDA device; use dtype='float32' on the CPU.")
        self.batch_size = batch_size
        self.crop_bank = crop_bank
        self.min_crop_size = int(min_crop_size)
        self.max_attempts = int(max_attempts)

        self.pipeline, resolved = load_gligen_pipeline(self.model, grounding, DTYPES[self.dtype], self.device,
                                                       revision=revision)
        check_unet_inputs(self.model, grounding, self.pipeline.unet.config.in_channels, self.inpainting)
        #: where the weights were read from (local directory or HF cache snapshot) and the Hub commit
        self.resolved_model: ResolvedModel = resolved
        if scheduler is not None:
            self.pipeline.scheduler = _scheduler_class(scheduler).from_config(self.pipeline.scheduler.config)
        self._warn_shared_phrases()

    # ------------------------------------------------------------------ validation
    @staticmethod
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
            _scheduler_class(scheduler)
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

    def check_layouts(self, layouts: Sequence[Layout], seeds: Sequence[int]) -> None:
        """Raise ``ValueError`` for everything in the request the model cannot do, all at once per kind."""
        if len(layouts) != len(seeds):
            raise ValueError(f'one seed per layout is needed: {len(layouts)} layouts, {len(seeds)} seeds')
        bad_size = [f'{l.index} ({l.width}x{l.height})' for l in layouts if l.width % 8 or l.height % 8]
        if bad_size:
            raise ValueError(f'GLIGEN needs width and height divisible by 8; layouts {bad_size} are not')
        too_many = [f'{l.index} ({len(l)} boxes)' for l in layouts if len(l) > GLIGEN_MAX_BOXES]
        if too_many:
            raise ValueError(f'GLIGEN grounds at most {GLIGEN_MAX_BOXES} boxes per image; layouts {too_many} '
                             f'have more (the layout stage must respect the limit)')
        if self.phrases or self.grounding != 'image':
            missing = sorted({c for l in layouts for c in l.labels} - set(self.phrases))
            if missing:
                raise ValueError(f'classes {missing} have no phrase; add them to `phrases` '
                                 f'(known: {sorted(self.phrases)})')

    def _warn_shared_phrases(self) -> None:
        if self.grounding != 'text-box':
            return
        by_phrase: dict[str, list[str]] = {}
        for cls, phrase in self.phrases.items():
            by_phrase.setdefault(phrase.strip().lower(), []).append(cls)
        for phrase, classes in by_phrase.items():
            if len(classes) > 1:
                logger.warning('classes %s share the phrase %r: text grounding cannot tell them apart; image '
                               "grounding ('text-image' or 'image') with same-class crops keeps class identity.",
                               sorted(classes), phrase)

    # ------------------------------------------------------------------ public API
    def generate(self, layouts: Sequence[Layout], seeds: Sequence[int]) -> list[GeneratedImage]:
        """One RGB ``width x height`` image per layout; ``seeds[i]`` seeds image ``i``."""
        return [GeneratedImage(image=self.pipeline.numpy_to_pil(array[None])[0].convert('RGB'),
                               seed=seed, record=record, attempts=attempts)
                for array, seed, record, attempts in self._generate(layouts, seeds)]

    def generate_arrays(self, layouts: Sequence[Layout], seeds: Sequence[int]) -> list[np.ndarray]:
        """Like :meth:`generate` but the float ``(H, W, 3)`` images in [0, 1], before 8-bit rounding."""
        return [array for array, _, _, _ in self._generate(layouts, seeds)]

    @classmethod
    def pixel_settings(cls, cfg: dict[str, Any]) -> dict[str, Any]:
        """Without the batch size (a batch gives the same images as single calls) and the device,
        whose class :meth:`placement` resolves (the index does not change the images)."""
        return {k: v for k, v in cfg.items() if k not in ('batch_size', 'device')}

    @classmethod
    def placement(cls, cfg: dict[str, Any]) -> dict[str, Any]:
        """Device class and dtype: float16 on a GPU and float32 on a CPU give other images."""
        device, dtype = resolve_device(cfg.get('device', 'auto'), cfg.get('dtype'))
        return dict(device=device.split(':')[0], dtype=dtype)

    def identity(self) -> dict[str, Any]:
        return dict(generator=self.name, version=self.version, model=self.model,
                    revision=self.resolved_model.revision, weights=self.resolved_model.digest,
                    device=self.device.split(':')[0],
                    pipeline=PIPELINE_CLASSES[self.grounding], grounding=self.grounding, prompt=self.prompt,
                    phrases=dict(sorted(self.phrases.items())), negative_prompt=self.negative_prompt,
                    num_inference_steps=self.num_inference_steps, guidance_scale=self.guidance_scale,
                    scheduled_sampling_beta=self.scheduled_sampling_beta,
                    scheduler=type(self.pipeline.scheduler).__name__, dtype=self.dtype)

    # ------------------------------------------------------------------ generation
    def _generate(self, layouts: Sequence[Layout],
                  seeds: Sequence[int]) -> list[tuple[np.ndarray, int, dict[str, Any], int]]:
        """(float image, seed used, record, attempts) per layout, regenerating safety-flagged images."""
        self.check_layouts(layouts, seeds)
        attempts = [0] * len(layouts)
        results: dict[int, tuple[np.ndarray, int, dict[str, Any], int]] = {}
        pending = list(range(len(layouts)))
        while pending:
            flagged = []
            for batch in self._batches(pending, layouts):
                batch_seeds = [retry_seed(int(seeds[i]), attempts[i]) for i in batch]
                images, nsfw, records = self._run_batch([layouts[i] for i in batch], batch_seeds)
                for i, seed, image, is_flagged, record in zip(batch, batch_seeds, images, nsfw, records):
                    attempts[i] += 1
                    if not is_flagged:
                        results[i] = (image, seed, record, attempts[i])
                    elif attempts[i] >= self.max_attempts:
                        raise SafetyCheckError(f'layout {layouts[i].index}: the safety checker flagged all '
                                               f'{attempts[i]} tries (seeds from {int(seeds[i])} via retry_seed)')
                    else:
                        flagged.append(i)
            if flagged:
                logger.info('safety checker flagged layouts %s; regenerating them with their next seed',
                            [layouts[i].index for i in flagged])
            pending = flagged
        return [results[i] for i in range(len(layouts))]

    def _batches(self, indices: Sequence[int], layouts: Sequence[Layout]) -> Iterator[list[int]]:
        """Indices grouped by image size (one latent shape per batch), in chunks of ``batch_size``
        (a whole group when it is ``None``)."""
        by_size: dict[tuple[int, int], list[int]] = {}
        for i in indices:
            by_size.setdefault((layouts[i].width, layouts[i].height), []).append(i)
        for group in by_size.values():
            size = self.batch_size or len(group)
            for start in range(0, len(group), size):
                yield group[start:start + size]

    @torch.no_grad()
    def _run_batch(self, layouts: Sequence[Layout],
                   seeds: Sequence[int]) -> tuple[np.ndarray, list[bool], list[dict[str, Any]]]:
        """Denoise same-size layouts together; float images, safety flags and records."""
        conditions = [self._condition(layout, seed) for layout, seed in zip(layouts, seeds)]
        images, nsfw = self._denoise(layouts, conditions, seeds)
        return images, nsfw, [c.record for c in conditions]

    def _denoise(self, layouts: Sequence[Layout], conditions: Sequence[_Condition], seeds: Sequence[int],
                 **pipeline_kwargs: Any) -> tuple[np.ndarray, list[bool]]:
        """One pipeline call over same-size layouts, each grounded by its own boxes; float images and
        safety flags. ``pipeline_kwargs`` go to the pipeline (e.g. ``latents``)."""
        gligen = self._batch_grounding(layouts, conditions)
        marker: dict[str, Any] = {}
        n = len(layouts)
        with self._per_sample_grounding(marker, gligen):
            out = self.pipeline(
                prompt=[c.prompt for c in conditions],
                negative_prompt=None if self.negative_prompt is None else [self.negative_prompt] * n,
                height=layouts[0].height, width=layouts[0].width,
                num_inference_steps=self.num_inference_steps, guidance_scale=self.guidance_scale,
                gligen_scheduled_sampling_beta=self.scheduled_sampling_beta,
                generator=[torch.Generator('cpu').manual_seed(seed) for seed in seeds],
                output_type='np', cross_attention_kwargs=marker, **_PLACEHOLDER_GROUNDING, **pipeline_kwargs)
        nsfw = out.nsfw_content_detected or [False] * n
        return out.images, [bool(x) for x in nsfw]

    def _condition(self, layout: Layout, seed: int) -> _Condition:
        box_phrases = [self.phrases[label] for label in layout.labels] if self.phrases else []
        prompt = ' '.join(self.prompt.format(phrases=_join_phrases(box_phrases)).split())
        text = self.grounding != 'image'
        record: dict[str, Any] = dict(prompt=prompt, phrases=box_phrases if text else [],
                                      grounding=self.grounding, steps=self.num_inference_steps)
        crops = None
        if self.grounding != 'text-box':
            rng = np.random.default_rng(derive_seed(seed, 0, 0, purpose='gligen-crops'))
            crops = [self._pick_crop(label, rng) for label in layout.labels]
            record['reference_crops'] = [dict(label=crop.label, ann_id=crop.ann_id, image_id=crop.image_id,
                                              size=list(crop.image.size)) for crop in crops]
            crops = [crop.image.convert('RGB') for crop in crops]
        return _Condition(prompt=prompt, phrases=box_phrases if text else None, crops=crops, record=record)

    def _pick_crop(self, label: str, rng: np.random.Generator) -> 'ObjectCrop':
        crop = self.crop_bank.pick(label, rng)
        if min(crop.image.size) < self.min_crop_size:
            raise ValueError(f'crop_bank gave a {crop.image.size[0]}x{crop.image.size[1]} crop for class {label!r}, '
                             f'smaller than min_crop_size={self.min_crop_size}; build the crop bank with '
                             f'min_size >= {self.min_crop_size} or lower min_crop_size')
        return crop

    # ------------------------------------------------------------------ per-sample grounding
    def _batch_grounding(self, layouts: Sequence[Layout],
                         conditions: Sequence[_Condition]) -> dict[str, torch.Tensor]:
        """The ``gligen`` kwargs of the UNet for the whole (guidance-doubled) batch."""
        build = self._text_box_grounding if self.grounding == 'text-box' else self._text_image_grounding
        samples = [build(layout, condition) for layout, condition in zip(layouts, conditions)]
        gligen = {key: torch.cat([s[key] for s in samples]) for key in samples[0]}
        if self.guidance_scale > 1.0:  # diffusers' condition for classifier-free guidance
            gligen = {key: torch.cat([value, value]) for key, value in gligen.items()}
            if self.grounding == 'text-box':
                # as StableDiffusionGLIGENPipeline: the unconditional half sees no objects. (The
                # text-image pipeline instead takes its unconditional half from an ungrounded pass.)
                gligen['masks'][:len(layouts)] = 0
        return gligen

    def _text_box_grounding(self, layout: Layout, condition: _Condition) -> dict[str, torch.Tensor]:
        """One layout's tensors as ``StableDiffusionGLIGENPipeline.__call__`` builds them (step 5.1)."""
        pipe = self.pipeline
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

    def _text_image_grounding(self, layout: Layout, condition: _Condition) -> dict[str, torch.Tensor]:
        """One layout's tensors from diffusers' own text-image builder (phrases and/or crops)."""
        pipe = self.pipeline
        return pipe.get_cross_attention_kwargs_with_grounded(
            hidden_size=pipe.text_encoder.config.hidden_size, gligen_phrases=condition.phrases,
            gligen_images=condition.crops, gligen_boxes=layout.boxes.tolist(), input_phrases_mask=None,
            input_images_mask=None, repeat_batch=1, normalize_constant=IMAGE_EMBEDDING_NORM,
            max_objs=GLIGEN_MAX_BOXES, device=pipe.device)

    @contextmanager
    def _per_sample_grounding(self, marker: dict[str, Any], gligen: dict[str, torch.Tensor]) -> Iterator[None]:
        """While active, UNet calls made with ``cross_attention_kwargs=marker`` get ``gligen`` instead.

        The pipeline writes its broadcast one-layout tensors into ``marker`` and passes that same dict
        to the UNet, so identity tells the grounded calls apart from the text-image pipeline's
        ungrounded pass (whose all-zero tensors are the same for every sample and stay untouched).
        """
        pipe = self.pipeline
        # diffusers 0.42.1's text-image pipeline computes int(beta * steps) but never switches the
        # fusers off; the text-box pipeline does. Applying it here makes both honour the setting.
        schedule_fusers = self.grounding != 'text-box'
        step = itertools.count()

        def swap_grounding(module: torch.nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict] | None:
            if kwargs.get('cross_attention_kwargs') is not marker:
                return None
            i = next(step)
            if schedule_fusers and i == int(self.scheduled_sampling_beta * len(pipe.scheduler.timesteps)):
                pipe.enable_fuser(False)
            return args, {**kwargs, 'cross_attention_kwargs': {**marker, 'gligen': gligen}}

        handle = pipe.unet.register_forward_pre_hook(swap_grounding, with_kwargs=True)
        try:
            yield
        finally:
            handle.remove()


def _join_phrases(phrases: Sequence[str]) -> str:
    """Distinct phrases in order of appearance as one English list: 'a, b and c'."""
    unique = list(dict.fromkeys(phrases))
    return ' and '.join([', '.join(unique[:-1]), unique[-1]]) if len(unique) > 1 else ''.join(unique)


def _scheduler_class(name: str) -> type:
    import diffusers

    cls = getattr(diffusers, name, None)
    if not (isinstance(cls, type) and issubclass(cls, diffusers.SchedulerMixin)):
        known = sorted(n for n in dir(diffusers) if n.endswith('Scheduler'))
        raise ValueError(f'scheduler must name a diffusers scheduler class, got {name!r}; e.g. {known[:12]}')
    return cls
