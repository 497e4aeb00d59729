"""mmdet 3.3.0's SSDHead trains but cannot predict (mmdet #11063/#11780); ``FixedSSDHead``
(mmgen_det/compat/ssd_predict.py) trains identically, predicts, and keeps SSDHead's parameters."""
from __future__ import annotations

import pytest
import torch
from helpers import REPO
from mmengine.config import Config

SSDLITE = REPO / 'configs' / '_base_' / 'models' / 'ssdlite_mobilenetv2.py'


def ssdlite(head_type: str) -> torch.nn.Module:
    """The family's SSDLite model with the given head class, seeded so both heads start equal."""
    import mmgen_det  # noqa: F401  registers FixedSSDHead
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules()  # mmdet's modules, default scope 'mmdet'
    cfg = Config.fromfile(SSDLITE)
    cfg.model.bbox_head.update(type=head_type, num_classes=7)  # the model base takes its classes from the data
    torch.manual_seed(0)
    return MODELS.build(cfg.model)


def tiny_batch(model: torch.nn.Module, training: bool) -> dict:
    from mmdet.testing import demo_mm_inputs
    packed = demo_mm_inputs(batch_size=2, image_shapes=[(3, 96, 160)] * 2, num_items=[3, 2], num_classes=7)
    return model.data_preprocessor(packed, training)


def test_stock_ssd_head_cannot_predict():
    model = ssdlite('SSDHead').eval()
    with torch.no_grad(), pytest.raises(AttributeError, match="'SSDHead' object has no attribute 'loss_cls'"):
        model(**tiny_batch(model, False), mode='predict')


def test_fixed_head_predicts():
    model = ssdlite('FixedSSDHead').eval()
    with torch.no_grad():
        results = model(**tiny_batch(model, False), mode='predict')
    assert len(results) == 2
    for result in results:
        pred = result.pred_instances
        assert pred.bboxes.shape == (len(pred), 4) and 0 < len(pred) <= 200
        assert pred.labels.max() < 7  # softmax over the 7 classes, background column dropped
        assert ((pred.scores >= 0.02) & (pred.scores <= 1)).all()


def test_fixed_head_trains_like_ssd_head_and_shares_its_weights():
    stock, fixed = ssdlite('SSDHead').train(), ssdlite('FixedSSDHead').train()
    assert stock.state_dict().keys() == fixed.state_dict().keys()
    fixed.load_state_dict(stock.state_dict(), strict=True)
    torch.manual_seed(1)
    stock_losses = stock(**tiny_batch(stock, True), mode='loss')
    torch.manual_seed(1)
    fixed_losses = fixed(**tiny_batch(fixed, True), mode='loss')
    for key in ('loss_cls', 'loss_bbox'):
        assert torch.allclose(sum(stock_losses[key]), sum(fixed_losses[key]))
    sum(sum(v) for v in fixed_losses.values()).backward()
    assert fixed.bbox_head.cls_convs[0][-1].weight.grad is not None
