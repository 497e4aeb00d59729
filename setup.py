"""Install with `make install` (it builds mmcv's ops in the right order), or `pip install -e .` once
torch 2.13.0, setuptools<82 and mmcv 2.1.0 with ops are installed."""
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


setup(
    name='mmgen_det',
    version=read_version(),
    description='Train MMDetection detectors from a few real images plus GLIGEN-generated ones',
    long_description=(HERE / 'README.md').read_text(encoding='utf-8'),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['mmgen_det', 'mmgen_det.*']),
    package_data={'mmgen_det.visualization': ['gallery_page/*']},  # the gallery's page files
    python_requires='>=3.10',
    install_requires=read_requirements('build.txt', 'mmcv.txt', 'runtime.txt'),
    extras_require={'tests': read_requirements('tests.txt')},
    license='Apache-2.0',
)
