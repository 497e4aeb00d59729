"""``mmgen_det::`` config paths resolve in this (editable) install, as in an installed wheel
(tests/test_packaging/test_installed_wheel.py)."""
from __future__ import annotations

import mmgen_det  # noqa: F401  applies the patches
from mmengine.config import Config

from mmgen_det.recipes import CONFIGS


def test_a_user_config_inherits_our_base_and_mmdets(tmp_path):
    user = tmp_path / 'my_detector.py'
    user.write_text("_base_ = ['mmgen_det::_base_/models/fcos_efficientnet-lite0_fpn_frozen-imagenet.py',\n"
                    "          'mmdet::_base_/default_runtime.py']\n"
                    "model = dict(bbox_head=dict(num_classes=3))\n")
    cfg = Config.fromfile(str(user))
    assert cfg.model.backbone.type == 'EfficientNetLite' and cfg.model.bbox_head.num_classes == 3
    assert cfg.default_scope == 'mmdet'


def test_the_shipped_configs_are_the_checkouts():
    """In a checkout the package's configs are the repository's configs/, not a copy that could go stale."""
    assert CONFIGS.resolve() == (CONFIGS.parents[2] / 'configs').resolve()
