"""Find, check and load a GLIGEN pipeline from a local directory or a Hugging Face Hub id.

Everything goes through diffusers' own ``from_pretrained``, so a real checkpoint and the tiny test
model take the same path. What this module adds is checking *before* the weights are read:

* ``model`` is an existing directory -> used as is. Otherwise it is taken as a Hub id and resolved
  through the Hugging Face cache (``HF_HOME`` / ``HF_HUB_CACHE``); with ``HF_HUB_OFFLINE=1`` only
  the cache is looked at. Both are read by ``huggingface_hub`` when it is first imported, so set
  them in the environment before starting Python.
* the folder must hold the GLIGEN pipeline the grounding mode needs (``model_index.json``'s
  ``_class_name``) with a gated UNet (``unet/config.json``'s ``attention_type``). For a Hub id these
  two small files are fetched first, so a wrong id fails before gigabytes are downloaded.
* no pickled code runs: ``trust_remote_code`` is never set (custom pipelines are rejected by the
  class check), ``use_safetensors=True`` when every weight folder has ``.safetensors`` files, and for
  ``.bin``-only components diffusers 0.42.1 (``models.model_loading_utils.load_state_dict``) and
  transformers 5 (``modeling_utils.load_state_dict``) both call ``torch.load(weights_only=True)``,
  which only unpickles tensors and plain containers.

What this relies on in diffusers (``model_index.json``'s format, ``attention_type``, weights-only
``.bin`` loading) is listed and checked in :data:`mmgen_det.compat.diffusers_internals.DIFFUSERS_INTERNALS`
('model_index.json components', 'attention_type', '.bin weights-only').
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..utils.hashing import tree_digest

logger = logging.getLogger(__name__)

#: diffusers pipeline class each grounding mode needs
PIPELINE_CLASSES = {
    'text-box': 'StableDiffusionGLIGENPipeline',
    'text-image': 'StableDiffusionGLIGENTextImagePipeline',
    'image': 'StableDiffusionGLIGENTextImagePipeline',
}
#: ``unet.config.attention_type`` each grounding mode needs (it decides the position net's inputs)
UNET_ATTENTION_TYPES = {'text-box': 'gated', 'text-image': 'gated-text-image', 'image': 'gated-text-image'}
#: public checkpoints, quoted in error messages
EXAMPLE_CHECKPOINTS = {'text-box': 'masterful/gligen-1-4-generation-text-box',
                       'text-image': 'anhnct/Gligen_Text_Image', 'image': 'anhnct/Gligen_Text_Image'}

_WEIGHT_SUFFIXES = ('.safetensors', '.bin')
_COMMIT_HASH = re.compile(r'^[0-9a-f]{40}$')


class ModelNotAvailableError(FileNotFoundError):
    """The model is neither a local directory nor obtainable from the Hub (or its cache)."""


class NotAGligenModelError(ValueError):
    """The folder holds a diffusers pipeline, but not the GLIGEN pipeline the grounding mode needs."""


@dataclass(frozen=True)
class ResolvedModel:
    """Where a ``model`` argument was found.

    Attributes:
        model: the argument as given (a directory or a Hub id).
        local_dir: the folder ``from_pretrained`` reads (for a Hub id: the cache snapshot).
        revision: the Hub commit hash of the snapshot; ``None`` for a local directory.
        digest: content digest of the folder when there is no commit to name the weights (a local
            directory): other weights under the same path are another model.
    """
    model: str
    local_dir: Path
    revision: str | None
    digest: str | None = None


def _looks_like_path(model: str) -> bool:
    """Hub ids are ``name`` or ``org/name``; anything else that is not a directory is a missing path."""
    return model.startswith(('/', '.', '~')) or model.count('/') > 1 or '\\' in model


def _hub_error(model: str, revision: str | None, cause: Exception) -> ModelNotAvailableError:
    from huggingface_hub import constants

    what = f'{model!r}' + (f' (revision {revision!r})' if revision else '')
    if constants.HF_HUB_OFFLINE:
        how = (f'offline mode is on (HF_HUB_OFFLINE=1) and it is not in the Hugging Face cache '
               f'{constants.HF_HUB_CACHE}: download it once with network access '
               f'(`hf download {model}`), point HF_HOME/HF_HUB_CACHE at a cache that has it, or pass a '
               f'local directory')
    else:
        how = f'the Hub could not provide it ({type(cause).__name__}: {cause})'
    return ModelNotAvailableError(f'GLIGEN model {what} is not an existing directory, and as a Hugging Face '
                                  f'Hub id: {how}.')


def _fetch_hub_file(model: str, filename: str, revision: str | None) -> Path:
    """One small file of a Hub repo through the cache (offline mode: cache only)."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, HFValidationError

    try:
        return Path(hf_hub_download(model, filename, revision=revision))
    except (EntryNotFoundError, HfHubHTTPError, HFValidationError, OSError) as e:
        raise _hub_error(model, revision, e) from e


def _read_json(path: Path, model: str) -> dict[str, Any]:
    if not path.is_file():
        raise NotAGligenModelError(f'{model!r} is not a diffusers pipeline folder: {path.name} not found '
                                   f'at {path}.')
    return json.loads(path.read_text(encoding='utf-8'))


#: the libraries a GLIGEN pipeline's components may come from: diffusers loads the class a
#: ``model_index.json`` names from its own loadable libraries, its pipeline modules or any module already
#: imported, so a crafted folder could otherwise load a class of anything the process imported
COMPONENT_LIBRARIES = ('diffusers', 'transformers')


def component_class(library: Any, class_name: Any) -> type | None:
    """The class a ``model_index.json`` component ``[library, class]`` names, if it is one of diffusers
    (its pipelines' modules included) or transformers; ``None`` otherwise.

    A pipeline's own module is named by its ``diffusers.pipelines`` submodule (e.g. ``'stable_diffusion'``),
    as diffusers resolves it (DIFFUSERS_INTERNALS 'model_index.json components').
    """
    import importlib

    module = library if library in COMPONENT_LIBRARIES else f'diffusers.pipelines.{library}' \
        if isinstance(library, str) and library.isidentifier() else None
    try:
        found = getattr(importlib.import_module(module), str(class_name), None) if module else None
    except ImportError:
        return None
    return found if isinstance(found, type) else None


def check_components(model_index: dict[str, Any], model: str) -> None:
    """Raise :class:`NotAGligenModelError` unless every component ``model_index.json`` names is a
    class of diffusers (its pipelines' modules included) or transformers, or an absent optional one
    (``[null, null]``)."""
    for name, spec in model_index.items():
        if name.startswith('_') or not isinstance(spec, list):  # e.g. requires_safety_checker: a setting
            continue
        if len(spec) != 2:
            raise NotAGligenModelError(f'{model!r}: model_index.json component {name!r} is {spec!r}, not '
                                       '[library, class]')
        library, class_name = spec
        if library is None and class_name is None:
            continue
        if component_class(library, class_name) is None:
            raise NotAGligenModelError(f'{model!r}: model_index.json component {name!r} names {spec!r}; only '
                                       f'classes of {" or ".join(COMPONENT_LIBRARIES)} (or of a diffusers '
                                       'pipelines module) are loaded')


def check_gligen_configs(model_index: dict[str, Any], unet_config: dict[str, Any], grounding: str,
                         model: str) -> None:
    """Raise :class:`NotAGligenModelError` unless the configs describe the pipeline ``grounding`` needs,
    made of diffusers/transformers components only."""
    expected_class = PIPELINE_CLASSES[grounding]
    class_name = model_index.get('_class_name')
    if class_name != expected_class:
        raise NotAGligenModelError(
            f'{model!r} holds a {class_name!r} pipeline, but grounding={grounding!r} needs a {expected_class} '
            f'(e.g. {EXAMPLE_CHECKPOINTS[grounding]!r}). Grounding modes and their pipelines: {PIPELINE_CLASSES}.')
    check_components(model_index, model)
    attention_type = unet_config.get('attention_type', 'default')
    if attention_type != UNET_ATTENTION_TYPES[grounding]:
        raise NotAGligenModelError(
            f'{model!r}: its UNet has attention_type={attention_type!r}, but grounding={grounding!r} needs '
            f'{UNET_ATTENTION_TYPES[grounding]!r} (gated self-attention layers and a position net).')


def resolve_model(model: str, grounding: str, revision: str | None = None) -> ResolvedModel:
    """Locate ``model`` (a directory or a Hub id) and check it is a GLIGEN pipeline for ``grounding``.

    A Hub id is downloaded into the Hugging Face cache only after its configs passed the check.
    """
    local = Path(model).expanduser()
    if local.is_dir():
        check_gligen_configs(_read_json(local / 'model_index.json', model),
                             _read_json(local / 'unet' / 'config.json', model), grounding, model)
        return ResolvedModel(model=model, local_dir=local.resolve(), revision=None, digest=tree_digest(local))
    if local.exists():
        raise ModelNotAvailableError(f'GLIGEN model {model!r} is a file; expected a pipeline directory '
                                     f'(with model_index.json) or a Hugging Face Hub id.')
    if _looks_like_path(model):
        raise ModelNotAvailableError(f'GLIGEN model directory {model!r} does not exist.')

    model_index = _read_json(_fetch_hub_file(model, 'model_index.json', revision), model)
    unet_config = _read_json(_fetch_hub_file(model, 'unet/config.json', revision), model)
    check_gligen_configs(model_index, unet_config, grounding, model)

    from diffusers import DiffusionPipeline
    from huggingface_hub.errors import HfHubHTTPError

    try:
        # diffusers picks the files the pipeline needs (safetensors preferred) and reuses the cache.
        snapshot = Path(DiffusionPipeline.download(model, revision=revision))
    except (HfHubHTTPError, OSError) as e:
        raise _hub_error(model, revision, e) from e
    revision = snapshot.name if _COMMIT_HASH.match(snapshot.name) else None
    return ResolvedModel(model=model, local_dir=snapshot, revision=revision,
                         digest=None if revision else tree_digest(snapshot))


def _prefers_safetensors(folder: Path) -> bool | None:
    """``True`` if every component with weights has safetensors; ``None`` lets diffusers fall back.

    The fallback reads ``.bin`` files with ``torch.load(weights_only=True)`` (see the module docstring).
    """
    weight_dirs = {p.parent for p in folder.rglob('*') if p.suffix in _WEIGHT_SUFFIXES}
    bin_only = sorted(d.name for d in weight_dirs if not any(d.glob('*.safetensors')))
    if not bin_only:
        return True
    logger.warning('GLIGEN model %s: components %s have only .bin weights; they are read with '
                   'torch.load(weights_only=True).', folder, bin_only)
    return None


def load_gligen_pipeline(model: str, grounding: str, torch_dtype: Any, device: str,
                         revision: str | None = None) -> tuple[Any, ResolvedModel]:
    """Resolve, check and load the GLIGEN pipeline for ``grounding``; returns it with where it came from.

    The pipeline is moved to ``device``, its progress bars are off (the caller reports progress).
    """
    import diffusers

    resolved = resolve_model(model, grounding, revision)
    pipeline_class = getattr(diffusers, PIPELINE_CLASSES[grounding])
    pipeline = pipeline_class.from_pretrained(str(resolved.local_dir), torch_dtype=torch_dtype,
                                              use_safetensors=_prefers_safetensors(resolved.local_dir))
    pipeline.to(device)
    pipeline.set_progress_bar_config(disable=True)
    return pipeline, resolved
