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

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(dataset=dict(data_root=data_root, metainfo=metainfo, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_root=data_root, metainfo=metainfo, pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(data_root=data_root, metainfo=metainfo, pipeline=test_pipeline))
val_evaluator = dict(ann_file=data_root + 'annotations/val.json')
test_evaluator = dict(ann_file=data_root + 'annotations/test.json')
