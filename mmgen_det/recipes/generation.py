"""The generators' settings for a user's data: canvas, zoom, phrases, and how many images per real one.

Copy-paste images are made at the real frames' scale (never upscaled: training does that), GLIGEN at
its native 512 long side, both in the real frames' aspect, sides multiples of 8 (the VAE's factor).
What does not depend on the data (the GLIGEN checkpoint, grounding, sampler, steps, guidance) has one
home, the reference study's generation configs (``GLIGEN_BASES``): a derived config starts from the
generator there and replaces only what the data decides.
"""
from __future__ import annotations

import re
import warnings
from typing import Any

from ..datasets.profile import DataProfile, round_to
from .detectors import CONFIGS

GENERATORS = ('copy-paste', 'copy-paste-diverse', 'copy-paste-scene', 'gligen-text', 'gligen-image', 'gligen-inpaint')
#: the copy-paste generators, each with the config whose :data:`PRESET_KEYS` settings it takes (None: the
#: plain generator: each crop as it is, one soft-edge blend, backgrounds emptied of their objects)
COPY_PASTE = {'copy-paste': None,
              'copy-paste-diverse': '_base_/generation/copy-paste_diverse_fish4knowledge.py',
              'copy-paste-scene': '_base_/generation/copy-paste_scene_fish4knowledge.py'}
#: what a copy-paste preset decides; the data decides the rest
PRESET_KEYS = ('blend', 'appearance', 'background', 'scene_min_visible')
#: the generation config of the reference study whose generator each GLIGEN generator starts from
GLIGEN_BASES = {'gligen-text': '_base_/generation/gligen_text-box_fish4knowledge.py',
                'gligen-image': '_base_/generation/gligen_text-image_fish4knowledge.py',
                'gligen-inpaint': '_base_/generation/gligen_inpaint_text-box_fish4knowledge.py'}
#: generated images per real image of the arm (the reference study: 9,000 for 300)
IMAGES_PER_REAL = dict(cpu=30, gpu=30)
#: GLIGEN draws nothing under two 8-px latent cells
GLIGEN_MIN_OBJECT_SIDE = 16
GLIGEN_LONG_SIDE = 512
GLIGEN_PROMPT = 'a photo of {phrases}'


def generation_canvas(profile: DataProfile, generator: str, factor: float = 1.0) -> tuple[int, int]:
    """(w, h) of generated images: the real frames' aspect, sides multiples of 8. Copy-paste keeps the
    real scale (downscaled when training downscales); GLIGEN works at its native 512 long side."""
    s = min(1.0, factor) if generator in COPY_PASTE else GLIGEN_LONG_SIDE / profile.long_side
    return round_to(profile.frame_width * s, 8), round_to(profile.frame_height * s, 8)


def gligen_phrases(classes: list[str] | tuple[str, ...]) -> dict[str, str]:
    """Class name -> grounding phrase: the name itself, with '_'/'-' as spaces. A name without letters
    (e.g. '0') means nothing to a text encoder: warn, so the user can write a phrase."""
    phrases = {}
    for name in classes:
        phrase = re.sub(r'[_\-]+', ' ', name).strip()
        if not re.search(r'[^\W\d_]', phrase):
            warnings.warn(f'class {name!r} is not words: GLIGEN text grounding will not know what to draw; '
                          f"set its pair [{name!r}, 'a ...'] in generator.phrases of the generation config",
                          stacklevel=2)
        phrases[name] = phrase
    return phrases


def config_generator(base: str) -> dict[str, Any]:
    """The generator dict of a shipped generation config (``base`` relative to ``configs/``)."""
    from mmengine.config import Config
    cfg = Config.fromfile(str(CONFIGS / base))
    return cfg.train_dataloader.dataset.generation.generator.to_dict()


def copy_paste_generator(name: str, ann_file: str, img_root: str) -> dict[str, Any]:
    """A copy-paste generator over the real data, with the :data:`PRESET_KEYS` settings of
    :data:`COPY_PASTE`'s config for ``name`` (the data decides none of them)."""
    generator = dict(type='copy_paste', ann_file=ann_file, img_root=img_root)
    if COPY_PASTE[name]:
        preset = config_generator(COPY_PASTE[name])
        generator.update({k: preset[k] for k in PRESET_KEYS if k in preset})
    return generator


def derive_generation(name: str, profile: DataProfile, factor: float, data_root: str) -> dict[str, Any]:
    """The ``generation`` dict of one generator, derived from the data."""
    ann_file = f'{data_root}annotations/train.json'
    width, height = generation_canvas(profile, name, factor)
    if name in COPY_PASTE:
        return dict(num_images=100, seed=0, batch_size=16, image_format='jpg',
                    layout=dict(ann_file=ann_file, strategy='jitter', width=width, height=height, min_box_cells=0.5,
                                min_boxes=1),
                    generator=copy_paste_generator(name, ann_file, data_root))
    # GLIGEN cannot draw an object under two 8-px latent cells: zoom in on real objects until the
    # 10th-percentile object spans GLIGEN_MIN_OBJECT_SIDE px of the canvas (at most 3x)
    canvas_scale = max(width, height) / profile.long_side
    zoom_min = min(3.0, max(1.0, GLIGEN_MIN_OBJECT_SIDE / (profile.object_side_p10 * canvas_scale)))
    layout = dict(ann_file=ann_file, strategy='jitter', width=width, height=height, min_box_cells=2, min_boxes=1)
    if zoom_min > 1.0:
        layout['zoom'] = (round(zoom_min, 2), round(min(3.0, zoom_min * 1.5), 2))
    generator = config_generator(GLIGEN_BASES[name])
    # what the data decides: the phrases, a prompt without the reference study's scene, the real images
    generator.update(prompt=GLIGEN_PROMPT,
                     phrases=[[name, phrase] for name, phrase in gligen_phrases(profile.classes).items()])
    if 'crops' in generator:
        generator['crops'].update(ann_file_or_dict=ann_file, img_root=data_root)
    if generator.get('background') == 'inpaint':  # objects into the real frames, emptied
        generator.update(ann_file=ann_file, img_root=data_root)
    return dict(num_images=100, seed=0, batch_size=8, image_format='jpg', layout=layout, generator=generator)
