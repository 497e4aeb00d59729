"""The behaviour checks of :data:`mmgen_det.compat.diffusers_internals.DIFFUSERS_INTERNALS`: each
builds tiny diffusers modules locally (no download) and raises ``AssertionError`` when the installed
diffusers no longer behaves as the entry says."""
from __future__ import annotations

import functools
import inspect
import json
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import torch


def _require(ok: bool, seen: str) -> None:
    """An explicit ``assert`` that ``python -O`` keeps."""
    if not ok:
        raise AssertionError(seen)


# ---------------------------------------------------------------------------------------- tiny fixtures
def _tiny(kind: str) -> Any:
    from ..testing.tiny_gligen import build_tiny_gligen

    pipe = build_tiny_gligen(kind)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _generators(seeds: tuple[int, ...]) -> list[torch.Generator]:
    return [torch.Generator('cpu').manual_seed(seed) for seed in seeds]


def _run(pipe: Any, seeds: tuple[int, ...] = (0,), steps: int = 2, guidance: float = 7.5, **kwargs: Any) -> Any:
    """A 64x64 call with one prompt per seed; latents out; the placeholder grounding unless given."""
    from ..generation.gligen_grounding import PLACEHOLDER_GROUNDING

    kwargs = {'prompt': [f'a photo {seed}' for seed in seeds], 'output_type': 'latent', **PLACEHOLDER_GROUNDING,
              **kwargs}
    return pipe(height=64, width=64, num_inference_steps=steps, guidance_scale=guidance,
                generator=_generators(seeds), **kwargs)


@contextmanager
def _calls(module: torch.nn.Module,
           rewrite: Callable[[tuple], tuple] | None = None) -> Iterator[list[tuple[tuple, dict]]]:
    """``(args, kwargs)`` of every call of ``module`` while active; ``rewrite`` may replace the args."""
    calls: list[tuple[tuple, dict]] = []

    def record(_: torch.nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict] | None:
        calls.append((args, dict(kwargs)))
        return (rewrite(args), kwargs) if rewrite else None

    handle = module.register_forward_pre_hook(record, with_kwargs=True)
    try:
        yield calls
    finally:
        handle.remove()


def _grounded_sample(images: bool = False) -> tuple[Any, Any]:
    """A two-box layout and its :class:`~mmgen_det.generation.gligen_grounding.Condition`."""
    from PIL import Image

    from ..generation.gligen_grounding import Condition
    from ..layouts import Layout

    layout = Layout(0, 64, 64, [[0.1, 0.1, 0.5, 0.5], [0.2, 0.3, 0.9, 0.8]], ['fish', 'crab'])
    crops = [Image.new('RGB', (40, 32), colour) for colour in ((200, 80, 20), (20, 200, 80))]
    return layout, Condition(prompt='a photo of a fish and a crab', phrases=['a fish', 'a crab'],
                             crops=crops if images else None, record={})


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return set(a) == set(b) and all(torch.equal(a[key], b[key]) for key in a)


# ---------------------------------------------------------------------------------------- checks
def check_pipeline_call() -> None:
    import diffusers
    import numpy as np

    used = {'prompt', 'negative_prompt', 'height', 'width', 'num_inference_steps', 'guidance_scale',
            'gligen_scheduled_sampling_beta', 'generator', 'output_type', 'cross_attention_kwargs', 'latents',
            'gligen_phrases', 'gligen_boxes'}
    for name in ('StableDiffusionGLIGENPipeline', 'StableDiffusionGLIGENTextImagePipeline'):
        missing = used - set(inspect.signature(getattr(diffusers, name).__call__).parameters)
        _require(not missing, f'{name}.__call__ takes no {sorted(missing)}')
    out = _run(_tiny('text-box'), seeds=(0, 1), steps=1, negative_prompt=['', ''], output_type='np')
    images = out.images
    _require(isinstance(images, np.ndarray) and images.shape == (2, 64, 64, 3) and images.dtype.kind == 'f'
             and 0 <= images.min() and images.max() <= 1,
             f"output_type='np' gave {type(images).__name__} {getattr(images, 'shape', '')}, not floats in [0, 1]")
    _require(out.nsfw_content_detected is None,
             f'without a safety checker nsfw_content_detected is {out.nsfw_content_detected!r}, not None')


def check_grounding_dict() -> None:
    for kind in ('text-box', 'text-image'):
        pipe, marker = _tiny(kind), {}
        with _calls(pipe.unet) as calls:
            _run(pipe, steps=2, cross_attention_kwargs=marker)
        grounded = [(args, kwargs) for args, kwargs in calls if kwargs.get('cross_attention_kwargs') is marker]
        _require(len(grounded) == 2, f'{kind}: {len(grounded)} of {len(calls)} UNet calls over 2 steps got the '
                                     "caller's cross_attention_kwargs dict itself as a keyword, not 1 per step")
        _require(isinstance(marker.get('gligen'), dict),
                 f"{kind}: the pipeline did not write its grounding into the caller's dict under 'gligen'")
        _require(all(args and torch.is_tensor(args[0]) and args[0].shape[1] == 4 for args, _ in grounded),
                 f'{kind}: the UNet latents are not its first positional argument')


def check_unet_gligen_kwargs() -> None:
    from ..generation.gligen_grounding import batch_grounding

    for kind, images in (('text-box', False), ('text-image', True)):
        pipe = _tiny(kind)
        layout, condition = _grounded_sample(images=images)
        gligen = batch_grounding(pipe, kind, 7.5, [layout], [condition])
        batch = len(gligen['boxes'])
        cross_attention_kwargs = {'gligen': gligen}
        with _calls(pipe.unet.position_net) as calls, torch.no_grad():
            pipe.unet(torch.zeros(batch, 4, 8, 8), 1, encoder_hidden_states=torch.zeros(batch, 3, 32),
                      cross_attention_kwargs=cross_attention_kwargs)
        _require(len(calls) == 1 and not calls[0][0] and set(calls[0][1]) == set(gligen)
                 and all(calls[0][1][key] is value for key, value in gligen.items()),
                 f"{kind}: the UNet did not pass cross_attention_kwargs['gligen'] to position_net as its keyword "
                 f'arguments (got {[sorted(kwargs) for _, kwargs in calls]})')
        _require(cross_attention_kwargs == {'gligen': gligen}, f"{kind}: the UNet changed the caller's dict")


def check_text_box_tensors() -> None:
    from ..generation.gligen_grounding import batch_grounding
    from ..layouts.layout import GLIGEN_MAX_BOXES

    pipe = _tiny('text-box')
    layout, condition = _grounded_sample()
    with _calls(pipe.unet.position_net) as calls:
        _run(pipe, prompt=[condition.prompt], gligen_phrases=condition.phrases, gligen_boxes=layout.boxes.tolist())
    ours = batch_grounding(pipe, 'text-box', 7.5, [layout], [condition])
    _require(calls and all(_same(kwargs, ours) for _, kwargs in calls),
             "StableDiffusionGLIGENPipeline's grounding tensors differ from text_box_grounding's")
    _require(ours['boxes'].shape[1] == GLIGEN_MAX_BOXES, 'grounding slots differ')


def check_text_image_builder() -> None:
    from ..generation.gligen_grounding import IMAGE_EMBEDDING_NORM, batch_grounding

    pipe, marker = _tiny('text-image'), {}
    default = inspect.signature(type(pipe).__call__).parameters['gligen_normalize_constant'].default
    _require(default == IMAGE_EMBEDDING_NORM, f'gligen_normalize_constant defaults to {default}')
    layout, condition = _grounded_sample(images=True)
    _run(pipe, prompt=[condition.prompt], gligen_phrases=condition.phrases, gligen_images=condition.crops,
         gligen_boxes=layout.boxes.tolist(), cross_attention_kwargs=marker)
    _require(_same(marker['gligen'], batch_grounding(pipe, 'text-image', 7.5, [layout], [condition])),
             "StableDiffusionGLIGENTextImagePipeline's grounding tensors differ from text_image_grounding's")


def check_ungrounded_pass() -> None:
    pipe = _tiny('text-image')

    def latents(perturb: str | None) -> torch.Tensor:
        """Final latents when the unconditional half of the ``perturb`` UNet pass is shifted."""
        marker: dict[str, Any] = {}

        def shift(_: torch.nn.Module, args: tuple, kwargs: dict, out: Any) -> Any:
            grounded = kwargs['cross_attention_kwargs'] is marker
            if perturb == ('grounded' if grounded else 'ungrounded'):
                out.sample[:1] += 1.0
            return out

        handle = pipe.unet.register_forward_hook(shift, with_kwargs=True)
        try:
            with _calls(pipe.unet) as calls:
                latents = _run(pipe, steps=1, cross_attention_kwargs=marker).images
        finally:
            handle.remove()
        kinds = ['grounded' if kwargs['cross_attention_kwargs'] is marker else 'other' for _, kwargs in calls]
        _require(kinds == ['grounded', 'other'], f'UNet calls per step: {kinds}, not a grounded then another')
        other = calls[1][1]['cross_attention_kwargs']['gligen']
        _require(all(not other[key].any() for key in ('masks', 'phrases_masks', 'image_masks')),
                 'the second pass is grounded')
        return latents

    plain = latents(None)
    _require(torch.equal(latents('grounded'), plain), "the grounded pass's unconditional half is used")
    _require(not torch.equal(latents('ungrounded'), plain), "the ungrounded pass's unconditional half is unused")


def check_guidance_batch() -> None:
    pipe = _tiny('text-box')
    prompts = ['a fish', 'a crab']
    cond, uncond = pipe.encode_prompt(prompts, pipe.device, 1, True, None)
    for guidance, expected, order in ((7.5, torch.cat([uncond, cond]), '[unconditional; conditional]'),
                                      (1.0, cond, 'the conditional batch alone')):
        with _calls(pipe.unet) as calls:
            _run(pipe, seeds=(0, 1), steps=1, guidance=guidance, prompt=prompts)
        _require(torch.equal(calls[0][1]['encoder_hidden_states'], expected),
                 f'guidance_scale={guidance}: the UNet batch is not {order}, each half in prompt order')


def _fuser_states(pipe: Any, beta: float) -> list[bool]:
    """Whether the fusers were on at each UNet call of a 2-step call with ``beta``."""
    from diffusers.models.attention import GatedSelfAttentionDense

    fusers = [m for m in pipe.unet.modules() if type(m) is GatedSelfAttentionDense]
    _require(bool(fusers), 'a gated UNet has no GatedSelfAttentionDense')
    states: list[set[bool]] = []
    handle = pipe.unet.register_forward_pre_hook(lambda module, args: states.append({f.enabled for f in fusers}))
    try:
        _run(pipe, steps=2, gligen_scheduled_sampling_beta=beta)
    finally:
        handle.remove()
    _require(all(len(state) == 1 for state in states), 'enable_fuser switched only some fusers')
    return [state.pop() for state in states]


def check_fuser_switch() -> None:
    from diffusers.models.attention import GatedSelfAttentionDense

    pipe = _tiny('text-box')
    seen = _fuser_states(pipe, 0.5)
    _require(seen == [True, False], f'beta=0.5 of 2 steps: fusers on at UNet calls {seen}, not [True, False]')
    seen = _fuser_states(pipe, 1.0)  # the previous call left them off
    _require(seen == [True, True], f'beta=1 after a call that ended with the fusers off: {seen}')
    fuser = next(m for m in pipe.unet.modules() if type(m) is GatedSelfAttentionDense)
    pipe.enable_fuser(False)
    x, objs = torch.randn(1, 4, fuser.linear.out_features), torch.randn(1, 2, fuser.linear.in_features)
    _require(not fuser.enabled and fuser(x, objs) is x, 'a fuser switched off by enable_fuser changes its input')


def check_text_image_beta() -> None:
    seen = _fuser_states(_tiny('text-image'), 0.5)
    _require(seen == [True] * 4,
             f'beta=0.5 of 2 steps: fusers on at UNet calls {seen}: diffusers now applies '
             "gligen_scheduled_sampling_beta itself, so per_sample_grounding's own switch (at grounded call "
             'int(beta * steps)) must agree with where it does, or go')


def check_one_generator_per_image() -> None:
    from diffusers.utils.torch_utils import randn_tensor

    batch = randn_tensor((3, 4, 8, 8), generator=_generators((1, 2, 3)))
    alone = torch.randn((1, 4, 8, 8), generator=_generators((2,))[0])
    _require(torch.equal(batch[1:2], alone), 'randn_tensor with a list of generators does not draw sample i from '
                                             'generator i alone')
    pipe = _tiny('text-box')
    pixels = torch.rand(2, 3, 16, 16, generator=_generators((0,))[0]) * 2 - 1
    with torch.no_grad():
        dist = pipe.vae.encode(pixels).latent_dist
    noise = torch.cat([torch.randn((1, *dist.mean.shape[1:]), generator=g) for g in _generators((5, 6))])
    _require(torch.allclose(dist.sample(generator=_generators((5, 6))), dist.mean + dist.std * noise),
             'latent_dist.sample(generator=[...]) does not draw sample i from generator i alone')
    with _calls(pipe.unet) as batched:
        _run(pipe, seeds=(7, 8), steps=1, guidance=1.0)
    with _calls(pipe.unet) as single:
        _run(pipe, seeds=(8,), steps=1, guidance=1.0)
    _require(torch.equal(batched[0][0][0][1:], single[0][0][0]),
             "a pipeline's initial latents of image i depend on the other images' generators")


def check_caller_latents() -> None:
    pipe = _tiny('inpainting-text-box')
    pipe.scheduler.init_noise_sigma = 2.0  # DDIM keeps it as a plain attribute (1.0)
    cells = 64 // pipe.vae_scale_factor
    latents = torch.randn(1, 4, cells, cells, generator=_generators((0,))[0])
    extra = pipe.unet.config.in_channels - 4

    def append_zeros(args: tuple) -> tuple:
        sample, *rest = args
        return (torch.cat([sample, sample.new_zeros(len(sample), extra, cells, cells)], dim=1), *rest)

    with _calls(pipe.unet, append_zeros) as calls:
        _run(pipe, steps=1, latents=latents)
    _require(torch.equal(calls[0][0][0], torch.cat([latents * 2.0] * 2)),
             f'4-channel latents given to a pipeline whose UNet takes {pipe.unet.config.in_channels} channels do '
             'not reach the UNet as they are, times init_noise_sigma')


def check_inpainting_input() -> None:
    import numpy as np
    from PIL import Image

    pipe = _tiny('inpainting-text-box')
    scheduler, side = pipe.scheduler, pipe.vae.config.sample_size  # a square the pipeline does not crop
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (side, side, 3), dtype=np.uint8))
    add_noise, noised = scheduler.add_noise, []

    def recorded_add_noise(original: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        noised.append((original, noise, timesteps, add_noise(original, noise, timesteps)))
        return noised[-1][-1]

    scheduler.add_noise = recorded_add_noise
    try:
        with torch.random.fork_rng(devices=[]), _calls(pipe.unet) as calls:
            torch.manual_seed(0)
            _run(pipe, steps=2, gligen_phrases=['a fish'], gligen_boxes=[[0.0, 0.0, 0.5, 0.5]],
                 gligen_inpaint_image=image)
    finally:
        del scheduler.add_noise
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(0)  # the pipeline's first draw from torch's global generator is the VAE sample
        pixels = pipe.image_processor.preprocess(image).to(pipe.vae.dtype)
        background = pipe.vae.encode(pixels).latent_dist.sample() * pipe.vae.config.scaling_factor
    cells = background.shape[-1]
    keep = torch.ones(1, 1, cells, cells)
    keep[..., :cells // 2, :cells // 2] = 0
    _require(len(calls) == len(noised) == 2, f'{len(noised)} re-noisings over 2 steps, not one before each')
    for k, ((args, _), (original, noise, timesteps, noisy)) in enumerate(zip(calls, noised)):
        sample = args[0]
        _require(sample.shape[1] == 9 and torch.equal(sample[:, 8:], keep.expand(2, -1, -1, -1)),
                 'the UNet input does not end with the mask: 1 outside the boxes, 0 on their latent cells')
        _require(torch.allclose(original, background) and torch.equal(sample[:, 4:8], (background * keep).expand(
            2, -1, -1, -1)), 'channels 4-8 of the UNet input are not the VAE background latents times the mask')
        _require(timesteps.tolist() == scheduler.timesteps[k:k + 1].tolist()
                 and torch.equal(noisy, add_noise(original, noise, scheduler.timesteps[k:k + 1])),
                 f'step {k} re-noises the background to {timesteps.tolist()}, not its own timestep')
        _require(torch.equal(sample[:, :4] * keep, (noisy * keep).expand(2, -1, -1, -1)),
                 f'step {k}: the latents outside the mask are not the background re-noised before the step')


def check_step_shadow() -> None:
    pipe = _tiny('text-box')
    scheduler = pipe.scheduler
    _require('step' not in vars(scheduler), 'the scheduler has a step attribute of its own')
    step = scheduler.step
    timesteps: list[int] = []
    keywords: list[set[str]] = []
    replaced: list[torch.Tensor] = []

    @functools.wraps(step)
    def shadow(*args: Any, **kwargs: Any) -> Any:
        timesteps.append(int(inspect.signature(step).bind(*args, **kwargs).arguments['timestep']))
        keywords.append(set(kwargs))
        out = step(*args, **kwargs)
        out.prev_sample = out.prev_sample + 1.0
        replaced.append(out.prev_sample)
        return out

    scheduler.step = shadow
    try:
        with _calls(pipe.unet) as calls:
            out = _run(pipe, steps=2, guidance=1.0)
    finally:
        del scheduler.step
    _require(scheduler.step.__func__ is type(scheduler).step, 'deleting the shadow does not restore the method')
    _require(timesteps == scheduler.timesteps.tolist(),
             f'scheduler.step ran for timesteps {timesteps}, not once for each of {scheduler.timesteps.tolist()}')
    _require('eta' in keywords[0], "the step keywords the pipeline reads from the shadow's signature (eta) are lost")
    _require(torch.equal(calls[1][0][0], replaced[0]), "a replaced prev_sample is not the next step's latents")
    _require(torch.equal(out.images, replaced[-1]), 'the last replaced prev_sample is not what the pipeline decodes')


def check_set_timesteps() -> None:
    import diffusers

    base = diffusers.DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule='scaled_linear')
    for name in ('DDIMScheduler', 'PNDMScheduler', 'EulerDiscreteScheduler', 'DPMSolverMultistepScheduler'):
        scheduler = getattr(diffusers, name).from_config(base.config)
        scheduler.set_timesteps(4)
        first, sigma = scheduler.timesteps.clone(), scheduler.init_noise_sigma
        noise = _generators((0,))[0]
        scheduler.step(torch.randn(1, 4, 8, 8, generator=noise), first[0], torch.randn(1, 4, 8, 8, generator=noise))
        scheduler.set_timesteps(4)
        _require(torch.equal(scheduler.timesteps, first) and scheduler.init_noise_sigma == sigma,
                 f'{name}.set_timesteps gives other timesteps once a step ran')


_TEXT_ONLY = ('boxes', 'masks', 'positive_embeddings')
_TEXT_IMAGE = ('boxes', 'masks', 'phrases_masks', 'image_masks', 'phrases_embeddings', 'image_embeddings')


def check_attention_type() -> None:
    from diffusers import UNet2DConditionModel
    from diffusers.models.attention import GatedSelfAttentionDense
    from diffusers.models.embeddings import GLIGENTextBoundingboxProjection

    from ..generation.model_loading import UNET_ATTENTION_TYPES
    from ..layouts.layout import GLIGEN_MAX_BOXES

    dim, shapes = 32, {'boxes': (4,), 'masks': (), 'phrases_masks': (), 'image_masks': ()}
    inputs = {kind: {key: torch.ones(1, GLIGEN_MAX_BOXES, *shapes.get(key, (dim,))) for key in keys}
              for kind, keys in (('gated', _TEXT_ONLY), ('gated-text-image', _TEXT_IMAGE))}
    _require(set(UNET_ATTENTION_TYPES.values()) == set(inputs), 'UNET_ATTENTION_TYPES names other types')
    for attention_type in ('default', *inputs):
        unet = UNet2DConditionModel(
            block_out_channels=(32, 64), layers_per_block=1, sample_size=8, in_channels=9, out_channels=4,
            down_block_types=('DownBlock2D', 'CrossAttnDownBlock2D'),
            up_block_types=('CrossAttnUpBlock2D', 'UpBlock2D'), cross_attention_dim=dim, attention_type=attention_type)
        _require(unet.conv_in.in_channels == unet.config.in_channels, 'config.in_channels is not the input width')
        net = getattr(unet, 'position_net', None)
        fusers = any(type(m) is GatedSelfAttentionDense for m in unet.modules())
        if attention_type == 'default':
            _require(net is None and not fusers, 'a UNet with attention_type="default" has GLIGEN layers')
            continue
        _require(isinstance(net, GLIGENTextBoundingboxProjection) and fusers,
                 f'attention_type={attention_type!r} builds no position net and fusers')
        for kind, kwargs in inputs.items():
            try:
                with torch.no_grad():
                    net(**kwargs)
                accepted = True
            except (AttributeError, TypeError):
                accepted = False
            _require(accepted == (kind == attention_type),
                     f'the position net of attention_type={attention_type!r} {"refuses" if not accepted else "takes"} '
                     f'the inputs {sorted(kwargs)}')


def check_model_index() -> None:
    import diffusers

    from ..generation.model_loading import PIPELINE_CLASSES, check_gligen_configs, component_class
    from ..testing.tiny_gligen import save_tiny_gligen

    for grounding in ('text-box', 'text-image'):
        with tempfile.TemporaryDirectory() as tmp:
            folder = save_tiny_gligen(tmp, grounding)
            index = json.loads((folder / 'model_index.json').read_text(encoding='utf-8'))
            unet_config = json.loads((folder / 'unet' / 'config.json').read_text(encoding='utf-8'))
            check_gligen_configs(index, unet_config, grounding, tmp)
            _require(index['safety_checker'] == [None, None] and isinstance(index['requires_safety_checker'], bool),
                     'absent optional components are not [null, null], or settings are lists')
            pipe = diffusers.DiffusionPipeline.from_pretrained(folder)
            _require(type(pipe).__name__ == PIPELINE_CLASSES[grounding], f'_class_name loads {type(pipe).__name__}')
            for name, spec in index.items():
                if name.startswith('_') or not isinstance(spec, list) or spec == [None, None]:
                    continue
                cls = component_class(*spec)
                _require(isinstance(getattr(pipe, name), cls), f'diffusers loads component {name!r} ({spec}) as '
                                                               f'{type(getattr(pipe, name)).__name__}, not {cls}')


_payload_runs: list[str] = []


def _run_payload() -> None:
    """What unpickling :class:`_Payload` runs, unless the loader refuses it."""
    _payload_runs.append('ran')


class _Payload:
    """Pickled, it is code: a call of :func:`_run_payload`."""

    def __reduce__(self) -> tuple:
        return _run_payload, ()


def check_bin_weights_only() -> None:
    from diffusers.models.model_loading_utils import load_state_dict

    with tempfile.TemporaryDirectory() as tmp:
        plain, crafted = Path(tmp, 'plain.bin'), Path(tmp, 'crafted.bin')
        torch.save({'w': torch.ones(2)}, plain)
        torch.save({'w': torch.ones(2), 'code': _Payload()}, crafted)
        _require(torch.equal(load_state_dict(str(plain))['w'], torch.ones(2)), 'a plain .bin state dict is not read')
        try:
            load_state_dict(str(crafted))
            refused = False
        except Exception:  # diffusers wraps torch's UnpicklingError
            refused = True
    _require(refused and not _payload_runs, 'a .bin holding pickled code was unpickled: not weights-only')


def check_fuser_gates() -> None:
    from diffusers.models.attention import GatedSelfAttentionDense
    from diffusers.pipelines.stable_diffusion.clip_image_project_model import CLIPImageProjection

    fuser = GatedSelfAttentionDense(query_dim=32, context_dim=16, n_heads=2, d_head=16)
    noise = _generators((0,))[0]
    x, objs = torch.randn(1, 4, 32, generator=noise), torch.randn(1, 2, 16, generator=noise)
    with torch.no_grad():
        _require(fuser.alpha_attn.item() == fuser.alpha_dense.item() == 0 and torch.equal(fuser(x, objs), x),
                 "a new fuser's gates alpha_attn/alpha_dense are not 0, or do not make it leave its input as is")
        fuser.alpha_attn.fill_(1.0)
        fuser.alpha_dense.fill_(1.0)
        _require(not torch.equal(fuser(x, objs), x), 'open gates do not let the fuser change its input')
    _require(isinstance(fuser.attn.to_v, torch.nn.Linear) and isinstance(fuser.attn.to_out[0], torch.nn.Linear)
             and issubclass(CLIPImageProjection, torch.nn.Module), "the fuser's attention has no to_v / to_out[0]")
