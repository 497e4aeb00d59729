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
