# Train on GLIGEN text-box images generated from the real Fish4Knowledge training layouts (GPU).
# Layouts are zoomed real layouts at 512x512 (most fish are 1-3 latent cells at the frames' own scale,
# too small for GLIGEN to draw); validation and test stay on the real splits.
# Which species each Fish4Knowledge id ('0', '1', ...) is, is not documented in the export, so every
# class is grounded with the phrase 'a fish': text grounding then cannot tell the species apart
# (a warning says so). Give species phrases if you know them, or use image grounding
# (gligen_text-image_fish4knowledge.py), whose same-class crops keep class identity.
_base_ = ['./copy-paste_fish4knowledge.py']

synthetic_root = 'work_dirs/synthetic/gligen-text-box_fish4knowledge/'
phrases = {name: 'a fish' for name in ('0', '1', '2', '5', '6', '7', '8')}
train_dataloader = dict(
    dataset=dict(
        data_root=synthetic_root,
        generation=dict(
            batch_size=8,  # layouts denoised together: lower it if the GPU runs out of memory
            layout=dict(_delete_=True, ann_file={{_base_.real_ann_file}}, strategy='jitter', width=512,
                        height=512, zoom=(1.5, 3.0), min_box_cells=2, min_boxes=1),
            generator=dict(
                _delete_=True,
                type='gligen',
                model='masterful/gligen-1-4-generation-text-box',  # hub id or a local directory
                grounding='text-box',
                prompt='an underwater photo of {phrases} on a coral reef',
                phrases=phrases,
                negative_prompt='blurry, distorted, cartoon, text, watermark',
                num_inference_steps=50,
                guidance_scale=7.5,
                scheduled_sampling_beta=0.3,
                scheduler='DDIMScheduler',
                device='auto'))))  # cuda + float16 when a GPU is present, else cpu + float32
