"""GLIGEN inpainting: objects generated into the user's own scenes, emptied of their labelled objects.

In:  layouts + seeds; at construction an inpainting GLIGEN checkpoint (UNet with 9 input channels, e.g.
     ``masterful/gligen-1-4-inpainting-text-box``) and the real COCO annotations and images the
     backgrounds are made from (in an experiment: the run's N real images only).
Out: one image per layout: a real background with an object generated in each layout box. Outside the
     boxes every pixel is the background's own, so the layout boxes are the only objects to annotate.

Backgrounds
    The emptied real frames the copy-paste generator uses (:class:`~.backgrounds.BackgroundBank`:
    per-camera medians without the labelled objects, or frames with their boxes inpainted), one per
    layout, drawn from the image's seed. A layout copied from a real image gets a background of that
    image's camera cut at the layout's window (``layout.source['image_id']`` / ``['window']``), so its
    boxes sit where and at the scale real objects were; other layouts get any background, cropped to
    their aspect. Either way the layout's boxes are in that background's coordinates.

Non-square frames: resize and reflect-pad
    GLIGEN's inpainting checkpoints work on a square of their native size (512 px; diffusers centre-crops
    every inpaint image to it, which would cut frames and move boxes). Here the ``W x H`` background is
    resized until its long side fills the square, centred, and the rest of the square is its mirror
    image (:class:`SquareFit`). The pad lies outside the mask: the model only sees it as context. Boxes
    are mapped into the square for grounding and the mask, and after decoding the frame's window is cut
    out and resized back to ``W x H``: boxes are exact in the saved image.

Mask and paste-back
    The latent mask covers every 8-px latent cell a box touches (diffusers' mask truncates far edges, which
    can leave up to a cell of a box unpainted). After decoding, the pixels outside the boxes (rounded out
    to whole pixels) are replaced by the background itself: the VAE round trip would otherwise blur and
    shift them. What remains of that round trip is a seam at the box edges, where generated pixels meet
    real ones.

Batching
    diffusers inpaints one background per call (broadcast over the batch). Here every sample has its own
    background and mask inside the batched loop of :class:`~.gligen.GLIGENGenerator` (per-sample
    grounding and classifier-free guidance as there): a UNet pre-hook appends each sample's masked
    background latents and mask to its input, and after every scheduler step the region outside each
    sample's mask is set to its background noised to the next timestep, as diffusers does at the start
    of the next step. An image therefore equals, within float tolerance, a single
    ``StableDiffusionGLIGENPipeline`` call with ``gligen_inpaint_image`` on the same square and noise.

Noise
    diffusers' inpainting path draws the VAE sample and every re-noising from torch's global generator,
    the re-noisings with ``randn_like``, whose values land in the memory order of the VAE's output
    (channels-last, measured on a CPU). Here the same draws, in the same order (VAE sample, initial latents, one
    re-noising per step), come in NCHW order from one CPU ``torch.Generator`` per image, seeded with
    :func:`inpaint_noise_seed`: the same on any device and in any batch. The initial latents are scaled by
    the scheduler's ``init_noise_sigma`` as in every other diffusers pipeline (the GLIGEN inpainting path
    leaves it out; that differs only for schedulers where it is not 1, such as Euler's).
"""
from __future__ import annotations

import functools
import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import cv2
import numpy as np
import torch
from PIL import Image

from ..compat.diffusers_internals import DiffusersChanged
from ..layouts import Layout
from ..utils.io import PathLike
from ..utils.seeds import derive_seed, rng_for
from .backgrounds import CLEAN_METHODS, BackgroundBank
from .crops import coco_fingerprint, as_coco
from .gligen import GLIGENGenerator

#: how non-square frames are fitted to the model's square (recorded in the generator's identity)
FIT = 'resize-reflect-pad'
# Normalised boxes times a size carry float noise (0.3 * 360 = 108.00000000000001): it must not add a pixel.
_EPS = 1e-6


def inpaint_noise_seed(seed: int) -> int:
    """Seed of the generator for image ``seed``'s VAE sample, initial latents and re-noisings."""
    return derive_seed(seed, 0, 0, purpose='gligen-inpaint-noise')


def pixel_rects(layout: Layout) -> list[tuple[int, int, int, int]]:
    """The layout's boxes as integer ``xyxy`` pixel rectangles, rounded outwards: every pixel a box touches."""
    rects = []
    for x0, y0, x1, y1 in layout.pixel_boxes():
        rects.append((max(0, math.floor(x0 + _EPS)), max(0, math.floor(y0 + _EPS)),
                      min(layout.width, math.ceil(x1 - _EPS)), min(layout.height, math.ceil(y1 - _EPS))))
    return rects


@dataclass(frozen=True)
class SquareFit:
    """Where a ``frame_width x frame_height`` frame sits, resized, in the model's ``size x size`` square."""
    size: int
    left: int
    top: int
    width: int
    height: int

    @classmethod
    def of(cls, frame_width: int, frame_height: int, size: int) -> 'SquareFit':
        """The frame scaled until its long side is ``size``, centred."""
        scale = size / max(frame_width, frame_height)
        width = min(size, max(1, round(frame_width * scale)))
        height = min(size, max(1, round(frame_height * scale)))
        return cls(size, (size - width) // 2, (size - height) // 2, width, height)

    @property
    def window(self) -> list[int]:
        """The frame's ``xyxy`` window in the square."""
        return [self.left, self.top, self.left + self.width, self.top + self.height]

    def boxes(self, boxes: np.ndarray) -> np.ndarray:
        """Normalised ``xyxy`` boxes of the frame as normalised boxes of the square."""
        scale = np.array([self.width, self.height] * 2, np.float64) / self.size
        offset = np.array([self.left, self.top] * 2, np.float64) / self.size
        return boxes * scale + offset

    def pad(self, frame: Image.Image) -> Image.Image:
        """The square: the frame resized into its window, the rest filled with the frame's mirror image."""
        inner = np.asarray(frame.convert('RGB').resize((self.width, self.height), Image.Resampling.LANCZOS))
        pads = ((self.top, self.size - self.top - self.height), (self.left, self.size - self.left - self.width),
                (0, 0))
        return Image.fromarray(np.pad(inner, pads, mode='reflect'))

    def crop(self, square: np.ndarray, frame_width: int, frame_height: int) -> np.ndarray:
        """The frame's window of a float ``(size, size, 3)`` image, resized back to the frame's size."""
        window = square[self.top:self.top + self.height, self.left:self.left + self.width]
        if (self.width, self.height) == (frame_width, frame_height):
            return window
        shrink = self.width > frame_width
        resized = cv2.resize(window, (frame_width, frame_height),
                             interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
        return np.clip(resized, 0.0, 1.0)


@dataclass(frozen=True)
class Placement:
    """One layout on its background: the frame that is saved, and the square the model works on.

    Attributes:
        layout: the layout; its boxes are in the background's (and the saved image's) coordinates.
        background: the ``layout.width x layout.height`` RGB background.
        fit: where the background sits in the model's square.
        record: where the background came from (see :meth:`BackgroundBank.pick`) and ``square``.
    """
    layout: Layout
    background: Image.Image
    fit: SquareFit
    record: dict[str, Any]

    @property
    def square_layout(self) -> Layout:
        """The layout in the square's coordinates: what grounds the objects."""
        layout = self.layout
        return Layout(layout.index, self.fit.size, self.fit.size, self.fit.boxes(layout.boxes), layout.labels,
                      layout.source)

    def square_image(self) -> Image.Image:
        """The ``gligen_inpaint_image`` diffusers would be given."""
        return self.fit.pad(self.background)

    def latent_keep_mask(self, cells: int) -> np.ndarray:
        """``(cells, cells)`` float32 mask of the square's latent grid, diffusers' convention: 0 on every
        cell a box's pixels touch (regenerated), 1 elsewhere (kept)."""
        keep = np.ones((cells, cells), np.float32)
        cell = self.fit.size / cells
        sx, sy = self.fit.width / self.layout.width, self.fit.height / self.layout.height
        for x0, y0, x1, y1 in pixel_rects(self.layout):
            rows = slice(math.floor((self.fit.top + y0 * sy) / cell + _EPS),
                         math.ceil((self.fit.top + y1 * sy) / cell - _EPS))
            cols = slice(math.floor((self.fit.left + x0 * sx) / cell + _EPS),
                         math.ceil((self.fit.left + x1 * sx) / cell - _EPS))
            keep[rows, cols] = 0
        return keep

    def box_mask(self) -> np.ndarray:
        """Bool ``(H, W)`` mask of the saved image, True on the pixels the boxes touch."""
        mask = np.zeros((self.layout.height, self.layout.width), bool)
        for x0, y0, x1, y1 in pixel_rects(self.layout):
            mask[y0:y1, x0:x1] = True
        return mask

    def composite(self, square: np.ndarray) -> np.ndarray:
        """The saved float image: the decoded square's frame inside the boxes, the background outside."""
        generated = self.fit.crop(square, self.layout.width, self.layout.height)
        background = np.asarray(self.background, np.float32) / 255
        return np.where(self.box_mask()[..., None], generated, background)


class GLIGENInpaintGenerator(GLIGENGenerator):
    """Generate each layout's objects into a real, emptied background with an inpainting GLIGEN.

    Built by ``build_generator(dict(type='gligen', background='inpaint', ...))``.

    Args:
        model: an inpainting GLIGEN (UNet with 9 input channels): ``'masterful/gligen-1-4-inpainting-text-box'``
            for text-box grounding, ``'anhnct/Gligen_Inpainting_Text_Image'`` for text-image or image
            grounding, or a local ``save_pretrained`` directory. Another model is refused at start-up.
        ann_file: real COCO annotation file (or dict) whose images the backgrounds are made from.
        img_root: folder such that ``img_root/file_name`` is each real image.
        background_method: ``'auto'``, ``'median'``, ``'inpaint'`` or ``'crop'``: how labelled objects are removed
            from the real frames (see :mod:`.backgrounds`).
        match_camera: give a layout copied from a real image a background of that image's camera, cut
            at the layout's window.
        background_options: extra keyword arguments of :meth:`BackgroundBank.from_coco`.
        **kwargs: the other settings of :class:`~.gligen.GLIGENGenerator` (grounding, prompt, phrases,
            steps, guidance, batch size, ...).
    """

    name = 'gligen_inpaint'
    version = 2  # 'auto' backgrounds add free crops
    inpainting = True

    def __init__(self, model: str, ann_file: PathLike | dict, img_root: PathLike, background_method: str = 'auto',
                 match_camera: bool = True, background_options: dict[str, Any] | None = None,
                 **kwargs: Any) -> None:
        if background_method not in CLEAN_METHODS:  # 'scene' keeps objects this generator does not annotate
            raise ValueError(f'background_method must be one of {CLEAN_METHODS}, got {background_method!r}')
        self._coco = as_coco(ann_file)
        self.img_root = img_root
        self.background_settings = dict(background_method=background_method, match_camera=bool(match_camera),
                                        background_options=dict(background_options or {}))
        self._backgrounds: BackgroundBank | None = None
        super().__init__(model, **kwargs)
        #: side of the square the UNet was trained on (512 for the SD 1.4 based checkpoints)
        self.native_size = self.pipeline.unet.config.sample_size * self.pipeline.vae_scale_factor

    @property
    def background_bank(self) -> BackgroundBank:
        """Built on first use, so :meth:`identity` stays cheap for resume checks."""
        if self._backgrounds is None:
            s = self.background_settings
            self._backgrounds = BackgroundBank.from_coco(self._coco, self.img_root, s['background_method'],
                                                         **s['background_options'])
        return self._backgrounds

    def identity(self) -> dict[str, Any]:
        return dict(super().identity(), background='inpaint', **self.background_settings, fit=FIT,
                    native_size=self.native_size, annotations_sha256=coco_fingerprint(self._coco))

    def place(self, layout: Layout, seed: int) -> Placement:
        """``layout`` on the background drawn for image seed ``seed``, and where it sits in the square."""
        source = layout.source if self.background_settings['match_camera'] else {}
        background, record = self.background_bank.pick(rng_for(seed, 0, 'gligen-background'), layout.width,
                                                        layout.height, source.get('image_id'), source.get('window'))
        fit = SquareFit.of(layout.width, layout.height, self.native_size)
        return Placement(layout, background, fit, dict(record, square=dict(size=fit.size, window=fit.window)))

    # ------------------------------------------------------------------ generation
    @torch.no_grad()
    def _run_batch(self, layouts: Sequence[Layout],
                   seeds: Sequence[int]) -> tuple[list[np.ndarray], list[bool], list[dict[str, Any]]]:
        """Inpaint same-size layouts into their backgrounds together; float images, safety flags, records."""
        conditions = [self._condition(layout, seed) for layout, seed in zip(layouts, seeds)]
        placements = [self.place(layout, seed) for layout, seed in zip(layouts, seeds)]
        with self._per_sample_backgrounds(placements, seeds) as latents:
            squares, nsfw = self._denoise([p.square_layout for p in placements], conditions, seeds, latents=latents)
        for condition, placement in zip(conditions, placements):
            condition.record['background'] = placement.record
        return ([p.composite(square) for p, square in zip(placements, squares)], nsfw,
                [c.record for c in conditions])

    @contextmanager
    def _per_sample_backgrounds(self, placements: Sequence[Placement],
                                seeds: Sequence[int]) -> Iterator[torch.Tensor]:
        """While active, the pipeline inpaints each sample into its own background; yields its initial latents.

        What diffusers' inpainting path does with one broadcast background, per sample: the UNet input
        gets ``(background latents * keep, keep)`` appended, and the latents outside the mask are the
        background noised to the current timestep before each step (here: after the previous step,
        and once in the initial latents handed to the pipeline). This relies on diffusers internals, each
        an entry of :data:`~mmgen_det.compat.diffusers_internals.DIFFUSERS_INTERNALS` named below; a call
        that shows one violated raises :class:`~mmgen_det.compat.diffusers_internals.DiffusersChanged`.
        """
        from diffusers.utils.torch_utils import randn_tensor

        pipe = self.pipeline
        scheduler = pipe.scheduler
        if 'step' in vars(scheduler):
            raise DiffusersChanged('scheduler.step shadowing', f'{type(scheduler).__name__} has a step attribute of '
                                   'its own, which shadowing would lose')
        # DIFFUSERS_INTERNALS 'one generator per image': each sample's noise comes from its own generator
        noise = [torch.Generator('cpu').manual_seed(inpaint_noise_seed(seed)) for seed in seeds]
        squares = pipe.image_processor.preprocess([p.square_image() for p in placements])
        squares = squares.to(device=pipe.device, dtype=pipe.vae.dtype)
        background = pipe.vae.encode(squares).latent_dist.sample(generator=noise) * pipe.vae.config.scaling_factor
        keep = torch.from_numpy(np.stack([p.latent_keep_mask(background.shape[-1]) for p in placements]))
        keep = keep[:, None].to(background)
        # DIFFUSERS_INTERNALS 'inpainting UNet input' and 'guidance batch order'
        addition = torch.cat([background * keep, keep], dim=1)
        if self.guidance_scale > 1.0:  # the pipeline doubles the batch for classifier-free guidance
            addition = torch.cat([addition, addition])

        def with_background(latents: torch.Tensor, step: int) -> torch.Tensor:
            """``latents`` outside each mask replaced by the background noised to timestep ``step``."""
            fresh = randn_tensor(background.shape, generator=noise, device=background.device, dtype=background.dtype)
            noisy = scheduler.add_noise(background, fresh, scheduler.timesteps[step:step + 1])
            return noisy * keep + latents * (1 - keep)

        # DIFFUSERS_INTERNALS 'set_timesteps repeatable': the pipeline sets the same timesteps again
        scheduler.set_timesteps(self.num_inference_steps, device=pipe.device)
        sigma = scheduler.init_noise_sigma
        start = randn_tensor(background.shape, generator=noise, device=background.device, dtype=background.dtype)
        # DIFFUSERS_INTERNALS 'caller latents': the pipeline multiplies them by sigma again
        latents = with_background(start * sigma, 0) / sigma

        def append_background(module: torch.nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
            if not args or args[0].shape[1] != 4:
                raise DiffusersChanged('caller latents', 'the UNet input is '
                                       f'{tuple(args[0].shape) if args else "not positional"}, not the 4-channel '
                                       'latents the backgrounds are appended to')
            sample, *rest = args
            if len(sample) != len(addition):
                raise DiffusersChanged('guidance batch order', f'a UNet call has {len(sample)} samples, the '
                                       f"batch's backgrounds {len(addition)}")
            return (torch.cat([sample, addition.to(sample.dtype)], dim=1), *rest), kwargs

        step = scheduler.step
        steps_done = 0

        @functools.wraps(step)  # the pipeline reads step's keywords from its signature
        def step_with_background(*args: Any, **kwargs: Any) -> Any:
            nonlocal steps_done
            out = step(*args, **kwargs)
            steps_done += 1
            if steps_done < len(scheduler.timesteps):  # the last step's output is decoded as it is
                out.prev_sample = with_background(out.prev_sample, steps_done)
            return out

        handle = pipe.unet.register_forward_pre_hook(append_background, with_kwargs=True)
        # DIFFUSERS_INTERNALS 'scheduler.step shadowing': schedulers have no hooks, so the method is
        # shadowed on the instance while active
        scheduler.step = step_with_background
        try:
            yield latents
        finally:
            handle.remove()
            del scheduler.step
        if steps_done != len(scheduler.timesteps):
            raise DiffusersChanged('scheduler.step shadowing', f'scheduler.step ran {steps_done} times over '
                                   f'{len(scheduler.timesteps)} timesteps, not once per timestep')
