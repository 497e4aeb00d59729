"""Write a complete, editable experiment folder for a user's dataset: no config written by hand.

In: a dataset path (YOLO / VOC / COCO as exported, format detected), a detector name, generators, N
values, seeds, arms and the device class. Out, in ``OUT``::

    experiment.py                    the sweep; run it with mmgen-det-run OUT/experiment.py
    configs/detector.py              the real-data mmdet config (stock tools/train.py runs it)
    configs/generation_<name>.py     one per generator: the synthetic-pretrain config with its set
    data_profile.json                classes, frame and object sizes, and everything derived from them
    init_args.json                   the settings this folder was made from (a rerun with others refuses)
    written_files.json               digests of the files as written, to tell a user's edits from a stale
                                     derivation (:func:`reuse_or_init`); written first, empty, so that
                                     a folder whose writing was interrupted is still known as ours

``OUT`` must be empty, new, or a folder this module made (:func:`check_experiment_folder`): the files
of someone's folder are never replaced, whatever their names.

Everything in the configs that depends on the data or the device comes from ``mmgen_det.recipes``:
classes and ``num_classes`` of every head, input scale and training crop, schedules, generation canvas,
zoom and phrases. This module writes them into the folder.

Class names are the user's data and the configs are Python that ``Config.fromfile`` executes: a name
is only ever written as a value (GLIGEN phrases as ``[name, phrase]`` pairs, never dict keys, which
mmengine writes unescaped), through :mod:`mmgen_det.utils.config_files`, so any name reads back as
the same string and nothing in it runs.
"""
from __future__ import annotations

import json
import warnings
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, Sequence

from ..datasets.formats import FORMAT_CHOICES, ON_BAD_IMAGE
from ..datasets.profile import DataProfile, profile_coco
from ..filters.matching import DEFAULT_IOU_THR, DEFAULT_SCORE_THR
from ..recipes import (CPU_LOADERS, DEFAULT_DETECTOR, DETECTORS, ESTIMATES, GENERATORS, IMAGES_PER_REAL, SCHEDULES,
                       VAL_IMAGES, default_detector, default_num_real, derive_generation, detector_config,
                       input_scale)
from ..utils.config_files import dump_config, inert_literals
from ..utils.hashing import file_sha256
from ..utils.io import atomic_write, atomic_write_json
from ..utils.text import first_few
from .config import ARMS, DEFAULT_SPLIT, Filter
from .plan import planned_splits
from .runner import WORK_DIR_LOCK
from .stages import synthetic_dataset, with_train_dataset

DEFAULT_ARMS = ['real-only', 'synthetic-pretrain', 'mixed', 'compute-matched']
PLACEHOLDER_ROOT = 'data/converted/'  # the runner points every stage at its own converted copy
WRITTEN = 'written_files.json'
INIT_ARGS = 'init_args.json'


@dataclass
class InitSettings:
    """What the user chose (everything else is derived from the data)."""
    source: str
    format: str = 'auto'
    classes: list[str] | None = None
    detector: str | None = None
    generators: list[str] = field(default_factory=lambda: ['copy-paste'])
    num_real: list[int | str] | None = None
    seeds: list[int] | None = None
    arms: list[str] | None = None
    device: str | None = None
    name: str | None = None
    on_bad_image: str = 'fail'
    allow_outside_root: bool = False

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def default_device() -> str:
    import torch
    return 'gpu' if torch.cuda.is_available() else 'cpu'


def read_profile(settings: InitSettings) -> tuple[DataProfile, dict[str, int]]:
    """Read (and check) the dataset; profile its training split (its only split when it has one)."""
    from ..datasets import read_dataset
    splits = read_dataset(settings.source, settings.format, classes=settings.classes,
                          on_bad_image=settings.on_bad_image, allow_outside_root=settings.allow_outside_root)
    by_name = {s.name: s.coco for s in splits}
    train = by_name.get('train') or (next(iter(by_name.values())) if len(by_name) == 1 else None)
    if train is None:
        raise ValueError(f'{settings.source} has splits {sorted(by_name)} but no training split')
    return profile_coco(train), {k: len(v['images']) for k, v in by_name.items()}


def training_images(counts: dict[str, int]) -> int:
    """Real training images the runs can draw from with the default split: the dry run's planned count."""
    return planned_splits(counts, DEFAULT_SPLIT)['train']


def synthetic_config(detector_cfg, generation: dict[str, Any], set_dir: str):
    """The synthetic-pretrain config: the detector config training on the generated set, which the
    ``GLIGENGenerationHook`` makes when stock ``tools/train.py`` runs it."""
    dataset = synthetic_dataset(detector_cfg, Path(set_dir), Filter('none'), None)
    cfg = with_train_dataset(detector_cfg, dict(dataset, generation=generation))
    cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [dict(type='GLIGENGenerationHook')]
    return cfg


class NotAnExperimentError(ValueError):
    """The output folder holds files but was not made by :func:`init_experiment`."""


def is_experiment_folder(out: Path) -> bool:
    """Whether :func:`init_experiment` made ``out``: it holds its record of what it wrote."""
    return (out / INIT_ARGS).is_file() or (out / WRITTEN).is_file()


def check_experiment_folder(out: str | Path) -> None:
    """Refuse a folder that holds files but was not made by :func:`init_experiment`: its files (an
    ``experiment.py``, a ``configs/detector.py``...) would be replaced. The work dir's lock file, which
    run_experiment takes before writing, does not count."""
    out = Path(out)
    if not out.is_dir() or is_experiment_folder(out):
        return
    held = sorted(p.name + ('/' if p.is_dir() else '') for p in out.iterdir() if p.name != WORK_DIR_LOCK)
    if held:
        shown = first_few(held)
        raise NotAnExperimentError(
            f'{out} is not empty and was not made by init_experiment (no {INIT_ARGS} or {WRITTEN}; it holds '
            f'{shown}), so no experiment folder is written into it: its files would be replaced. Fix: '
            'choose an empty or new folder (--out, --work-dir); --reinit rewrites only folders init made')


def init_experiment(settings: InitSettings, out: str | Path) -> Path:
    """Write the experiment folder (see the module docstring); returns ``OUT/experiment.py``."""
    out = Path(out).resolve()
    check_experiment_folder(out)
    device = settings.device or default_device()
    detector, substituted = (settings.detector, None) if settings.detector else default_detector(device)
    if substituted:
        warnings.warn(substituted, stacklevel=2)
    if detector not in DETECTORS:
        raise ValueError(f'unknown detector {detector!r}; known: {sorted(DETECTORS)}')
    unknown = [g for g in settings.generators if g not in GENERATORS]
    if unknown:
        raise ValueError(f'unknown generators {unknown}; known: {list(GENERATORS)}')
    profile, counts = read_profile(settings)
    classes = list(profile.classes)
    scale = input_scale(profile, device)
    for note in scale.warnings:
        warnings.warn(note, stacklevel=2)

    if not is_experiment_folder(out):  # ours before any file is: a rerun after a kill here finds it so
        atomic_write_json(out / WRITTEN, {})
    configs = out / 'configs'
    configs.mkdir(parents=True, exist_ok=True)
    det_cfg = detector_config(detector, classes, profile, device, data_root=PLACEHOLDER_ROOT)
    det_path = configs / 'detector.py'
    dump_config(det_cfg, det_path)
    generators = {}
    derived_generation = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        for name in settings.generators:
            generation = derive_generation(name, profile, scale.factor, PLACEHOLDER_ROOT)
            path = configs / f'generation_{name}.py'
            dump_config(synthetic_config(det_cfg, generation, f'work_dirs/synthetic/{out.name}_{name}'), path)
            generators[name] = dict(config=str(path), images_per_real=IMAGES_PER_REAL[device])
            derived_generation[name] = dict(canvas=[generation['layout']['width'], generation['layout']['height']],
                                            zoom=generation['layout'].get('zoom'),
                                            phrases=generation['generator'].get('phrases'))
    generation_warnings = sorted({str(w.message) for w in caught})
    for message in generation_warnings:
        warnings.warn(message, stacklevel=2)

    train_images = training_images(counts)
    arms = settings.arms or DEFAULT_ARMS
    bad = [a for a in arms if a not in ARMS]
    if bad:
        raise ValueError(f'unknown arms {bad}; known: {list(ARMS)}')
    derived = dict(device=device, detector=detector, classes=classes, profile=profile.as_dict(),
                   input_scale=scale.as_dict(), generation=derived_generation,
                   warnings=[*([substituted] if substituted else []), *scale.warnings, *generation_warnings],
                   splits_found=counts)
    experiment = dict(
        name=settings.name or out.name,
        data=dict(source=str(Path(settings.source).resolve()), format=settings.format, classes=settings.classes,
                  split=dict(DEFAULT_SPLIT), image_mode='copy', val_images=VAL_IMAGES[device], test_images=None,
                  on_bad_image=settings.on_bad_image, allow_outside_root=settings.allow_outside_root),
        detector=str(det_path),
        num_real=settings.num_real or default_num_real(train_images, device),
        seeds=settings.seeds or ([0] if device == 'cpu' else [0, 1, 2]),
        arms=arms,
        generators=generators,
        filters={'none': None},
        # used once a PR filter is added above, e.g. 'pr': dict(type='pr', min_precision=0.01, min_recall=0.5);
        # thresholds as measured by benchmarks/filter_auc.py with this recipe's detector
        filter_detector=dict(config=str(det_path), score_thr=DEFAULT_SCORE_THR, iou_thr=DEFAULT_IOU_THR,
                             class_aware=False),
        schedules=SCHEDULES[device],
        cfg_options=CPU_LOADERS if device == 'cpu' else {},
        estimate=ESTIMATES[device],
        derived=derived)
    path = out / 'experiment.py'
    with atomic_write(path, 'w') as f:
        f.write(render_experiment(experiment))
    atomic_write_json(out / 'data_profile.json', derived, indent=1)
    atomic_write_json(out / INIT_ARGS, settings.as_dict(), indent=1)
    written = [path, det_path, *(Path(g['config']) for g in generators.values())]
    atomic_write_json(out / WRITTEN, {str(f.relative_to(out)): file_sha256(f) for f in written}, indent=1)
    return path


class OtherOptionsError(ValueError):
    """An experiment folder was initialised with other options than the ones given."""


def edited_files(out: Path) -> list[str] | None:
    """The files of an experiment folder changed since :func:`init_experiment` wrote them (``None``: a
    folder written before digests were recorded, so edits cannot be told apart)."""
    record = out / WRITTEN
    if not record.is_file():
        return None
    return [name for name, digest in json.loads(record.read_text()).items()
            if not (out / name).is_file() or file_sha256(out / name) != digest]


def reuse_or_init(settings: InitSettings, out: str | Path, reinit: bool = False) -> tuple[Path, str]:
    """The experiment folder for ``settings`` in ``out`` and a line saying what was done.

    A folder made with other options is refused (:class:`OtherOptionsError`) unless ``reinit``. One
    made with the same options is derived again from the data unless the user edited it, so a folder
    written by an older recipe follows the installed one; stages whose inputs did not change stay
    cached. An edited folder is kept as it is (the edits are the user's experiment) and the line names
    the edited files."""
    out = Path(out)
    made_with = out / INIT_ARGS
    if made_with.is_file() and not reinit:
        # options added since the folder was made count as their defaults
        defaults = {f.name: f.default for f in fields(InitSettings) if f.default is not MISSING}
        old = {**json.loads(json.dumps(defaults)), **json.loads(made_with.read_text())}
        if old != json.loads(json.dumps(settings.as_dict())):
            changed = sorted(k for k in old if old[k] != settings.as_dict().get(k))
            raise OtherOptionsError(f'{out} was initialised with other options ({", ".join(changed)}); pass '
                                    '--reinit to rewrite its configs, or choose another --work-dir')
        edited = edited_files(out)
        if edited is None or edited:
            what = 'written before edits could be told apart' if edited is None else f'edited: {", ".join(edited)}'
            return out / 'experiment.py', (f'reusing {out / "experiment.py"} as it is ({what}); --reinit derives '
                                           'it again with the installed recipe')
        path = init_experiment(settings, out)
        return path, (f'reusing {out} (made from the same options), derived again from the data with the installed '
                      'recipe; unchanged stages stay cached')
    path = init_experiment(settings, out)
    return path, f'wrote {path} and {out / "configs"} (derived settings: {out / "data_profile.json"})'


def render_experiment(experiment: dict[str, Any]) -> str:
    """experiment.py as a person would write it: one key per statement, a header saying where it came
    from. Paths and names appear only as values: in a comment, a line break in them would start code."""
    from pprint import pformat
    header = ["# Experiment written by mmgen-det-init (tools/init_experiment.py) from the dataset in data['source'].",
              '# Every value below was derived from the data (see data_profile.json) or chosen on the command',
              '# line; edit freely, then run:  mmgen-det-run THIS_FILE  (in a checkout: python tools/run_experiment.py)']
    body = [f'{key} = {pformat(value, width=110, sort_dicts=False)}' for key, value in experiment.items()]
    return inert_literals('\n'.join(header) + '\n\n' + '\n'.join(body) + '\n')


def add_arguments(parser, data_flag: Sequence[str]) -> None:
    """The init options, shared by tools/init_experiment.py and tools/run_experiment.py --data."""
    parser.add_argument(*data_flag, help='the dataset: a YOLO yaml or folder, a VOC folder, a COCO json or folder')
    parser.add_argument('--format', default='auto', choices=FORMAT_CHOICES)
    parser.add_argument('--classes', type=lambda s: [c.strip() for c in s.split(',')],
                        help='class names in label order, for a YOLO folder without a yaml or classes.txt')
    parser.add_argument('--on-bad-image', choices=ON_BAD_IMAGE, default='fail',
                        help='an image OpenCV (what training reads with) cannot decode: stop naming it, or skip it '
                             'with its boxes (counted in the conversion report)')
    parser.add_argument('--allow-outside-root', action='store_true',
                        help='let image paths and links of the dataset point outside its folder')
    parser.add_argument('--detector', choices=sorted(DETECTORS),
                        help=f"default: {DEFAULT_DETECTOR['cpu']} on a CPU, {DEFAULT_DETECTOR['gpu']} on a GPU")
    parser.add_argument('--generator', nargs='+', default=['copy-paste'], choices=GENERATORS, dest='generators')
    parser.add_argument('--num-real', nargs='+', type=lambda s: s if s == 'all' else int(s),
                        help="real training images per run: ints and/or 'all' (default: 50 on a CPU; "
                             "10 50 100 300 all on a GPU)")
    parser.add_argument('--seeds', nargs='+', type=int, help='default: 0 on a CPU, 0 1 2 on a GPU')
    parser.add_argument('--arms', nargs='+', choices=ARMS, help=f'default: {" ".join(DEFAULT_ARMS)}')
    parser.add_argument('--device', choices=('cpu', 'gpu'), help='the recipe to derive (default: gpu when CUDA is '
                        'available)')


def settings_from_args(args) -> InitSettings:
    return InitSettings(source=args.data, format=args.format, classes=args.classes, detector=args.detector,
                        generators=args.generators, num_real=args.num_real, seeds=args.seeds, arms=args.arms,
                        device=args.device, on_bad_image=args.on_bad_image,
                        allow_outside_root=args.allow_outside_root)
