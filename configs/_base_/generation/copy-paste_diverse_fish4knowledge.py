# The copy-paste set of copy-paste_fish4knowledge.py, with appearances the real crops lack: each pasted
# fish gets its own brightness, contrast and saturation (ranges measured on the real crops: 'auto'),
# gamma, sometimes a Gaussian or motion blur, a scale factor, sometimes a cut at the image border, and
# one of four blends; each background gets a small colour shift (Cut, Paste and Learn, ICCV 2017;
# Simple Copy-Paste, CVPR 2021). Its own folder: a set is never mixed with one made otherwise.
# Left off: hue (species differ by colour) and rotation (Fish4Knowledge boxes have no masks, so a
# rotated crop is a rotated rectangle of fish and water, and its box is loose: 50% taller for a 3:1
# fish turned 10 degrees). The settings: docs/generation.md#appearance-diversity.
_base_ = ['./copy-paste_fish4knowledge.py']

synthetic_root = 'work_dirs/synthetic/copy-paste-diverse_fish4knowledge/'
train_dataloader = dict(
    dataset=dict(
        data_root=synthetic_root,
        generation=dict(
            generator=dict(
                blend=['none', 'gaussian', 'poisson', 'motion'],  # one drawn per paste
                appearance=dict(
                    colour=dict(brightness='auto', contrast='auto', saturation='auto', gamma=0.2),
                    blur=0.2, blur_sigma=(0.5, 1.2),
                    motion_blur=0.1, motion_blur_length=(3, 5),
                    scale=(0.8, 1.25),
                    truncation=0.1, min_visible=0.5,
                    background=dict(brightness=0.1, contrast=0.1, saturation=0.1, gamma=0.1))))))
