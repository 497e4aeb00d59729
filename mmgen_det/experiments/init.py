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
of someone's folder are never replaced, whatever their names. Every setting is checked against the data
(:func:`derive`) before the first file is written, so a refused command leaves nothing that would refuse
its corrected rerun.

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
from typing import TYPE_CHECKING, Any, Sequence

from ..datasets.formats import FORMAT_CHOICES, ON_BAD_IMAGE
from ..datasets.profile import DataProfile, profile_coco
from ..filters.matching import DEFAULT_IOU_THR, DEFAULT_SCORE_THR
from ..recipes import (CPU_LOADERS, DEFAULT_DETECTOR, DETECTORS, DEVICES, ESTIMATES, GENERATORS, GPU_FALLBACK_DETECTOR,
                       IMAGES_PER_REAL, SCHEDULES, VAL_IMAGES, InputScale, default_detector, default_num_real,
                       derive_generation, detector_config, input_scale)
from ..recipes.generation import GLIGEN_BASES
from ..utils.config_files import dump_config, inert_literals
from ..utils.hashing import file_sha256
from ..utils.io import atomic_write, atomic_write_json
from ..utils.text import first_few
from .config import (ARMS, DEFAULT_SPLIT, READ_OPTIONS, SYNTHETIC_ARMS, Experiment, Filter, Generator, check_arms,
                     check_num_real, check_seeds)
from .plan import ComputeEstimate, planned_splits, resolve_num_real
from .runner import WORK_DIR_LOCK
from .stages import real_splits, synthetic_dataset, training_split, with_train_dataset

if TYPE_CHECKING:
    from ..datasets.formats import ConvertedSplit

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
    allow_cpu_gligen: bool = False  # GLIGEN on a CPU runs for hours: generate there only when asked to

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def read_options(self) -> dict[str, Any]:
        """What the read of the source takes (``Experiment.read_options`` of the folder written)."""
        return {key: getattr(self, key) for key in READ_OPTIONS}


def default_device() -> str:
    import torch
    return 'gpu' if torch.cuda.is_available() else 'cpu'


@dataclass(frozen=True)
class Derivation:
    """The data as read and the settings checked against it (:func:`derive`): what
    :func:`init_experiment` writes, so that every refusal comes before its first file."""
    settings: InitSettings
    device: str
    detector: str
    substituted: str | None  # why the device's reference detector is not the one derived, if it is not
    splits: list[ConvertedSplit]  # the source as read: run_experiment's data stage reads no image again
    profile: DataProfile  # of the training split as found, before held-out splits are carved
    scale: InputScale
    detector_cfg: Any  # the real-data mmdet config, reading PLACEHOLDER_ROOT
    num_real: list[int | str]
    seeds: list[int]
    arms: list[str]

    @property
    def counts(self) -> dict[str, int]:
        """Images per split found."""
        return {s.name: len(s.coco['images']) for s in self.splits}

    def source_for(self, exp: Experiment) -> list[ConvertedSplit] | None:
        """The read, when ``exp`` reads the same source with the same options (an edited experiment.py or
        ``--cfg-options data.*`` may read another)."""
        same = (Path(exp.source).resolve() == Path(self.settings.source).resolve()
                and exp.format == self.settings.format and exp.read_options() == self.settings.read_options())
        return self.splits if same else None


def derive(settings: InitSettings) -> Derivation:
    """Read the dataset and check every setting against it, writing nothing: the options (device,
    generators, arms, seeds, N), the data (format, records, images), N against the training split as
    the data stage will carve it, the detector's backbone checkpoint, GLIGEN on a CPU
    (:func:`check_gligen_device`)."""
    from ..datasets import read_dataset
    device = settings.device or default_device()
    if device not in DEVICES:
        raise ValueError(f'device must be one of {DEVICES}, got {device!r}')
    unknown = [g for g in settings.generators if g not in GENERATORS]
    if unknown:
        raise ValueError(f'unknown generators {unknown}; known: {list(GENERATORS)}')
    arms = check_arms(settings.arms or DEFAULT_ARMS, settings.generators)
    seeds = check_seeds(settings.seeds or ([0] if device == 'cpu' else [0, 1, 2]))
    detector, substituted = (settings.detector, None) if settings.detector else default_detector(device)
    if detector not in DETECTORS:
        raise ValueError(f'unknown detector {detector!r}; known: {sorted(DETECTORS)}')
    splits = read_dataset(settings.source, settings.format, **settings.read_options())
    train_images = len(real_splits(splits, DEFAULT_SPLIT, settings.source)[0]['train']['images'])
    num_real = check_num_real(settings.num_real or default_num_real(train_images, device))
    images_per_run = [resolve_num_real(value, train_images) for value in num_real]
    profile = profile_coco(training_split(splits).coco)
    scale = input_scale(profile, device)
    detector_cfg = detector_config(detector, list(profile.classes), profile, device, data_root=PLACEHOLDER_ROOT)
    from ..engine.pretrained_init import check_backbone_init  # mmdet: here, so that --help stays light
    check_backbone_init(detector_cfg.model, where=f'--detector {detector}')
    if any(a in SYNTHETIC_ARMS for a in arms):
        check_gligen_device(settings, device, images_per_run, seeds)
    for note in ([substituted] if substituted else []) + list(scale.warnings):
        warnings.warn(note, stacklevel=2)
    return Derivation(settings, device, detector, substituted, splits, profile, scale, detector_cfg, num_real, seeds,
                      arms)


def check_gligen_device(settings: InitSettings, device: str, num_real: list[int], seeds: list[int]) -> None:
    """Refuse GLIGEN generators on a CPU, where an image takes about half a minute, with the estimate,
    unless ``settings.allow_cpu_gligen``: planned without a word, a sweep would run for hours."""
    gligen = [g for g in settings.generators if g in GLIGEN_BASES]
    if device != 'cpu' or not gligen or settings.allow_cpu_gligen:
        return
    images = {g: len(seeds) * sum(Generator(g, f'configs/generation_{g}.py', IMAGES_PER_REAL[device]).num_images(n)
                                  for n in num_real) for g in gligen}
    hours = {kind: sum(ComputeEstimate(ESTIMATES[kind]).generation(g, k) for g, k in images.items()) / 3600
             for kind in DEVICES}
    raise ValueError(
        f"{' and '.join(gligen)} on a CPU: generating {sum(images.values())} images ({IMAGES_PER_REAL[device]} per "
        f"real image, N={', '.join(map(str, num_real))} x {len(seeds)} seed{'s' * (len(seeds) > 1)}) takes about "
        f"{hours['cpu']:.1f} CPU hours at the CPU recipe's rates (about {hours['gpu']:.1f} h on a GPU). Fix: run it on "
        'a machine with CUDA (--device gpu), generate with --generator copy-paste, or pass --allow-cpu-gligen to '
        'generate on this CPU anyway')


def training_images(counts: dict[str, int]) -> int:
    """Real training images the runs can draw from with the default split, from counts alone (such as
    ``data_profile.json``'s ``splits_found``): within an image or so per class of the data stage's count,
    which :func:`derive` takes from the data itself."""
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


def init_experiment(settings: InitSettings, out: str | Path, derivation: Derivation | None = None) -> Path:
    """Write the experiment folder (see the module docstring); returns ``OUT/experiment.py``.
    ``derivation``: :func:`derive` of ``settings``, where the caller checked them already (before
    taking a lock, say)."""
    out = Path(out).resolve()
    check_experiment_folder(out)
    d = derivation or derive(settings)
    device, profile, scale, det_cfg = d.device, d.profile, d.scale, d.detector_cfg
    classes = list(profile.classes)

    if not is_experiment_folder(out):  # ours before any file is: a rerun after a kill here finds it so
        atomic_write_json(out / WRITTEN, {})
    configs = out / 'configs'
    configs.mkdir(parents=True, exist_ok=True)
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

    derived = dict(device=device, detector=d.detector, classes=classes, profile=profile.as_dict(),
                   input_scale=scale.as_dict(), generation=derived_generation,
                   warnings=[*([d.substituted] if d.substituted else []), *scale.warnings, *generation_warnings],
                   splits_found=d.counts)
    experiment = dict(
        name=settings.name or out.name,
        data=dict(source=str(Path(settings.source).resolve()), format=settings.format, classes=settings.classes,
                  split=dict(DEFAULT_SPLIT), image_mode='copy', val_images=VAL_IMAGES[device], test_images=None,
                  on_bad_image=settings.on_bad_image, allow_outside_root=settings.allow_outside_root),
        detector=str(det_path),
        num_real=d.num_real,
        seeds=d.seeds,
        arms=d.arms,
        generators=generators,
        filters={'none': None},
        # used once a PR filter is added above, e.g. 'pr': dict(type='pr', min_precision=0.01, min_recall=0.5);
        # thresholds as measured by benchmarks/filter_auc.py with this recipe's detector
        filter_detector=dict(config=str(det_path), score_thr=DEFAULT_SCORE_THR, iou_thr=DEFAULT_IOU_THR,
                             class_aware=False),
        schedules=SCHEDULES[device],
        cfg_options=CPU_LOADERS if device == 'cpu' else {},
        # where the dry run's hours come from (a basis the recipe gives its rates replaces this one)
        estimate={'basis': f"the {device.upper()} recipe's, mmgen_det/recipes/schedules.py", **ESTIMATES[device]},
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


#: options that change no file of the folder, only what a run is allowed to do: a rerun may add or drop them
#: (the folder's INIT_ARGS records them as it was written)
PERMISSIONS = ('allow_cpu_gligen',)


def check_folder(settings: InitSettings, out: str | Path, reinit: bool = False) -> None:
    """Refuse to write ``settings``' experiment into ``out``, before anything is read: a folder
    :func:`init_experiment` did not make (:func:`check_experiment_folder`), or, unless ``reinit``, one
    it made with other options (:class:`OtherOptionsError`)."""
    out = Path(out)
    check_experiment_folder(out)
    made_with = out / INIT_ARGS
    if not made_with.is_file() or reinit:
        return
    # options added since the folder was made count as their defaults
    defaults = {f.name: f.default for f in fields(InitSettings) if f.default is not MISSING}
    old = {**json.loads(json.dumps(defaults)), **json.loads(made_with.read_text())}
    new = json.loads(json.dumps(settings.as_dict()))
    changed = sorted(k for k in old if old[k] != new.get(k) and k not in PERMISSIONS)
    if changed:
        raise OtherOptionsError(f'{out} was initialised with other options ({", ".join(changed)}); pass '
                                '--reinit to rewrite its configs, or choose another --work-dir')


def reuse_or_init(settings: InitSettings, out: str | Path, reinit: bool = False,
                  derivation: Derivation | None = None) -> tuple[Path, str]:
    """The experiment folder for ``settings`` in ``out`` and a line saying what was done.

    A folder made with other options is refused (:class:`OtherOptionsError`) unless ``reinit``. One
    made with the same options is derived again from the data unless the user edited it, so a folder
    written by an older recipe follows the installed one; stages whose inputs did not change stay
    cached. An edited folder is kept as it is (the edits are the user's experiment) and the line names
    the edited files. ``derivation``: as for :func:`init_experiment`."""
    out = Path(out)
    check_folder(settings, out, reinit)
    if (out / INIT_ARGS).is_file() and not reinit:
        edited = edited_files(out)
        if edited is None or edited:
            what = 'written before edits could be told apart' if edited is None else f'edited: {", ".join(edited)}'
            return out / 'experiment.py', (f'reusing {out / "experiment.py"} as it is ({what}); --reinit derives '
                                           'it again with the installed recipe')
        path = init_experiment(settings, out, derivation)
        return path, (f'reusing {out} (made from the same options), derived again from the data with the installed '
                      'recipe; unchanged stages stay cached')
    path = init_experiment(settings, out, derivation)
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
    from ..utils.command_line import class_names, num_real
    parser.add_argument(*data_flag, help='the dataset: a YOLO yaml or folder, a VOC folder, a COCO json or folder')
    parser.add_argument('--format', default='auto', choices=FORMAT_CHOICES)
    parser.add_argument('--classes', type=class_names,
                        help='class names in label order, for a YOLO folder without a yaml or classes.txt')
    parser.add_argument('--on-bad-image', choices=ON_BAD_IMAGE, default='fail',
                        help='an image OpenCV (what training reads with) cannot decode: stop naming it, or skip it '
                             'with its boxes (counted in the conversion report)')
    parser.add_argument('--allow-outside-root', action='store_true',
                        help='let image paths and links of the dataset point outside its folder')
    parser.add_argument('--detector', choices=sorted(DETECTORS),
                        help=f"default: {DEFAULT_DETECTOR['cpu']} on a CPU; on a GPU {DEFAULT_DETECTOR['gpu']} when its "
                             f"ImageNet ResNet-50 checkpoint is there (docs/reference_study_gpu.md), else "
                             f"{GPU_FALLBACK_DETECTOR}")
    parser.add_argument('--generator', nargs='+', default=['copy-paste'], choices=GENERATORS, dest='generators')
    parser.add_argument('--num-real', nargs='+', type=num_real,
                        help="real training images per run: ints and/or 'all' (default: 50 on a CPU; "
                             "10 50 100 300 all on a GPU)")
    parser.add_argument('--seeds', nargs='+', type=int, help='default: 0 on a CPU, 0 1 2 on a GPU')
    parser.add_argument('--arms', nargs='+', choices=ARMS, help=f'default: {" ".join(DEFAULT_ARMS)}')
    parser.add_argument('--device', choices=DEVICES, help='the recipe to derive (default: gpu when CUDA is '
                        'available)')
    parser.add_argument('--allow-cpu-gligen', action='store_true',
                        help='generate with GLIGEN on a CPU (refused otherwise: hours of generation; the refusal '
                             'gives the estimate)')


def settings_from_args(args) -> InitSettings:
    return InitSettings(source=args.data, format=args.format, classes=args.classes, detector=args.detector,
                        generators=args.generators, num_real=args.num_real, seeds=args.seeds, arms=args.arms,
                        device=args.device, on_bad_image=args.on_bad_image,
                        allow_outside_root=args.allow_outside_root, allow_cpu_gligen=args.allow_cpu_gligen)
