# GLIGEN text+image grounding: each box is grounded with its phrase AND a crop of a real object of the
# same class from the real training subset, which keeps species identity that the shared phrase
# 'a fish' cannot. Use grounding='image' for image-only grounding.
_base_ = ['./gligen_text-box_fish4knowledge.py']

synthetic_root = 'work_dirs/synthetic/gligen-text-image_fish4knowledge/'
train_dataloader = dict(
    dataset=dict(
        data_root=synthetic_root,
        generation=dict(
            generator=dict(
                model='anhnct/Gligen_Text_Image',
                grounding='text-image',
                min_crop_size=16,
                crops=dict(ann_file_or_dict={{_base_.real_ann_file}}, img_root={{_base_.real_data_root}},
                           min_size=16)))))
