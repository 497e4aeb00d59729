"""GLIGEN layout-to-image generation: each layout's boxes ground its objects' phrases or reference crops.

In: layouts (boxes, labels, size) and one seed per layout. Out: one image per layout with its record
(prompt, phrases, reference crops, seed, tries). This module holds the generator: its settings, its
identity, and the batched sampling loop (batches of same-size layouts, safety-checker retries). The
settings checks live in :mod:`.gligen_settings`, the per-sample grounding in :mod:`.gligen_grounding`,
pipeline loading in :mod:`.model_loading`; writing the set to disk is :mod:`.synthetic_set`'s.

Batching different layouts
    To denoise ``batch_size`` different layouts in one loop, this generator calls the pipeline itself
    (per-sample prompts, one ``torch.Generator`` per image) with each layout's own grounding
    (:mod:`.gligen_grounding`). An image is therefore the same, within float tolerance, whatever else
    is in its batch.

Seeds
    Image ``i`` starts from noise drawn by ``torch.Generator('cpu').manual_seed(seeds[i])`` (CPU
    generators give the same noise on any device). Reference crops are drawn with a numpy generator
    derived from the same seed. An image flagged by the pipeline's safety checker is regenerated from
    :func:`retry_seed` ``(seed, attempt)``, at most ``max_attempts`` tries in all.

diffusers internals
    Calling the pipeline this way relies on how diffusers' GLIGEN pipelines work inside (the order of
    their calls, the format of their grounding, their scheduler calls). Every such assumption is an
    entry, with a check against the installed diffusers, of
    :data:`mmgen_det.compat.diffusers_internals.DIFFUSERS_INTERNALS`, named where the code relies on it.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Iterator, Protocol, Sequence

import numpy as np
import torch

from ..layouts import Layout
from ..layouts.layout import GLIGEN_MAX_BOXES
from ..utils.seeds import derive_seed
from .base import BaseGenerator, GeneratedImage
from .gligen_grounding import PLACEHOLDER_GROUNDING, Condition, batch_grounding, per_sample_grounding
from .gligen_settings import (DTYPES, Phrases, check_settings, check_unet_inputs, phrase_table, resolve_device,
                              scheduler_class)
from .model_loading import PIPELINE_CLASSES, ResolvedModel, load_gligen_pipeline

if TYPE_CHECKING:
    from .crops import ObjectCrop

logger = logging.getLogger(__name__)


class CropSource(Protocol):
    """What image grounding needs from a crop bank (e.g. ``mmgen_det.generation.crops.ObjectCropBank``)."""

    def pick(self, label: str, rng: np.random.Generator) -> 'ObjectCrop':
        """A real crop of class ``label`` (its ``image``, and ``ann_id`` stored in the record)."""


class SafetyCheckError(RuntimeError):
    """The safety checker flagged every try of an image."""


def retry_seed(seed: int, attempt: int) -> int:
    """Seed for try ``attempt`` (0 = first) of the image whose seed is ``seed``.

    ``generate`` receives seeds, not (global seed, index), so retries derive from the seed itself: the
    first try uses it unchanged and a rerun regenerates exactly the same sequence of tries.
    """
    return seed if attempt == 0 else derive_seed(seed, 0, attempt, purpose='gligen-retry')


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
        phrases: class name -> phrase, e.g. ``{'0': 'a damselfish'}`` or ``[['0', 'a damselfish']]``
            (:func:`~.gligen_settings.phrase_table`). Required for text grounding and for a prompt
            with ``{phrases}``.
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
                 phrases: Phrases | None = None,
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
        self.phrases = phrase_table(phrases)
        check_settings(grounding, prompt, self.phrases, num_inference_steps, guidance_scale,
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
            self.pipeline.scheduler = scheduler_class(scheduler).from_config(self.pipeline.scheduler.config)
        self._warn_shared_phrases()

    # ------------------------------------------------------------------ validation
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
        whose class :meth:`placement` resolves (the index does not change the images); phrases as a
        dict, so both of their written forms are the same settings."""
        settings = {k: v for k, v in cfg.items() if k not in ('batch_size', 'device')}
        if isinstance(settings.get('phrases'), (list, tuple)):
            settings['phrases'] = phrase_table(settings['phrases'])
        return settings

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

    def _denoise(self, layouts: Sequence[Layout], conditions: Sequence[Condition], seeds: Sequence[int],
                 **pipeline_kwargs: Any) -> tuple[np.ndarray, list[bool]]:
        """One pipeline call over same-size layouts, each grounded by its own boxes; float images and
        safety flags. ``pipeline_kwargs`` go to the pipeline (e.g. ``latents``).

        Relies on DIFFUSERS_INTERNALS 'pipeline call' (these keywords, the output) and 'one generator per
        image' (an image's noise does not depend on its batch)."""
        gligen = batch_grounding(self.pipeline, self.grounding, self.guidance_scale, layouts, conditions)
        marker: dict[str, Any] = {}
        n = len(layouts)
        with per_sample_grounding(self.pipeline, self.grounding, self.scheduled_sampling_beta, marker, gligen):
            out = self.pipeline(
                prompt=[c.prompt for c in conditions],
                negative_prompt=None if self.negative_prompt is None else [self.negative_prompt] * n,
                height=layouts[0].height, width=layouts[0].width,
                num_inference_steps=self.num_inference_steps, guidance_scale=self.guidance_scale,
                gligen_scheduled_sampling_beta=self.scheduled_sampling_beta,
                generator=[torch.Generator('cpu').manual_seed(seed) for seed in seeds],
                output_type='np', cross_attention_kwargs=marker, **PLACEHOLDER_GROUNDING, **pipeline_kwargs)
        nsfw = out.nsfw_content_detected or [False] * n
        return out.images, [bool(x) for x in nsfw]

    def _condition(self, layout: Layout, seed: int) -> Condition:
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
        return Condition(prompt=prompt, phrases=box_phrases if text else None, crops=crops, record=record)

    def _pick_crop(self, label: str, rng: np.random.Generator) -> 'ObjectCrop':
        crop = self.crop_bank.pick(label, rng)
        if min(crop.image.size) < self.min_crop_size:
            raise ValueError(f'crop_bank gave a {crop.image.size[0]}x{crop.image.size[1]} crop for class {label!r}, '
                             f'smaller than min_crop_size={self.min_crop_size}; build the crop bank with '
                             f'min_size >= {self.min_crop_size} or lower min_crop_size')
        return crop

def _join_phrases(phrases: Sequence[str]) -> str:
    """Distinct phrases in order of appearance as one English list: 'a, b and c'."""
    unique = list(dict.fromkeys(phrases))
    return ' and '.join([', '.join(unique[:-1]), unique[-1]]) if len(unique) > 1 else ''.join(unique)
