"""The tiny offline GLIGEN: deterministic, loadable like a real checkpoint, and grounding-sensitive."""
from __future__ import annotations

import json

import torch
from diffusers import StableDiffusionGLIGENPipeline, StableDiffusionGLIGENTextImagePipeline
from diffusers.models.attention import GatedSelfAttentionDense
from safetensors.torch import load_file

from mmgen_det.testing.tiny_gligen import build_tiny_gligen, main


def _fusers(unet) -> list[GatedSelfAttentionDense]:
    return [m for m in unet.modules() if isinstance(m, GatedSelfAttentionDense)]


def test_saved_model_loads_with_nonzero_gates(tiny_gligen_dir):
    folder = tiny_gligen_dir('text-box')
    pipe = StableDiffusionGLIGENPipeline.from_pretrained(folder, use_safetensors=True)
    assert pipe.unet.config.attention_type == 'gated'
    fusers = _fusers(pipe.unet)
    assert fusers
    # diffusers initialises the gates to 0, which would make boxes ineffective
    assert all(f.alpha_attn.item() != 0 and f.alpha_dense.item() != 0 for f in fusers)
    assert pipe.safety_checker is None


def test_text_image_kind_has_image_encoder(tiny_gligen_dir):
    pipe = StableDiffusionGLIGENTextImagePipeline.from_pretrained(tiny_gligen_dir('text-image'),
                                                                  use_safetensors=True)
    assert pipe.unet.config.attention_type == 'gated-text-image'
    assert pipe.image_encoder is not None and pipe.image_project is not None and pipe.processor is not None
    assert all(f.alpha_attn.item() != 0 for f in _fusers(pipe.unet))


def test_cli_is_deterministic_per_seed(tiny_gligen_dir, tmp_path, capsys):
    main(['--out', str(tmp_path / 'again'), '--kind', 'text-box', '--seed', '0'])
    line = capsys.readouterr().out.strip()
    assert line.startswith('saved tiny GLIGEN (text-box, seed 0)') and '\n' not in line
    weights = 'unet/diffusion_pytorch_model.safetensors'
    first = load_file(tiny_gligen_dir('text-box') / weights)
    again = load_file(tmp_path / 'again' / weights)
    assert first.keys() == again.keys() and all(torch.equal(first[k], again[k]) for k in first)
    config = json.loads((tmp_path / 'again' / 'model_index.json').read_text())
    assert config['_class_name'] == 'StableDiffusionGLIGENPipeline'

    other = build_tiny_gligen('text-box', seed=1).unet.state_dict()
    assert not torch.equal(other['conv_in.weight'], first['conv_in.weight'])


def test_inpainting_kinds_have_the_inpainting_unet(tiny_gligen_dir):
    kinds = {'inpainting-text-box': StableDiffusionGLIGENPipeline,
             'inpainting-text-image': StableDiffusionGLIGENTextImagePipeline}
    for kind, pipeline_class in kinds.items():
        config = json.loads((tiny_gligen_dir(kind) / 'model_index.json').read_text())
        assert config['_class_name'] == pipeline_class.__name__
        pipe = pipeline_class.from_pretrained(tiny_gligen_dir(kind), use_safetensors=True)
        # 4 noisy latents + 4 masked-image latents + 1 mask in, 4 channels of noise out
        assert pipe.unet.config.in_channels == 9 and pipe.unet.config.out_channels == 4
        assert all(f.alpha_attn.item() != 0 and f.alpha_dense.item() != 0 for f in _fusers(pipe.unet))
