"""Write an experiment folder for your dataset: configs derived from the data, nothing written by hand.

    mmgen-det-init PATH --out DIR [--format auto] [--classes a,b,c] [--detector NAME]
        [--generator copy-paste gligen-text ...] [--num-real 50 100 all] [--seeds 0 1] [--device cpu|gpu]
        [--allow-cpu-gligen]             # GLIGEN on a CPU is refused without it (the refusal gives the hours)
    mmgen-det-run DIR/experiment.py        # then run it (or edit it first)

PATH is a YOLO export (its yaml, or a folder with one yaml, or images/+labels/), a Pascal VOC folder or
a COCO json / folder. DIR gets experiment.py, configs/detector.py, configs/generation_<name>.py and
data_profile.json (classes, frame and object sizes, and the input scale, crop, canvas and phrases
derived from them). `mmgen-det-run --data PATH` does this and runs the result in one step. In a
checkout, ``python tools/init_experiment.py`` is the same command.

DIR must be empty, new, or a folder this command made: a folder holding someone's files is refused.
Every option is checked against the data before anything is written: a refused command writes nothing.
On its own folder a rerun with the same options derives it again, keeping the files you edited; one
with other options is refused unless ``--reinit``, which rewrites it.
"""
from __future__ import annotations

import sys

import mmgen_det  # noqa: F401  (first: silences mmengine's pkg_resources warning)


def main(argv=None) -> None:
    from mmgen_det.utils.command_line import ArgumentParser
    from mmgen_det.experiments.init import add_arguments, reuse_or_init, settings_from_args
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser, ['data'])
    parser.add_argument('--out', required=True,
                        help='the experiment folder to write: empty, new, or one this command made')
    parser.add_argument('--reinit', action='store_true',
                        help='rewrite a folder this command made, even with other options or edited files')
    args = parser.parse_args(argv)
    try:
        path, done = reuse_or_init(settings_from_args(args), args.out, args.reinit)
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f'init_experiment: {e}')
    print(f'init_experiment: {done}; run it with\n'
          f'  mmgen-det-run {path}     (in a checkout: python tools/run_experiment.py {path})')


if __name__ == '__main__':
    main()
