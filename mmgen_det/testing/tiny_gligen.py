"""A tiny, random, offline GLIGEN pipeline for tests.

It has the real pipeline classes and component types, so it is saved with ``save_pretrained`` and
loaded with ``from_pretrained`` exactly like a real checkpoint, but it needs no download and runs a
64x64, 2-step generation on a CPU in well under a second.

The ``inpainting-*`` kinds have the UNet of GLIGEN's inpainting checkpoints: 9 input channels (4 noisy
latents + 4 masked-background latents + 1 mask) instead of 4.

Two things differ from what a freshly initialised diffusers GLIGEN UNet would give:

* the gates ``alpha_attn`` / ``alpha_dense`` of every ``GatedSelfAttentionDense`` are set to
  ``GATE_VALUE`` instead of diffusers' 0: with zero gates the fusers add ``tanh(0) * ... = 0`` and the
  boxes would have no effect at all, so no test could tell whether grounding reaches the UNet;
* the fusers' value/output projections are scaled up (``FUSER_GAIN``) so that moving one box
  changes the float output far above float noise (a test can then separate "batched = single" from
  "grounding has an effect" with a wide margin).

Both reach into diffusers' ``GatedSelfAttentionDense`` (DIFFUSERS_INTERNALS 'fuser gates' in
:mod:`mmgen_det.compat.diffusers_internals`).

Usage::

    python -m mmgen_det.testing.tiny_gligen --out /tmp/tiny-gligen --kind text-box --seed 0
    python -m mmgen_det.testing.tiny_gligen --out /tmp/tiny-gligen-inpainting --kind inpainting-text-box
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch

#: value given to every fuser gate (``tanh(1.0) ~ 0.76``); diffusers initialises them to 0
GATE_VALUE = 1.0
#: factor applied to the fusers' attention value and output weights to make grounding visible
FUSER_GAIN = 16.0
#: text/cross-attention width shared by the text encoder, image projection and UNet
HIDDEN = 32

#: grounding kinds, and the same with the UNet of GLIGEN's inpainting checkpoints
KINDS = ('text-box', 'text-image', 'inpainting-text-box', 'inpainting-text-image')
_ATTENTION_TYPE = {'text-box': 'gated', 'text-image': 'gated-text-image'}
_INPAINTING = 'inpainting-'


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP byte -> printable unicode map (so the vocab covers every byte without merges)."""
    printable = list(range(ord('!'), ord('~') + 1)) + list(range(ord('¡'), ord('¬') + 1)) \
        + list(range(ord('®'), ord('ÿ') + 1))
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in chars)))


def _write_tokenizer_files(folder: Path) -> tuple[Path, Path]:
    """A byte-level CLIP vocab (bytes, bytes + ``</w>``, start/end tokens) and an empty merges file."""
    symbols = list(_bytes_to_unicode().values())
    tokens = symbols + [s + '</w>' for s in symbols] + ['<|startoftext|>', '<|endoftext|>']
    vocab_file, merges_file = folder / 'vocab.json', folder / 'merges.txt'
    vocab_file.write_text(json.dumps({t: i for i, t in enumerate(tokens)}), encoding='utf-8')
    merges_file.write_text('#version: 0.2\n', encoding='utf-8')
    return vocab_file, merges_file


def _tokenizer():
    from transformers import CLIPTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        vocab_file, merges_file = _write_tokenizer_files(Path(tmp))
        tokenizer = CLIPTokenizer(str(vocab_file), str(merges_file), model_max_length=77)
    return tokenizer


def _text_encoder(tokenizer):
    from transformers import CLIPTextConfig, CLIPTextModel

    config = CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=HIDDEN, intermediate_size=37, num_hidden_layers=2,
        num_attention_heads=4, max_position_embeddings=77, projection_dim=HIDDEN,
        bos_token_id=tokenizer.convert_tokens_to_ids('<|startoftext|>'),
        eos_token_id=tokenizer.convert_tokens_to_ids('<|endoftext|>'),
        pad_token_id=tokenizer.convert_tokens_to_ids('<|endoftext|>'))
    return CLIPTextModel(config)


def _unet(grounding: str, inpainting: bool):
    from diffusers import UNet2DConditionModel
    from diffusers.models.attention import GatedSelfAttentionDense

    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=2, sample_size=32, in_channels=9 if inpainting else 4,
        out_channels=4, down_block_types=('DownBlock2D', 'CrossAttnDownBlock2D'),
        up_block_types=('CrossAttnUpBlock2D', 'UpBlock2D'),
        cross_attention_dim=HIDDEN, attention_type=_ATTENTION_TYPE[grounding])
    with torch.no_grad():
        for module in unet.modules():
            if isinstance(module, GatedSelfAttentionDense):
                module.alpha_attn.fill_(GATE_VALUE)
                module.alpha_dense.fill_(GATE_VALUE)
                module.attn.to_v.weight.mul_(FUSER_GAIN)
                module.attn.to_out[0].weight.mul_(FUSER_GAIN)
    return unet


def _vae():
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        block_out_channels=(32, 64), in_channels=3, out_channels=3, latent_channels=4,
        down_block_types=('DownEncoderBlock2D', 'DownEncoderBlock2D'),
        up_block_types=('UpDecoderBlock2D', 'UpDecoderBlock2D'), sample_size=64)


def _scheduler():
    from diffusers import DDIMScheduler

    return DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule='scaled_linear',
                         clip_sample=False, set_alpha_to_one=False)


def _image_components(tokenizer) -> dict:
    """Reference-image encoder of the text-image pipeline: CLIP vision tower + projection + processor."""
    from diffusers.pipelines.stable_diffusion.clip_image_project_model import CLIPImageProjection
    from transformers import CLIPProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    vision = CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=HIDDEN, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
        image_size=32, patch_size=8, projection_dim=HIDDEN))
    image_processor = CLIPImageProcessorPil(size={'shortest_edge': 32}, crop_size={'height': 32, 'width': 32})
    return dict(processor=CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer),
                image_encoder=vision, image_project=CLIPImageProjection(hidden_size=HIDDEN))


def build_tiny_gligen(kind: str = 'text-box', seed: int = 0):
    """A random GLIGEN pipeline of the given ``kind``; same ``seed`` -> same weights.

    ``'text-box'`` gives a ``StableDiffusionGLIGENPipeline``, ``'text-image'`` a
    ``StableDiffusionGLIGENTextImagePipeline`` (which also does image-only grounding);
    ``'inpainting-<grounding>'`` the same pipeline with a 9-input-channel UNet. No safety checker
    (``requires_safety_checker=False``).
    """
    if kind not in KINDS:
        raise ValueError(f'kind must be one of {KINDS}, got {kind!r}')
    grounding, inpainting = kind.removeprefix(_INPAINTING), kind.startswith(_INPAINTING)
    from diffusers import StableDiffusionGLIGENPipeline, StableDiffusionGLIGENTextImagePipeline

    # torch.manual_seed would reseed the process-wide generator; fork_rng restores it afterwards.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        tokenizer = _tokenizer()
        components = dict(vae=_vae(), text_encoder=_text_encoder(tokenizer), tokenizer=tokenizer,
                          unet=_unet(grounding, inpainting), scheduler=_scheduler(), safety_checker=None,
                          feature_extractor=None, requires_safety_checker=False)
        if grounding == 'text-box':
            return StableDiffusionGLIGENPipeline(**components)
        return StableDiffusionGLIGENTextImagePipeline(**components, **_image_components(tokenizer))


def save_tiny_gligen(out_dir: str | Path, kind: str = 'text-box', seed: int = 0) -> Path:
    """Build a tiny GLIGEN pipeline and ``save_pretrained`` it (safetensors) into ``out_dir``."""
    out_dir = Path(out_dir)
    build_tiny_gligen(kind, seed).save_pretrained(out_dir, safe_serialization=True)
    return out_dir


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description='Save a tiny random GLIGEN pipeline for offline tests.')
    parser.add_argument('--out', required=True, help='directory to save_pretrained into')
    parser.add_argument('--kind', default='text-box', choices=KINDS)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    out_dir = save_tiny_gligen(args.out, args.kind, args.seed)
    n_files = sum(1 for p in out_dir.rglob('*') if p.is_file())
    print(f'saved tiny GLIGEN ({args.kind}, seed {args.seed}) to {out_dir}: {n_files} files')


if __name__ == '__main__':
    main()
