"""GLIGENGenerator on the tiny offline GLIGEN (CPU, 64x64, 2 steps)."""
from __future__ import annotations

import json
import logging
import shutil

import huggingface_hub
import numpy as np
import pytest
import torch
from gligen_stubs import FlaggingSafetyChecker, StubCropBank

from mmgen_det.generation.gligen import GLIGENGenerator, SafetyCheckError, retry_seed
from mmgen_det.generation.model_loading import ModelNotAvailableError, NotAGligenModelError
from mmgen_det.layouts import Layout
from mmgen_det.utils.hashing import tree_digest

PHRASES = {'fish': 'a fish', 'crab': 'a crab', 'ray': 'a ray'}
# beta=1: with 2 steps the default 0.3 would ground int(0.6) = 0 steps
FAST = dict(prompt='a photo of {phrases}', phrases=PHRASES, num_inference_steps=2, guidance_scale=7.5,
            scheduled_sampling_beta=1.0, batch_size=4)
SEEDS = [11, 12, 13, 14]


def layouts(width: int = 64, height: int = 64) -> list[Layout]:
    """Four different layouts, one of them empty."""
    return [Layout(0, width, height, [[0.1, 0.1, 0.5, 0.5]], ['fish']),
            Layout(1, width, height, [[0.2, 0.3, 0.9, 0.8], [0.0, 0.0, 0.3, 0.3]], ['crab', 'fish']),
            Layout(2, width, height, np.zeros((0, 4)), []),
            Layout(3, width, height, [[0.5, 0.5, 1.0, 1.0], [0.1, 0.6, 0.4, 0.9], [0.6, 0.0, 0.9, 0.3]],
                   ['ray', 'crab', 'fish'])]


@pytest.fixture(scope='module')
def text_box(tiny_gligen_dir) -> GLIGENGenerator:
    return GLIGENGenerator(str(tiny_gligen_dir('text-box')), grounding='text-box', **FAST)


@pytest.fixture(scope='module')
def text_image(tiny_gligen_dir) -> GLIGENGenerator:
    return GLIGENGenerator(str(tiny_gligen_dir('text-image')), grounding='text-image', crop_bank=StubCropBank(),
                           **FAST)


@pytest.fixture(scope='module')
def image_only(tiny_gligen_dir) -> GLIGENGenerator:
    return GLIGENGenerator(str(tiny_gligen_dir('text-image')), grounding='image', crop_bank=StubCropBank(),
                           **FAST)


def position_net_inputs(generator: GLIGENGenerator, batch: list[Layout]) -> list[dict]:
    """What the UNet's grounding (position net) receives, one dict of kwargs per call, while
    ``generator`` makes ``batch``."""
    calls: list[dict] = []

    def hook(module, args, kwargs):
        calls.append({k: v.clone() for k, v in kwargs.items()})

    handle = generator.pipeline.unet.position_net.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        generator.generate_arrays(batch, SEEDS)
    finally:
        handle.remove()
    return calls


# ---------------------------------------------------------------- loading
def test_loads_local_dir(text_box, tiny_gligen_dir):
    assert type(text_box.pipeline).__name__ == 'StableDiffusionGLIGENPipeline'
    assert text_box.resolved_model.local_dir == tiny_gligen_dir('text-box').resolve()
    identity = text_box.identity()
    assert identity['model'] == str(tiny_gligen_dir('text-box')) and identity['revision'] is None
    assert identity['weights'] == tree_digest(tiny_gligen_dir('text-box'))  # no commit names local weights
    assert identity['grounding'] == 'text-box' and identity['dtype'] == 'float32'
    assert identity['device'] == 'cpu' and identity['version'] == GLIGENGenerator.version
    assert identity['scheduler'] == 'DDIMScheduler' and identity['scheduled_sampling_beta'] == 1.0
    json.dumps(identity)


def test_loads_hub_id_from_offline_cache(text_box, tiny_gligen_dir, tmp_path, monkeypatch):
    commit = 'a' * 40
    repo = tmp_path / 'hf' / 'hub' / 'models--tiny-org--tiny-gligen'
    shutil.copytree(tiny_gligen_dir('text-box'), repo / 'snapshots' / commit)
    (repo / 'refs').mkdir()
    (repo / 'refs' / 'main').write_text(commit)
    # huggingface_hub reads these at import time; a fresh process would only need the environment
    monkeypatch.setenv('HF_HOME', str(tmp_path / 'hf'))
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    monkeypatch.setattr(huggingface_hub.constants, 'HF_HUB_CACHE', str(tmp_path / 'hf' / 'hub'))
    monkeypatch.setattr(huggingface_hub.constants, 'HF_HUB_OFFLINE', True)

    gen = GLIGENGenerator('tiny-org/tiny-gligen', grounding='text-box', **FAST)
    assert gen.resolved_model.local_dir == repo / 'snapshots' / commit
    assert gen.identity()['model'] == 'tiny-org/tiny-gligen' and gen.identity()['revision'] == commit
    assert gen.identity()['weights'] is None  # the commit names them
    layout = layouts()[:1]
    np.testing.assert_allclose(gen.generate_arrays(layout, [3])[0], text_box.generate_arrays(layout, [3])[0],
                               atol=1e-6)

    with pytest.raises(ModelNotAvailableError, match='HF_HUB_OFFLINE=1'):
        GLIGENGenerator('tiny-org/not-cached', grounding='text-box', **FAST)


def test_bin_only_weights_are_loaded_weights_only(tiny_gligen_dir, tmp_path, monkeypatch):
    from safetensors.torch import load_file

    folder = shutil.copytree(tiny_gligen_dir('text-box'), tmp_path / 'bin_unet')
    unet_weights = folder / 'unet' / 'diffusion_pytorch_model.safetensors'
    torch.save(load_file(unet_weights), folder / 'unet' / 'diffusion_pytorch_model.bin')
    unet_weights.unlink()
    loads: list = []
    real_load = torch.load
    monkeypatch.setattr(torch, 'load', lambda *a, **k: loads.append(k.get('weights_only')) or real_load(*a, **k))
    gen = GLIGENGenerator(str(folder), **FAST)
    assert loads == [True]  # the .bin UNet, unpickled with torch's weights-only loader
    assert gen.generate(layouts()[:1], [0])[0].image.size == (64, 64)


def test_missing_or_wrong_models_fail_clearly(tiny_gligen_dir, tmp_path):
    with pytest.raises(ModelNotAvailableError, match='does not exist'):
        GLIGENGenerator(str(tmp_path / 'nowhere'), **FAST)

    with pytest.raises(NotAGligenModelError, match='StableDiffusionGLIGENTextImagePipeline'):
        GLIGENGenerator(str(tiny_gligen_dir('text-box')), grounding='image', crop_bank=StubCropBank(), **FAST)

    plain = tmp_path / 'plain_sd'
    (plain / 'unet').mkdir(parents=True)
    (plain / 'model_index.json').write_text(json.dumps({'_class_name': 'StableDiffusionPipeline'}))
    (plain / 'unet' / 'config.json').write_text(json.dumps({'attention_type': 'default'}))
    with pytest.raises(NotAGligenModelError, match="holds a 'StableDiffusionPipeline'"):
        GLIGENGenerator(str(plain), **FAST)

    (plain / 'model_index.json').write_text(json.dumps({'_class_name': 'StableDiffusionGLIGENPipeline'}))
    with pytest.raises(NotAGligenModelError, match="attention_type='default'"):
        GLIGENGenerator(str(plain), **FAST)


@pytest.mark.parametrize('component', [['os', 'system'], ['diffusers', 'no_such_class'], ['builtins', 'eval'],
                                       ['diffusers', 'UNet2DConditionModel', 'x']])
def test_a_crafted_model_index_naming_other_modules_is_refused(tiny_gligen_dir, tmp_path, component):
    """diffusers imports whatever library a component names: only diffusers/transformers classes pass."""
    import shutil
    crafted = tmp_path / 'crafted'
    shutil.copytree(tiny_gligen_dir('text-box'), crafted)
    index = json.loads((crafted / 'model_index.json').read_text())
    index['unet'] = component
    (crafted / 'model_index.json').write_text(json.dumps(index))
    with pytest.raises(NotAGligenModelError, match=r"component 'unet'"):
        GLIGENGenerator(str(crafted), **FAST)


# ---------------------------------------------------------------- grounding reaches the UNet
def test_position_net_gets_each_layouts_boxes(text_box):
    batch = layouts()
    calls = position_net_inputs(text_box, batch)
    assert len(calls) == 2  # one batched UNet call per step
    n = len(batch)
    for call in calls:
        boxes, masks, embeddings = call['boxes'], call['masks'], call['positive_embeddings']
        assert boxes.shape == (2 * n, 30, 4) and masks.shape == (2 * n, 30)
        assert torch.all(masks[:n] == 0)  # classifier-free guidance: unconditional half ungrounded
        for i, layout in enumerate(batch):
            k = len(layout)
            cond = n + i
            np.testing.assert_allclose(boxes[cond, :k].numpy(), layout.boxes, atol=1e-7)
            assert torch.all(boxes[cond, k:] == 0)
            assert torch.all(masks[cond, :k] == 1) and torch.all(masks[cond, k:] == 0)
            assert torch.all(embeddings[cond, k:] == 0)
            assert torch.all(embeddings[cond, :k].abs().sum(-1) > 0)
    # the same phrase gets the same pooled text embedding wherever it is
    fish = calls[0]['positive_embeddings']
    torch.testing.assert_close(fish[n + 0, 0], fish[n + 1, 1])


def test_image_only_grounding_masks(image_only):
    batch = layouts()
    calls = position_net_inputs(image_only, batch)
    grounded = [c for c in calls if c['masks'].any()]  # the pipeline's ungrounded passes are all zero
    assert len(grounded) == 2
    call = grounded[0]
    n = len(batch)
    for half in (0, n):  # the text-image pipeline grounds both halves, then takes uncond from a zero pass
        for i, layout in enumerate(batch):
            k = len(layout)
            np.testing.assert_allclose(call['boxes'][half + i, :k].numpy(), layout.boxes, atol=1e-7)
            assert torch.all(call['image_masks'][half + i, :k] == 1)
            assert torch.all(call['image_masks'][half + i, k:] == 0)
            assert torch.all(call['phrases_masks'][half + i] == 0)  # no phrase text


def test_moving_a_box_changes_the_image(text_box):
    layout = layouts()[0]
    moved = Layout(0, 64, 64, [[0.4, 0.1, 0.8, 0.5]], ['fish'])
    a, b = text_box.generate_arrays([layout, moved], [5, 5])
    assert np.abs(a - b).max() > 5e-3  # far above the batched-vs-single float noise (< 1e-4)


@pytest.mark.parametrize('name, expected', [('text_box', [True, False]),
                                            ('text_image', [True, True, False, False])])
def test_scheduled_sampling_turns_fusers_off(name, expected, request, monkeypatch):
    # beta=0.5 of 2 steps: only step 0 is grounded. The text-image pipeline runs two UNet passes per
    # step, and diffusers 0.42.1 forgets to apply beta there; the generator applies it.
    generator = request.getfixturevalue(name)
    monkeypatch.setattr(generator, 'scheduled_sampling_beta', 0.5)
    from diffusers.models.attention import GatedSelfAttentionDense

    fuser = next(m for m in generator.pipeline.unet.modules() if isinstance(m, GatedSelfAttentionDense))
    enabled: list[bool] = []
    handle = fuser.register_forward_pre_hook(lambda module, args: enabled.append(module.enabled))
    try:
        generator.generate_arrays(layouts()[:1], [0])
    finally:
        handle.remove()
    assert enabled == expected


# ---------------------------------------------------------------- batching
@pytest.mark.parametrize('name', ['text_box', 'text_image'])
def test_batch_equals_single_calls(name, request):
    generator = request.getfixturevalue(name)
    batch = layouts()
    batched = generator.generate_arrays(batch, SEEDS)
    for layout, seed, image in zip(batch, SEEDS, batched):
        single = generator.generate_arrays([layout], [seed])[0]
        assert np.abs(image - single).max() < 1e-4


def test_single_text_box_call_matches_plain_diffusers(text_box):
    layout = layouts()[1]
    ours = text_box.generate_arrays([layout], [7])[0]
    reference = text_box.pipeline(
        prompt='a photo of a crab and a fish', gligen_phrases=['a crab', 'a fish'], gligen_boxes=layout.boxes.tolist(),
        height=64, width=64, num_inference_steps=2, guidance_scale=7.5, gligen_scheduled_sampling_beta=1.0,
        generator=torch.Generator().manual_seed(7), output_type='np').images[0]
    assert np.abs(ours - reference).max() < 1e-6


def test_single_text_image_call_matches_plain_diffusers(tiny_gligen_dir):
    bank = StubCropBank(vary=False)
    generator = GLIGENGenerator(str(tiny_gligen_dir('text-image')), grounding='text-image', crop_bank=bank, **FAST)
    layout = layouts()[1]
    ours = generator.generate_arrays([layout], [7])[0]
    rng = np.random.default_rng(0)
    reference = generator.pipeline(
        prompt='a photo of a crab and a fish', gligen_phrases=['a crab', 'a fish'],
        gligen_images=[bank.pick('crab', rng).image, bank.pick('fish', rng).image], gligen_boxes=layout.boxes.tolist(),
        height=64, width=64, num_inference_steps=2, guidance_scale=7.5, gligen_scheduled_sampling_beta=1.0,
        generator=torch.Generator().manual_seed(7), output_type='np').images[0]
    assert np.abs(ours - reference).max() < 1e-6


@pytest.mark.parametrize('name', ['text_box', 'text_image', 'image_only'])
def test_all_groundings_return_layout_sized_images(name, request):
    generator = request.getfixturevalue(name)
    batch = [layouts(64, 48)[0], layouts()[2], layouts(64, 48)[1]]  # two sizes in one call
    results = generator.generate(batch, [1, 2, 3])
    assert [r.image.size for r in results] == [(64, 48), (64, 64), (64, 48)]
    assert all(r.image.mode == 'RGB' and r.attempts == 1 for r in results)
    assert [r.seed for r in results] == [1, 2, 3]
    record = results[2].record
    assert record['grounding'] == generator.grounding and record['steps'] == 2
    assert record['prompt'] == 'a photo of a crab and a fish'
    assert record['phrases'] == ([] if name == 'image_only' else ['a crab', 'a fish'])
    if name != 'text_box':
        assert [c['label'] for c in record['reference_crops']] == ['crab', 'fish']
        assert all(isinstance(c['ann_id'], int) and c['size'] == [40, 32] for c in record['reference_crops'])
    assert results[1].record['prompt'] == 'a photo of'  # empty layout
    json.dumps([r.record for r in results])


# ---------------------------------------------------------------- errors and warnings
def test_layout_errors(text_box):
    many = Layout(5, 64, 64, np.tile([[0.1, 0.1, 0.2, 0.2]], (31, 1)), ['fish'] * 31)
    with pytest.raises(ValueError, match='at most 30 boxes'):
        text_box.generate([many], [0])
    with pytest.raises(ValueError, match=r'divisible by 8.*100x64'):
        text_box.generate([Layout(6, 100, 64, [[0.1, 0.1, 0.2, 0.2]], ['fish'])], [0])
    unknown = [Layout(7, 64, 64, [[0.1, 0.1, 0.2, 0.2], [0.3, 0.3, 0.4, 0.4]], ['eel', 'fish']),
               Layout(8, 64, 64, [[0.1, 0.1, 0.2, 0.2]], ['shark'])]
    with pytest.raises(ValueError, match=r"classes \['eel', 'shark'\] have no phrase"):
        text_box.generate(unknown, [0, 1])
    with pytest.raises(ValueError, match='one seed per layout'):
        text_box.generate(layouts(), [0])


def test_setting_errors(tiny_gligen_dir):
    folder = str(tiny_gligen_dir('text-box'))
    with pytest.raises(ValueError, match='grounding must be one of'):
        GLIGENGenerator(folder, grounding='box', phrases=PHRASES)
    with pytest.raises(ValueError, match='phrases'):
        GLIGENGenerator(folder, grounding='text-box')
    with pytest.raises(ValueError, match='needs a crop_bank'):
        GLIGENGenerator(folder, grounding='image', prompt='a reef')
    with pytest.raises(ValueError, match='placeholder'):
        GLIGENGenerator(folder, prompt='a photo of {objects}', phrases=PHRASES)
    with pytest.raises(ValueError, match='diffusers scheduler'):
        GLIGENGenerator(folder, phrases=PHRASES, scheduler='NoSuchScheduler')
    with pytest.raises(ValueError, match='needs a CUDA device'):
        GLIGENGenerator(folder, phrases=PHRASES, device='cpu', dtype='float16')


def test_scheduler_is_swapped(tiny_gligen_dir):
    gen = GLIGENGenerator(str(tiny_gligen_dir('text-box')), scheduler='EulerDiscreteScheduler', **FAST)
    assert gen.identity()['scheduler'] == 'EulerDiscreteScheduler'
    assert gen.generate(layouts()[:1], [0])[0].image.size == (64, 64)


def test_shared_phrase_warns(tiny_gligen_dir, caplog):
    with caplog.at_level(logging.WARNING, logger='mmgen_det.generation.gligen'):
        GLIGENGenerator(str(tiny_gligen_dir('text-box')), phrases={'0': 'a fish', '1': 'a fish', '2': 'a crab'})
    warnings = [r.getMessage() for r in caplog.records if 'cannot tell them apart' in r.getMessage()]
    assert len(warnings) == 1 and "['0', '1']" in warnings[0]


def test_small_crop_is_an_error_naming_the_class(tiny_gligen_dir):
    gen = GLIGENGenerator(str(tiny_gligen_dir('text-image')), grounding='image', crop_bank=StubCropBank((8, 30)),
                          min_crop_size=16, **FAST)
    with pytest.raises(ValueError, match="8x30 crop for class 'crab'"):
        gen.generate([Layout(0, 64, 64, [[0.1, 0.1, 0.5, 0.5]], ['crab'])], [0])


# ---------------------------------------------------------------- safety checker
def test_flagged_images_are_regenerated(text_box, monkeypatch):
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    batch = layouts()[:3]
    # call 1: the batch, image 1 flagged; call 2: image 1 again, flagged; call 3: accepted
    checker = FlaggingSafetyChecker([[False, True, False], [True]])
    monkeypatch.setattr(text_box.pipeline, 'feature_extractor', CLIPImageProcessorPil())
    monkeypatch.setattr(text_box.pipeline, 'safety_checker', checker)
    results = text_box.generate(batch, [1, 2, 3])
    assert checker.calls == 3
    assert [r.attempts for r in results] == [1, 3, 1]
    assert [r.seed for r in results] == [1, retry_seed(2, 2), 3]
    assert retry_seed(2, 0) == 2 and len({retry_seed(2, a) for a in range(3)}) == 3
    assert np.asarray(results[1].image).max() > 0  # never the blanked image
    monkeypatch.setattr(text_box.pipeline, 'safety_checker', None)
    direct = text_box.generate([batch[1]], [retry_seed(2, 2)])[0].image
    assert np.array_equal(np.asarray(direct), np.asarray(results[1].image))

    monkeypatch.setattr(text_box.pipeline, 'safety_checker', FlaggingSafetyChecker([[True]] * 3))
    with pytest.raises(SafetyCheckError, match='flagged all 3 tries'):
        text_box.generate(batch[:1], [1])
