"""Write an experiment folder for your dataset: configs derived from the data, nothing written by hand.

    mmgen-det-init PATH --out DIR [--format auto] [--classes a,b,c] [--detector NAME]
        [--generator copy-paste gligen-text ...] [--num-real 50 100 all] [--seeds 0 1] [--device cpu|gpu]
    mmgen-det-run DIR/experiment.py        # then run it (or edit it first)

PATH is a YOLO export (its yaml, or a folder with one yaml, or images/+labels/), a Pascal VOC folder or
a COCO json / folder. DIR gets experiment.py, configs/detector.py, configs/generation_<name>.py and
data_profile.json (classes, frame and object sizes, and the input scale, crop, canvas and phrases
derived from them). `mmgen-det-run --data PATH` does this and runs the result in one step. In a
checkout, ``python tools/init_experiment.py`` is the same command.
"""
from __future__ import annotations

import argparse
import sys

import mmgen_det  # noqa: F401  (first: silences mmengine's pkg_resources warning)


def main(argv=None) -> None:
    from mmgen_det.experiments.init import add_arguments, init_experiment, settings_from_args
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser, ['data'])
    parser.add_argument('--out', required=True, help='the experiment folder to write')
    args = parser.parse_args(argv)
    try:
        path = init_experiment(settings_from_args(args), args.out)
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f'init_experiment: {e}')
    print(f'init_experiment: wrote {path} (and configs/, data_profile.json); run it with\n'
          f'  mmgen-det-run {path}     (in a checkout: python tools/run_experiment.py {path})')


if __name__ == '__main__':
    main()
