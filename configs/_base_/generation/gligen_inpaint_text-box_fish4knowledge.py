# Train on the real Fish4Knowledge scenes with GLIGEN fish generated into them (GPU): the real frames are
# emptied of their labelled fish (per-camera median, else the boxes inpainted) and an inpainting GLIGEN
# draws a fish in each layout box; outside the boxes the pixels are the real background's.
# Layouts are zoomed real layouts in the frames' 16:9 aspect; a layout copied from a frame gets that
# camera's background cut at the same zoom window, so fish keep the scene's scale. The model works on
# its 512x512 square: the 512x288 frame is centred in it, the rest filled with its mirror image and cut
# off after decoding (boxes stay exact). Use 'anhnct/Gligen_Inpainting_Text_Image' with
# grounding='text-image' and `crops` (see gligen_text-image_fish4knowledge.py) for image grounding.
_base_ = ['./gligen_text-box_fish4knowledge.py']

synthetic_root = 'work_dirs/synthetic/gligen-inpaint-text-box_fish4knowledge/'
train_dataloader = dict(
    dataset=dict(
        data_root=synthetic_root,
        generation=dict(
            layout=dict(width=512, height=288),
            generator=dict(
                model='masterful/gligen-1-4-inpainting-text-box',  # hub id or a local directory
                background='inpaint',
                ann_file={{_base_.real_ann_file}},  # the backgrounds come from these real frames only
                img_root={{_base_.real_data_root}},
                background_method='auto',
                scheduled_sampling_beta=1.0))))  # grounded at every step, as GLIGEN's inpainting examples
