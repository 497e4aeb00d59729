"""The input scale and the training crop: what size the detector sees a user's frames at.

- objects must cover at least ``MIN_OBJECT_SIDE`` input pixels (two cells of the finest, stride-8
  level) or the detector cannot place them, so small objects are upscaled;
- a CPU cannot train on 1080p frames: the long side is capped per device, and CPU training sees
  random crops of ``TRAIN_CROP`` pixels of the scaled frame (objects keep the scale they are tested
  at), unless the objects are too large to fit a crop.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..datasets.profile import DataProfile

DEVICES = ('cpu', 'gpu')
#: the side (px at the input scale) the 10th-percentile object is scaled to
MIN_OBJECT_SIDE = {'cpu': 16, 'gpu': 16}
MAX_UPSCALE = 3.0
MIN_LONG_SIDE = 320
MAX_LONG_SIDE = {'cpu': 960, 'gpu': 1333}
TRAIN_CROP = {'cpu': 256, 'gpu': None}


@dataclass(frozen=True)
class InputScale:
    """``scale``: the (w, h) every frame is resized to (keep ratio); ``train_crop``: (w, h) random
    training crop of the resized frame, or None; ``warnings``: what the caps cost."""
    factor: float
    scale: tuple[int, int]
    train_crop: tuple[int, int] | None
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def input_scale(profile: DataProfile, device: str, min_object_side: float | None = None) -> InputScale:
    """Upscale until the 10th-percentile object covers ``min_object_side`` px (default
    ``MIN_OBJECT_SIDE[device]``), downscale large objects to save compute, within
    [MIN_LONG_SIDE, MAX_LONG_SIDE[device]] on the long side."""
    if device not in DEVICES:
        raise ValueError(f'device must be one of {DEVICES}, got {device!r}')
    min_side = min_object_side or MIN_OBJECT_SIDE[device]
    long = profile.long_side
    wanted = min_side / profile.object_side_p10
    high = min(MAX_LONG_SIDE[device] / long, MAX_UPSCALE)
    factor = round(min(max(wanted, MIN_LONG_SIDE / long), high), 3)
    notes = []
    if factor < wanted * 0.75:
        notes.append(f'10% of the objects are under {profile.object_side_p10:.0f} px; at the {device.upper()} '
                     f'input scale ({factor:.2f}x, long side <= {MAX_LONG_SIDE[device]}) they span '
                     f'{profile.object_side_p10 * factor:.0f} px, under the {min_side:.0f} px the finest level '
                     'resolves: expect them to be missed (a GPU recipe or image tiles would keep them)')
    scale = (round(profile.frame_width * factor), round(profile.frame_height * factor))
    crop_side = TRAIN_CROP[device]
    crop = None
    # crops pay where objects are small in the frame; a crop would cut large objects apart
    if crop_side and max(scale) > crop_side and profile.object_side_p90 * factor <= crop_side / 2:
        crop = (min(scale[0], crop_side), min(scale[1], crop_side))
    return InputScale(factor, scale, crop, tuple(notes))



def pipelines(scale: InputScale, train_base: list[dict], test_base: list[dict]) -> tuple[list[dict], list[dict]]:
    """The dataset base's train and test pipelines at the derived scale, with a random training crop
    after the resize where the scale asks for one."""
    def at_scale(steps: list[dict]) -> list[dict]:
        return [dict(step, scale=scale.scale) if step['type'] == 'Resize' else dict(step) for step in steps]
    train = at_scale(train_base)
    if scale.train_crop:
        resize = next(i for i, step in enumerate(train) if step['type'] == 'Resize')
        # mmdet's RandomCrop takes (h, w)
        train.insert(resize + 1, dict(type='RandomCrop', crop_size=(scale.train_crop[1], scale.train_crop[0]),
                                      allow_negative_crop=False))
    return train, at_scale(test_base)
