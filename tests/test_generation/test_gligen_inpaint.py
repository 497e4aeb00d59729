"""GLIGEN inpainting into real, emptied, non-square frames, on the tiny offline inpainting GLIGEN (CPU,
64x64 native square, 2 steps)."""
from __future__ import annotations

import json
import signal
from pathlib import Path

import numpy as np
import pytest
import torch
from gligen_stubs import FlaggingSafetyChecker, StubCropBank
from helpers import REPO, run_tool
from PIL import Image
from synthetic_sets import assert_complete_set, assert_same_images

from mmgen_det.generation import build_generator, generate_synthetic_set
from mmgen_det.generation.gligen import GLIGENGenerator, retry_seed
from mmgen_det.generation.gligen_inpaint import (GLIGENInpaintGenerator, Placement, SquareFit, inpaint_noise_seed,
                                                 pixel_rects)
from mmgen_det.generation.model_loading import NotAGligenModelError
from mmgen_det.generation.writer import SettingsMismatchError
from mmgen_det.layouts import Layout

PHRASES = {'fish': 'a fish', 'crab': 'a crab'}
FAST = dict(prompt='a photo of {phrases}', phrases=PHRASES, num_inference_steps=2, guidance_scale=7.5,
            scheduled_sampling_beta=1.0)
OBJECT = (255, 0, 255)
CAMERA_A, CAMERA_B = (96, 64), (80, 48)  # two fixed cameras, neither square


def _scene(seed: int, size: tuple[int, int]) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(40, 200, (6, 8, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC))


@pytest.fixture(scope='module')
def scenes(tmp_path_factory) -> tuple[Path, Path]:
    """Real frames with labelled objects: 6 of camera A (a median background) and 2 of camera B (each
    inpainted); returns (annotation file, image root)."""
    root = tmp_path_factory.mktemp('scenes')
    rng = np.random.default_rng(0)
    images, anns = [], []
    for k, (size, scene_seed) in enumerate([(CAMERA_A, 1)] * 6 + [(CAMERA_B, 2)] * 2):
        frame = _scene(scene_seed, size).copy()
        x, y = 4 + 9 * k % (size[0] - 16), 6 + 5 * k % (size[1] - 16)
        frame[y:y + 10, x:x + 12] = OBJECT
        frame = np.clip(frame.astype(int) + rng.integers(-2, 3, frame.shape), 0, 255).astype(np.uint8)
        Image.fromarray(frame).save(root / f'{k}.png')
        images.append(dict(id=k + 1, file_name=f'{k}.png', width=size[0], height=size[1]))
        anns.append(dict(id=k + 1, image_id=k + 1, category_id=1 + k % 2, bbox=[x, y, 12, 10]))
    coco = dict(images=images, annotations=anns, categories=[dict(id=1, name='fish'), dict(id=2, name='crab')])
    (root / 'train.json').write_text(json.dumps(coco))
    return root / 'train.json', root


@pytest.fixture(scope='module')
def inpaint(tiny_gligen_dir, scenes) -> GLIGENInpaintGenerator:
    ann_file, root = scenes
    return GLIGENInpaintGenerator(str(tiny_gligen_dir('inpainting-text-box')), ann_file=ann_file, img_root=root,
                                  **FAST)


def layouts(width: int = 64, height: int = 48) -> list[Layout]:
    """Four layouts; the far box edges fall on latent cells of the square (see test_single_call...)."""
    return [Layout(0, width, height, [[0.1, 0.1, 0.5, 0.5]], ['fish']),
            Layout(1, width, height, [[0.25, 0.25, 0.75, 1.0], [0.0, 0.0, 0.25, 0.375]], ['crab', 'fish']),
            Layout(2, width, height, np.zeros((0, 4)), []),
            Layout(3, width, height, [[0.5, 0.5, 1.0, 1.0], [0.125, 0.625, 0.375, 0.875]], ['fish', 'crab'])]


def diffusers_reference(pipeline, placement: Placement, seed: int, prompt: str, phrases: list[str] | None,
                        monkeypatch, **kwargs) -> np.ndarray:
    """A plain diffusers call with ``gligen_inpaint_image`` on the placement's square, the same noise.

    diffusers draws its re-noising with ``torch.randn_like(latent)``, which fills memory in the order of
    the VAE output's layout (channels-last on a CPU): the generator draws in NCHW order on every device.
    The reference keeps diffusers' global generator and order of draws, with NCHW-ordered ``randn_like``.
    """
    monkeypatch.setattr(torch, 'randn_like', lambda x, **kw: torch.randn(x.shape, dtype=x.dtype, device=x.device))
    square = placement.square_layout
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(inpaint_noise_seed(seed))
        out = pipeline(prompt=prompt, gligen_phrases=phrases, gligen_boxes=square.boxes.tolist(),
                       gligen_inpaint_image=placement.square_image(), height=square.height, width=square.width,
                       num_inference_steps=2, guidance_scale=7.5, gligen_scheduled_sampling_beta=1.0,
                       generator=torch.Generator().manual_seed(seed), output_type='np', **kwargs).images[0]
    monkeypatch.undo()
    return out


# ---------------------------------------------------------------- geometry (pure)
def test_square_fit_of_non_square_frames():
    fit = SquareFit.of(512, 288, 512)
    assert (fit.left, fit.top, fit.width, fit.height) == (0, 112, 512, 288) and fit.window == [0, 112, 512, 400]
    np.testing.assert_allclose(fit.boxes(np.array([[0.0, 0.0, 1.0, 1.0], [0.5, 0.5, 0.75, 1.0]])),
                               [[0, 112 / 512, 1, 400 / 512], [0.5, 256 / 512, 0.75, 400 / 512]])
    tall = SquareFit.of(360, 640, 512)
    assert (tall.left, tall.top, tall.width, tall.height) == (112, 0, 288, 512)
    small = SquareFit.of(360, 200, 512)  # enlarged: 512 x 284.4 -> 284
    assert (small.width, small.height, small.top) == (512, 284, 114)


@pytest.mark.parametrize('size', [(64, 48), (72, 40), (40, 64), (64, 64)])
def test_pad_and_crop_put_the_frame_back_in_place(size):
    frame = Image.fromarray(_scene(3, size))
    layout = Layout(0, *size, [[0.2, 0.3, 0.6, 0.9]], ['fish'])
    placement = Placement(layout, frame, SquareFit.of(*size, 64), {})
    square = np.asarray(placement.square_image())
    assert square.shape == (64, 64, 3)
    fit = placement.fit
    inner = square[fit.top:fit.top + fit.height, fit.left:fit.left + fit.width]
    # the pad mirrors the frame: the row/column next to the window repeats the one inside it
    if fit.top:
        np.testing.assert_array_equal(square[fit.top - 1], inner[1])
    if fit.left:
        np.testing.assert_array_equal(square[:, fit.left - 1], square[:, fit.left + 1])
    # the whole square through the generator's crop + paste: the frame comes back where it was
    back = fit.crop(square.astype(np.float32) / 255, *size)
    error = np.abs(back * 255 - np.asarray(frame, np.float32))
    if (fit.width, fit.height) == size:
        assert error.max() < 1e-3
    else:  # resized in and out: smooth scene, interpolation error only
        assert error.mean() < 3


@pytest.mark.parametrize('size', [(64, 48), (72, 40), (40, 64)])
def test_latent_mask_covers_every_box_pixel_and_little_more(size):
    rng = np.random.default_rng(size[0])
    xy = np.sort(rng.uniform(0, 1, (6, 2, 2)), axis=1)
    boxes = np.stack([xy[:, 0, 0], xy[:, 0, 1], xy[:, 1, 0], xy[:, 1, 1]], axis=1)
    boxes = boxes[(boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])]
    layout = Layout(0, *size, boxes, ['fish'] * len(boxes))
    placement = Placement(layout, Image.new('RGB', size), SquareFit.of(*size, 64), {})
    fit, cell = placement.fit, 2
    keep = placement.latent_keep_mask(64 // cell)
    sx, sy = fit.width / size[0], fit.height / size[1]
    for x0, y0, x1, y1 in pixel_rects(layout):
        for y in range(y0, y1):  # every pixel of every box lies in a regenerated latent cell
            row = int((fit.top + (y + 0.5) * sy) // cell)
            cols = ((fit.left + (np.arange(x0, x1) + 0.5) * sx) // cell).astype(int)
            assert not keep[row, cols].any()
    # and every regenerated cell touches a box (in the square: box grown by one cell)
    grown = np.zeros_like(keep, bool)
    for x0, y0, x1, y1 in pixel_rects(layout):
        r0, r1 = int((fit.top + y0 * sy) // cell), int(np.ceil((fit.top + y1 * sy) / cell))
        c0, c1 = int((fit.left + x0 * sx) // cell), int(np.ceil((fit.left + x1 * sx) / cell))
        grown[max(0, r0 - 1):r1 + 1, max(0, c0 - 1):c1 + 1] = True
    assert grown[keep == 0].all()


# ---------------------------------------------------------------- models
def test_wrong_models_are_refused_at_start_up(tiny_gligen_dir, scenes):
    ann_file, root = scenes
    with pytest.raises(NotAGligenModelError, match=r"needs an inpainting GLIGEN.*'masterful/gligen-1-4-inpainting"):
        GLIGENInpaintGenerator(str(tiny_gligen_dir('text-box')), ann_file=ann_file, img_root=root, **FAST)
    with pytest.raises(NotAGligenModelError, match=r"is an inpainting GLIGEN.*background='inpaint'"):
        GLIGENGenerator(str(tiny_gligen_dir('inpainting-text-box')), **FAST)
    cfg = dict(type='gligen', model=str(tiny_gligen_dir('inpainting-text-box')), **FAST)
    with pytest.raises(NotAGligenModelError, match='is an inpainting GLIGEN'):
        build_generator(cfg)
    with pytest.raises(ValueError, match="background must be one of \\('none', 'inpaint'\\)"):
        build_generator(dict(cfg, background='copy'))
    with pytest.raises(ValueError, match='background_method must be one of'):
        build_generator(dict(cfg, background='inpaint', ann_file=ann_file, img_root=root, background_method='blur'))
    built = build_generator(dict(cfg, background='inpaint', ann_file=str(ann_file), img_root=str(root)))
    assert isinstance(built, GLIGENInpaintGenerator) and built.native_size == 64


# ---------------------------------------------------------------- equal to diffusers, batch-invariant
@pytest.mark.parametrize('size', [(64, 64), (64, 48)])
def test_single_call_matches_plain_diffusers(inpaint, size, monkeypatch):
    # far box edges on latent cells: there diffusers' mask (which truncates them) equals the generator's
    layout = layouts(*size)[1]
    ours = inpaint.generate_arrays([layout], [7])[0]
    placement = inpaint.place(layout, 7)
    reference = diffusers_reference(inpaint.pipeline, placement, 7, 'a photo of a crab and a fish',
                                    ['a crab', 'a fish'], monkeypatch)
    assert np.abs(ours - placement.composite(reference)).max() < 1e-5


def test_single_text_image_call_matches_plain_diffusers(tiny_gligen_dir, scenes, monkeypatch):
    ann_file, root = scenes
    generator = GLIGENInpaintGenerator(str(tiny_gligen_dir('inpainting-text-image')), ann_file=ann_file,
                                       img_root=root, grounding='text-image', crop_bank=StubCropBank(vary=False), **FAST)
    layout = layouts()[1]
    ours = generator.generate_arrays([layout], [7])[0]
    placement = generator.place(layout, 7)
    crops = [StubCropBank(vary=False).pick(label, None).image for label in layout.labels]
    reference = diffusers_reference(generator.pipeline, placement, 7, 'a photo of a crab and a fish',
                                    ['a crab', 'a fish'], monkeypatch, gligen_images=crops)
    assert np.abs(ours - placement.composite(reference)).max() < 1e-5


def test_batch_of_layouts_and_backgrounds_equals_single_calls(inpaint):
    batch, seeds = layouts(), [11, 12, 13, 14]
    results = inpaint.generate(batch, seeds)
    backgrounds = [json.dumps(r.record['background'], sort_keys=True) for r in results]
    assert len(set(backgrounds)) > 1, 'one background broadcast over the batch'
    batched = inpaint.generate_arrays(batch, seeds)
    for layout, seed, image in zip(batch, seeds, batched):
        assert np.abs(image - inpaint.generate_arrays([layout], [seed])[0]).max() < 1e-4


# ---------------------------------------------------------------- the saved image
def test_outside_the_boxes_is_the_background_inside_is_generated(inpaint):
    batch, seeds = layouts(72, 40), [1, 2, 3, 4]  # resized into the square and back
    for layout, seed, result in zip(batch, seeds, inpaint.generate(batch, seeds)):
        placement = inpaint.place(layout, seed)
        image, background = np.asarray(result.image, int), np.asarray(placement.background, int)
        assert result.image.size == (72, 40)
        outside = ~placement.box_mask()
        assert np.array_equal(image[outside], background[outside])  # exact, no VAE round trip
        if len(layout):
            assert np.abs(image - background)[~outside].mean() > 10


def test_grounding_boxes_are_the_layout_boxes_in_the_square(inpaint):
    batch = layouts(72, 40)
    calls: list[torch.Tensor] = []
    handle = inpaint.pipeline.unet.position_net.register_forward_pre_hook(
        lambda module, args, kwargs: calls.append(kwargs['boxes'].clone()), with_kwargs=True)
    try:
        inpaint.generate_arrays(batch, [1, 2, 3, 4])
    finally:
        handle.remove()
    fit = SquareFit.of(72, 40, 64)
    scale, offset = np.array([fit.width, fit.height] * 2) / 64, np.array([fit.left, fit.top] * 2) / 64
    n = len(batch)
    for i, layout in enumerate(batch):
        square_boxes = calls[0][n + i, :len(layout)].double().numpy()
        np.testing.assert_allclose((square_boxes - offset) / scale, layout.boxes, atol=1e-6)


def test_backgrounds_are_real_frames_drawn_from_the_seed(inpaint, scenes):
    coco = json.loads(scenes[0].read_text())
    record = inpaint.generate(layouts()[:1], [5])[0].record['background']
    assert record['method'] in ('median', 'inpaint') and record['square'] == dict(size=64, window=[0, 8, 64, 56])
    assert set(record.get('image_ids', [])) <= {im['id'] for im in coco['images']}
    again = inpaint.place(layouts()[0], 5)
    assert again.record == record and again.fit.window == [0, 8, 64, 56]
    assert len({json.dumps(inpaint.place(layouts()[0], s).record, sort_keys=True) for s in range(8)}) > 1
    # a layout copied from a real frame: that camera's background, cut at the layout's window
    window = [0.25, 0.0, 0.75, 0.5625]  # 48 x 36 px of a 96 x 64 frame: the layout's 4:3
    for seed in range(4):
        copied = Layout(0, 64, 48, [[0.1, 0.1, 0.5, 0.5]], ['fish'], source=dict(image_id=2, window=window))
        placed = inpaint.place(copied, seed)
        assert placed.record['method'] == 'median' and placed.record['num_frames'] == 6  # camera A's median
        assert placed.record['crop'] == [24.0, 0.0, 72.0, 36.0]


def test_flagged_images_are_regenerated(inpaint, monkeypatch):
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    batch = layouts()[:2]
    checker = FlaggingSafetyChecker([[False, True]])
    monkeypatch.setattr(inpaint.pipeline, 'feature_extractor', CLIPImageProcessorPil())
    monkeypatch.setattr(inpaint.pipeline, 'safety_checker', checker)
    results = inpaint.generate(batch, [1, 2])
    assert checker.calls == 2 and [r.attempts for r in results] == [1, 2]
    assert results[1].seed == retry_seed(2, 1)
    monkeypatch.setattr(inpaint.pipeline, 'safety_checker', None)
    direct = inpaint.generate([batch[1]], [retry_seed(2, 1)])[0]
    assert np.array_equal(np.asarray(direct.image), np.asarray(results[1].image))
    assert direct.record['background'] == results[1].record['background']


# ---------------------------------------------------------------- sets on disk
def write_inpaint_config(path: Path, ann_file: Path, img_root: Path, model_dir: Path, out: Path,
                         num_images: int, batch_size: int = 2) -> Path:
    """A tools/generate.py config: tiny inpainting GLIGEN, layouts jittered from the real frames."""
    path.write_text(f'''
custom_imports = dict(imports=['mmgen_det'], allow_failed_imports=False)
train_dataloader = dict(dataset=dict(
    type='SyntheticDetDataset', data_root={f"{out}/"!r}, ann_file='annotations.json',
    generation=dict(num_images={num_images}, seed=3, batch_size={batch_size}, image_format='png',
        layout=dict(ann_file={str(ann_file)!r}, strategy='jitter', width=64, height=48, min_box_cells=0.5),
        generator=dict(type='gligen', background='inpaint', model={str(model_dir)!r}, grounding='text-box',
                       ann_file={str(ann_file)!r}, img_root={str(img_root)!r},
                       prompt='a photo of {{phrases}}', phrases={PHRASES!r}, num_inference_steps=2,
                       scheduled_sampling_beta=1.0, device='cpu'))))
''')
    return path


def test_other_background_settings_are_refused_on_the_same_set(tiny_gligen_dir, scenes, tmp_path):
    ann_file, root = scenes
    generator = dict(type='gligen', background='inpaint', model=str(tiny_gligen_dir('inpainting-text-box')),
                     ann_file=str(ann_file), img_root=str(root), device='cpu', **FAST)
    cfg = dict(out_dir=str(tmp_path / 'set'), num_images=2, seed=0, batch_size=2, image_format='png',
               layout=dict(ann_file=str(ann_file), strategy='copy', width=64, height=48, min_box_cells=0.5),
               generator=generator)
    generate_synthetic_set(cfg, progress=False)
    stored = json.loads((tmp_path / 'set' / 'annotations.json').read_text())
    assert all(im['generation']['generator'] == 'gligen_inpaint' and 'background' in im['generation']
               for im in stored['images'])
    with pytest.raises(SettingsMismatchError):
        generate_synthetic_set(dict(cfg, generator=dict(generator, background_method='median')), progress=False)


def test_resume_after_sigkill_equals_an_uninterrupted_set(tiny_gligen_dir, scenes, tmp_path):
    ann_file, root = scenes
    model = tiny_gligen_dir('inpainting-text-box')
    one_thread = {'OMP_NUM_THREADS': '1'}
    reference = write_inpaint_config(tmp_path / 'ref.py', ann_file, root, model, tmp_path / 'ref', 6)
    run_tool(['tools/generate.py', str(reference), '--no-progress'], env=one_thread)
    # another batch size: the set must not depend on it
    config = write_inpaint_config(tmp_path / 'cfg.py', ann_file, root, model, tmp_path / 'set', 6, batch_size=3)
    inject = [str(REPO / 'tests' / 'fault_injection.py'), 'after-write', '4', '--']
    killed = run_tool([*inject, 'tools/generate.py', str(config), '--no-progress'], env=one_thread, check=False)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    resumed = run_tool(['tools/generate.py', str(config), '--no-progress'], env=one_thread)
    assert '4 already done' in resumed.stdout
    assert_complete_set(tmp_path / 'set', 6)
    assert_same_images(tmp_path / 'ref', tmp_path / 'set')


def test_shipped_config_generates_into_the_real_frames(tiny_gligen_dir, fish_coco, tmp_path):
    """configs/_base_/generation/gligen_inpaint_*.py on the shipped sample, the tiny model swapped in."""
    from mmengine.config import Config

    cfg = Config.fromfile(str(REPO / 'configs/_base_/generation/gligen_inpaint_text-box_fish4knowledge.py'))
    generation = cfg.train_dataloader.dataset.generation.to_dict()
    ann_file = str(fish_coco / 'annotations' / 'train.json')
    generation['layout'].update(ann_file=ann_file)
    generation['generator'].update(model=str(tiny_gligen_dir('inpainting-text-box')), ann_file=ann_file,
                                   img_root=f'{fish_coco}/', num_inference_steps=2, device='cpu')
    generate_synthetic_set(dict(generation, out_dir=str(tmp_path / 'set'), num_images=2, image_format='png'),
                           progress=False)
    coco = assert_complete_set(tmp_path / 'set', 2)
    for im in coco['images']:
        assert (im['width'], im['height']) == (512, 288)
        record = im['generation']
        assert record['background']['square'] == dict(size=64, window=[0, 14, 64, 50])
        assert record['background']['crop'][2] <= 360  # cut from a real 360 x 202 frame


def test_experiment_entry_takes_its_backgrounds_from_the_runs_real_images(scenes):
    from mmgen_det.datasets.profile import profile_coco
    from mmgen_det.recipes import GENERATORS, derive_generation
    from mmgen_det.generation.settings import GenerationSettings

    assert 'gligen-inpaint' in GENERATORS  # tools/run_experiment.py --generator gligen-inpaint
    generation = derive_generation('gligen-inpaint', profile_coco(json.loads(scenes[0].read_text())), 1.0,
                                   'data/converted/')
    generator = generation['generator']
    assert generator['background'] == 'inpaint' and generator['model'] == 'masterful/gligen-1-4-inpainting-text-box'
    bound = GenerationSettings.from_dict(generation).with_real_data('stages/subset/train_10.json', 'data/converted/')
    assert bound.generator['ann_file'] == bound.layout['ann_file'] == 'stages/subset/train_10.json'
    assert bound.generator['img_root'] == 'data/converted/'
