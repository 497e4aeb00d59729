"""``FixedSSDHead``: mmdet 3.3.0's ``SSDHead`` that can also predict (validation, test, inference).

The bug (mmdet issues #11063, #11780; fix PR #11524 not merged as of 3.3.0): ``SSDHead.__init__``
skips ``AnchorHead.__init__`` (``super(AnchorHead, self).__init__``) because SSD computes its
hard-negative-mined softmax cross-entropy inline in ``loss_by_feat_single``, so it never builds
``self.loss_cls``. Training therefore works. But ``BaseDenseHead._predict_by_feat_single`` (shared by
all dense heads) asks ``getattr(self.loss_cls, 'custom_cls_channels', False)`` to support V3Det's
custom-activation losses; the ``getattr`` default covers a loss without that attribute, not a head
without ``loss_cls``, so the first validation raises
``AttributeError: 'SSDHead' object has no attribute 'loss_cls'``.

The fix: a subclass registered under a new name whose ``loss_cls`` is ``None`` — SSD has no loss
module, and ``None`` makes the predict path fall through to ``use_sigmoid_cls`` (False) -> softmax
over the classes without background, which is what SSD's softmax head needs. A subclass (instead
of patching ``SSDHead``) leaves mmdet's own class untouched for other code and shows the fix in the
config (``type='FixedSSDHead'``); it adds no parameters, so its checkpoints load into ``SSDHead``.

Remove when mmdet's ``SSDHead`` sets ``loss_cls`` (mmdet > 3.3.0 with PR #11524 or equivalent),
and switch configs back to ``type='SSDHead'``.
"""
from __future__ import annotations

from mmdet.models.dense_heads import SSDHead
from mmdet.registry import MODELS


@MODELS.register_module()
class FixedSSDHead(SSDHead):
    """``SSDHead`` with the ``loss_cls`` attribute that ``BaseDenseHead``'s predict path reads."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.loss_cls = None  # SSD's classification loss is computed inline; there is no module
