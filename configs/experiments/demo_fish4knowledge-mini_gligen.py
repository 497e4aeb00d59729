# `make demo GENERATOR=gligen`: the demo with GLIGEN text-box images instead of copy-paste. Needs a GPU
# and the GLIGEN weights (hub id `masterful/gligen-1-4-generation-text-box`, or a local directory set in
# configs/_base_/generation/gligen_text-box_fish4knowledge.py).
_base_ = ['./demo_fish4knowledge-mini.py']

name = 'demo_fish4knowledge-mini_gligen'
generators = {
    '_delete_': True,
    'gligen-text': dict(config='configs/_base_/generation/gligen_text-box_fish4knowledge.py', images_per_real=8),
}
# One GPU (seconds); only --dry-run uses these.
estimate = dict(device='GPU', seconds_per_iter=0.15, seconds_per_eval_image=0.03,
                seconds_per_generated_image={'gligen-text': 2.0})
