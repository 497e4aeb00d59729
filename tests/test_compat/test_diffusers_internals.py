"""The diffusers internals the GLIGEN generators rely on are listed once
(mmgen_det.compat.diffusers_internals.DIFFUSERS_INTERNALS), each named where the code relies on it, and each still holds for
the installed diffusers: every entry's check runs on tiny local modules, so upgrading diffusers fails here
before it changes a synthetic image."""
from __future__ import annotations

import re
from pathlib import Path

import diffusers
import pytest
import torch

from mmgen_det import compat
from mmgen_det.compat.diffusers_internals import CHECKED, DIFFUSERS_INTERNALS, DiffusersChanged

PACKAGE = Path(compat.__file__).resolve().parents[1]
#: the code that relies on the entries
RELYING = [PACKAGE / 'generation' / name for name in ('gligen.py', 'gligen_grounding.py', 'gligen_inpaint.py',
                                                        'gligen_settings.py', 'model_loading.py')] \
    + [PACKAGE / 'testing' / 'tiny_gligen.py']
SOURCE = f'https://github.com/huggingface/diffusers/blob/v{CHECKED}/src/diffusers/'


@pytest.fixture(scope='module', autouse=True)
def one_torch_thread():
    """The tiny models are latency-bound: one thread avoids contention on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_every_entry_names_its_diffusers_source():
    names = [entry.name for entry in DIFFUSERS_INTERNALS]
    assert len(names) == len(set(names))
    installed = Path(diffusers.__file__).parent
    for entry in DIFFUSERS_INTERNALS:
        assert entry.checked == CHECKED and entry.relies
        assert entry.defined.startswith(SOURCE), entry.defined
        assert (installed / entry.defined.removeprefix(SOURCE)).is_file(), entry.defined
    assert 'PATCHES' in compat.__doc__ and 'DIFFUSERS_INTERNALS' in compat.__doc__


def test_the_code_names_each_entry_it_relies_on():
    code = '\n'.join(path.read_text(encoding='utf-8') for path in RELYING)
    names = {entry.name for entry in DIFFUSERS_INTERNALS}
    assert [name for name in sorted(names) if f"'{name}'" not in code] == []
    raised = re.findall(r"DiffusersChanged\(\s*'([^']+)'", code)
    assert raised and set(raised) <= names
    assert set(re.findall(r"DIFFUSERS_INTERNALS\s+'([^']+)'", code)) <= names


@pytest.mark.parametrize('entry', DIFFUSERS_INTERNALS, ids=lambda entry: entry.name)
def test_installed_diffusers_behaves_as_relied_on(entry):
    entry.check()


def test_a_pipeline_bypassing_the_grounding_hook_fails_naming_the_entry():
    from mmgen_det.generation.gligen_grounding import PLACEHOLDER_GROUNDING, per_sample_grounding
    from mmgen_det.testing.tiny_gligen import build_tiny_gligen

    pipe = build_tiny_gligen('text-box')
    pipe.set_progress_bar_config(disable=True)
    marker: dict = {}
    with pytest.raises(DiffusersChanged, match=r"0 UNet calls over 2 .*'grounding dict reaches the UNet'.*"
                                               rf"checked against diffusers {re.escape(CHECKED)}"):
        with per_sample_grounding(pipe, 'text-box', 1.0, marker, gligen={}):
            # as if diffusers passed the UNet a copy of the caller's cross_attention_kwargs
            pipe(prompt=['a fish'], height=64, width=64, num_inference_steps=2, output_type='latent',
                 cross_attention_kwargs={}, **PLACEHOLDER_GROUNDING)
