# Real Fish4Knowledge frames in COCO form, made by
#   python tools/convert_dataset.py PATH/TO/fish4knowledge --out data/fish4knowledge-coco
# Frames are about 360x202 and most fish are under 16 px, so images are upscaled 2x: at the original
# scale most boxes would be smaller than one stride-8 cell.
_base_ = './real_coco.py'

data_root = 'data/fish4knowledge-coco/'
classes = ('0', '1', '2', '5', '6', '7', '8')
num_classes = len(classes)  # every config's heads: num_classes={{_base_.num_classes}}
metainfo = dict(classes=classes)
img_scale = (720, 404)

# real_coco.py's pipelines, resized to `img_scale` (mmengine merges lists whole, so a scale is set by
# rebuilding them from the base's; a child config at another scale does the same with its own img_scale)
train_pipeline = [dict(step, scale=img_scale) if step.type == 'Resize' else step for step in _base_.train_pipeline]
test_pipeline = [dict(step, scale=img_scale) if step.type == 'Resize' else step for step in _base_.test_pipeline]
train_dataloader = dict(dataset=dict(data_root=data_root, metainfo=metainfo, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_root=data_root, metainfo=metainfo, pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(data_root=data_root, metainfo=metainfo, pipeline=test_pipeline))
val_evaluator = dict(ann_file=data_root + 'annotations/val.json')
test_evaluator = dict(ann_file=data_root + 'annotations/test.json')
