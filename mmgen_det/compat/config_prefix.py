"""``_base_ = 'mmgen_det::_base_/models/...'``: our shipped configs by package prefix, as ``mmdet::``.

mmengine 0.10.7 resolves ``package::path`` to ``<installed package>/.mim/configs/path``, but only for
the packages named in its fixed ``MODULE2PACKAGE`` table, and it finds the installed package through the
distribution's location, which under a PEP 660 editable install (``pip install -e .``, ``make
install``) is site-packages, where no ``mmgen_det/`` folder exists. :func:`register_config_prefix`
adds ``mmgen_det`` to the table; :func:`editable_installed_path` falls back to where Python imports the
package from when that location holds no such folder. Configs are parsed before their
``custom_imports`` run, so the prefix resolves in processes that imported mmgen_det first: our commands
(``mmgen-det-train``, ``tools/train.py``, ``mmgen-det-run``) and any script that does.
"""
from __future__ import annotations

import importlib.util
import os


def register_config_prefix() -> None:
    """``mmgen_det::`` becomes a known config prefix (configs under ``mmgen_det/.mim/configs``)."""
    from mmengine.config import utils as config_utils
    config_utils.MODULE2PACKAGE.setdefault('mmgen_det', 'mmgen_det')


def editable_installed_path() -> None:
    """mmengine's ``get_installed_path`` as used by its config parser, right for editable installs."""
    from mmengine.config import config as config_module
    upstream = config_module.get_installed_path

    def get_installed_path(package: str) -> str:
        path = upstream(package)
        if not os.path.isdir(path):
            spec = importlib.util.find_spec(package)
            if spec is not None and spec.submodule_search_locations:
                return list(spec.submodule_search_locations)[0]
        return path

    config_module.get_installed_path = get_installed_path
