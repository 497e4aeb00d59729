"""Install with `make install` (it builds mmcv's ops in the right order), or `pip install -e .` / `pip
install .` / a wheel once torch 2.13.0, setuptools<82 and mmcv 2.1.0 with ops are installed.

The configs ship inside the package as ``mmgen_det/.mim/configs`` (OpenMMLab's convention, a link to
the checkout's ``configs/``), so an installed wheel finds its bases and ``mmgen_det::`` resolves."""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def read_requirements(*names: str) -> list[str]:
    lines = []
    for name in names:
        for line in (HERE / 'requirements' / name).read_text().splitlines():
            line = line.split('#', 1)[0].strip()
            if line and not line.startswith(('wheel', )):
                lines.append(line)
    return lines


def read_version() -> str:
    """``mmgen_det/version.py``'s ``__version__``, without importing the package (torch, mmdet)."""
    namespace: dict = {}
    exec((HERE / 'mmgen_det' / 'version.py').read_text(), namespace)
    return namespace['__version__']


#: console script -> module of mmgen_det.cli (each has ``main(argv=None)``)
COMMANDS = {
    'mmgen-det-run': 'run_experiment',
    'mmgen-det-init': 'init_experiment',
    'mmgen-det-convert': 'convert_dataset',
    'mmgen-det-subset': 'make_subset',
    'mmgen-det-generate': 'generate',
    'mmgen-det-pr-filter': 'pr_filter',
    'mmgen-det-feature-distance': 'feature_distance',
    'mmgen-det-browse': 'browse_synthetic',
    'mmgen-det-train': 'train',
    'mmgen-det-test': 'test',
}

setup(
    name='mmgen_det',
    version=read_version(),
    description='Train MMDetection detectors from a few real images plus GLIGEN-generated ones',
    long_description=(HERE / 'README.md').read_text(encoding='utf-8'),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['mmgen_det', 'mmgen_det.*']),
    package_data={'mmgen_det': ['.mim/configs/**/*.py', '.mim/model-index.yml'],  # bases, for mmgen_det::
                  'mmgen_det.visualization': ['gallery_page/*']},  # the gallery's page files
    entry_points={'console_scripts': [f'{name} = mmgen_det.cli.{module}:main' for name, module in COMMANDS.items()]},
    python_requires='>=3.10',
    install_requires=read_requirements('build.txt', 'mmcv.txt', 'runtime.txt'),
    extras_require={'tests': read_requirements('tests.txt')},
    license='Apache-2.0',
)
