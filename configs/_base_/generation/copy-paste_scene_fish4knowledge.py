# The copy-paste set of copy-paste_fish4knowledge.py, pasted into real frames as they are: each image is a
# real training frame (never the one its layout was copied from) with its labelled fish kept as
# annotations and the layout's fish pasted on top; a frame fish left less than half visible loses its
# box, one covered on a side has that side moved (Simple Copy-Paste, CVPR 2021). The scene around the
# objects stays real, which empty medians, inpainted frames and free crops of crowded photos are not.
# Its own folder: a set is never mixed with one made otherwise. docs/generation.md#scene-backgrounds.
_base_ = ['./copy-paste_fish4knowledge.py']

synthetic_root = 'work_dirs/synthetic/copy-paste-scene_fish4knowledge/'
train_dataloader = dict(
    dataset=dict(
        data_root=synthetic_root,
        generation=dict(generator=dict(background='scene', scene_min_visible=0.5))))
