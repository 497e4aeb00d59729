"""Every diffusers internal the GLIGEN generators rely on, in one table: :data:`DIFFUSERS_INTERNALS`.

The GLIGEN code (``mmgen_det.generation.gligen*``, ``model_loading``) changes no diffusers code, but to
denoise different layouts in one call it hooks into objects it owns for the duration of a pipeline call:
forward pre-hooks on the UNet and a shadowed ``scheduler.step``, removed afterwards. That depends on
what diffusers does inside its pipelines and models (attribute names, argument formats, the order of
calls), most of which is not public API. Each entry says where diffusers defines the behaviour (at the
version checked), what the GLIGEN code assumes, and has a ``check()`` that verifies the assumption
against the installed diffusers on tiny local modules (no download);
``tests/test_compat/test_diffusers_internals.py`` runs them all. The code that relies on an entry
names it, and where a violation is cheap to see at run time it raises :class:`DiffusersChanged`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from . import diffusers_checks as checks

#: the diffusers version every entry was checked against (``requirements/runtime.txt`` pins it)
CHECKED = '0.42.1'
_SRC = f'https://github.com/huggingface/diffusers/blob/v{CHECKED}/src/diffusers'
_GLIGEN = f'{_SRC}/pipelines/deprecated/stable_diffusion_gligen'
TEXT_BOX_PIPELINE = f'{_GLIGEN}/pipeline_stable_diffusion_gligen.py'
TEXT_IMAGE_PIPELINE = f'{_GLIGEN}/pipeline_stable_diffusion_gligen_text_image.py'
UNET = f'{_SRC}/models/unets/unet_2d_condition.py'


@dataclass(frozen=True)
class Internal:
    name: str  # quoted where the GLIGEN code relies on it
    defined: str  # where diffusers defines the behaviour, at version ``checked``
    relies: str  # what the GLIGEN code assumes
    checked: str  # the diffusers version it was checked against
    check: Callable[[], None]  # raises AssertionError when the installed diffusers behaves otherwise


class DiffusersChanged(RuntimeError):
    """The installed diffusers no longer does what a :data:`DIFFUSERS_INTERNALS` entry says."""

    def __init__(self, name: str, seen: str) -> None:
        import diffusers

        entry = next(e for e in DIFFUSERS_INTERNALS if e.name == name)
        installed = diffusers.__version__
        what = (f'diffusers {installed} is installed: install diffusers=={entry.checked} or adapt the GLIGEN code '
                'and the entry' if installed != entry.checked else
                'that is the installed version, so something else in this setup (a scheduler, a pipeline class) '
                'differs from what the checks build')
        super().__init__(
            f'{seen}. The GLIGEN generator relies on {name!r} of mmgen_det.compat.diffusers_internals.'
            f'DIFFUSERS_INTERNALS ({entry.relies}; checked against diffusers {entry.checked}, {entry.defined}); '
            f'{what} (tests/test_compat/test_diffusers_internals.py runs every check).')


# ---------------------------------------------------------------------------------------- the table
DIFFUSERS_INTERNALS: tuple[Internal, ...] = (
    Internal('pipeline call', TEXT_BOX_PIPELINE,
             'both GLIGEN pipelines take the keywords GLIGENGenerator._denoise passes (per-image prompts and '
             'generators, latents, cross_attention_kwargs, the placeholder gligen_phrases/gligen_boxes); '
             "output_type='np' gives float (N, H, W, 3) images in [0, 1] and nsfw_content_detected is None without "
             'a safety checker',
             CHECKED, checks.check_pipeline_call),
    Internal('grounding dict reaches the UNet', TEXT_BOX_PIPELINE,
             "__call__ writes its grounding into the caller's cross_attention_kwargs dict under 'gligen' and passes "
             'that same dict, as a keyword, to self.unet(latents, t, ...) through nn.Module.__call__ (so forward '
             'pre-hooks see it), once per timestep; per_sample_grounding tells those calls apart by identity',
             CHECKED, checks.check_grounding_dict),
    Internal('UNet gligen kwargs', UNET,
             "UNet2DConditionModel.forward calls self.position_net(**cross_attention_kwargs['gligen']) and leaves the "
             "caller's dict as it was, so a pre-hook can hand it a whole batch's boxes/embeddings/masks",
             CHECKED, checks.check_unet_gligen_kwargs),
    Internal('text-box grounding tensors', TEXT_BOX_PIPELINE,
             'text_box_grounding rebuilds step 5.1 of __call__: 30 zero slots in text_encoder.dtype, pooler_output of '
             'text_encoder(tokenizer(phrases, padding=True)), boxes as given, masks 1 on the first n slots, with '
             'guidance the unconditional half masked to 0',
             CHECKED, checks.check_text_box_tensors),
    Internal('text-image grounding builder', TEXT_IMAGE_PIPELINE,
             "text_image_grounding calls get_cross_attention_kwargs_with_grounded with __call__'s keywords: "
             'hidden_size (text_encoder.config.hidden_size = prompt_embeds.shape[2]), the default '
             'gligen_normalize_constant (IMAGE_EMBEDDING_NORM), repeat_batch, max_objs=30',
             CHECKED, checks.check_text_image_builder),
    Internal('text-image ungrounded pass', TEXT_IMAGE_PIPELINE,
             'each step makes a grounded UNet call with the caller\'s dict, then one with its own all-zero grounding, '
             'and takes the unconditional half of the guidance from the second; per_sample_grounding leaves it alone',
             CHECKED, checks.check_ungrounded_pass),
    Internal('guidance batch order', TEXT_BOX_PIPELINE,
             'guidance_scale > 1 doubles the UNet batch as [unconditional; conditional], each half in prompt order: '
             'batch_grounding and the inpainting additions are doubled the same way',
             CHECKED, checks.check_guidance_batch),
    Internal('fuser switch', TEXT_BOX_PIPELINE,
             'enable_fuser(flag) sets .enabled of every GatedSelfAttentionDense (off: it returns its input); __call__ '
             'calls enable_fuser(True) first and the text-box pipeline enable_fuser(False) before the UNet call of '
             'step int(beta * len(timesteps)); per_sample_grounding calls it at the same step',
             CHECKED, checks.check_fuser_switch),
    Internal('text-image beta ignored', TEXT_IMAGE_PIPELINE,
             'the text-image pipeline computes int(beta * len(timesteps)) but never switches the fusers off, which '
             'per_sample_grounding does for it (workaround: drop it when diffusers applies beta there)',
             CHECKED, checks.check_text_image_beta),
    Internal('one generator per image', f'{_SRC}/utils/torch_utils.py',
             'randn_tensor (the initial latents of prepare_latents, and latent_dist.sample of the VAE) draws sample i '
             'of a batch from generator i alone, so an image does not depend on its batch',
             CHECKED, checks.check_one_generator_per_image),
    Internal('caller latents', TEXT_BOX_PIPELINE,
             'prepare_latents takes the caller\'s latents without checking them against unet.config.in_channels (4 '
             'channels for a 9-channel inpainting UNet) and multiplies them by scheduler.init_noise_sigma; the loop '
             'keeps 4-channel latents and gives the UNet scale_model_input of them',
             CHECKED, checks.check_caller_latents),
    Internal('inpainting UNet input', TEXT_BOX_PIPELINE,
             "with gligen_inpaint_image the UNet gets cat(latents, background latents * keep, keep) (keep: 0 on the "
             "boxes' latent cells), the background being scaling_factor * VAE sample of image_processor.preprocess, "
             'and before step k the latents outside the mask become add_noise(background, noise, [timesteps[k]]): '
             '_per_sample_backgrounds does this per sample',
             CHECKED, checks.check_inpainting_input),
    Internal('scheduler.step shadowing', TEXT_BOX_PIPELINE,
             'the loop calls self.scheduler.step through the instance (an instance attribute shadows it, deleting it '
             'restores the method), once per timestep in order, with the keywords inspect.signature finds through '
             "functools.wraps, and uses the output's prev_sample, which may be replaced, as the next latents (the "
             'last is decoded)',
             CHECKED, checks.check_step_shadow),
    Internal('set_timesteps repeatable', f'{_SRC}/schedulers/scheduling_ddim.py',
             'set_timesteps(n) gives the same timesteps and init_noise_sigma whatever ran before, so those '
             '_per_sample_backgrounds sets before the call are the ones the pipeline sets again',
             CHECKED, checks.check_set_timesteps),
    Internal('attention_type', UNET,
             "unet/config.json's attention_type decides the GLIGEN layers: 'gated' a text-only position net "
             "(positive_embeddings), 'gated-text-image' one taking phrase and image embeddings, 'default' none; "
             'config.in_channels is the input width (9 for inpainting)',
             CHECKED, checks.check_attention_type),
    Internal('model_index.json components', f'{_SRC}/pipelines/pipeline_loading_utils.py',
             'model_index.json holds _class_name, settings as non-lists and each component as [library, class] '
             "([null, null] when absent), a library being 'diffusers', 'transformers' or a diffusers.pipelines "
             'module; check_components resolves the classes from_pretrained loads',
             CHECKED, checks.check_model_index),
    Internal('.bin weights-only', f'{_SRC}/models/model_loading_utils.py',
             'load_state_dict reads .bin weights with torch.load(weights_only=True): a .bin holding pickled code is '
             'refused, so model_loading lets diffusers fall back to .bin-only components',
             CHECKED, checks.check_bin_weights_only),
    Internal('fuser gates', f'{_SRC}/models/attention.py',
             "mmgen_det.testing.tiny_gligen opens GatedSelfAttentionDense's gates alpha_attn/alpha_dense (0 in a new "
             'fuser: no effect) and scales attn.to_v / attn.to_out[0]; CLIPImageProjection is in '
             'diffusers.pipelines.stable_diffusion.clip_image_project_model',
             CHECKED, checks.check_fuser_gates),
)
