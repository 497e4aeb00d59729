"""report.html: the markdown report rendered (tables, plots, escaped text) with a gallery per generated set."""
from __future__ import annotations

import json
import re

from gallery_sets import NUM_IMAGES, build_scored_set

from mmgen_det.experiments.report_html import write_report_html
from mmgen_det.experiments.runner import StageResult

REPORT_MD = '''# Experiment `demo`

| N | arm | mAP [95% interval over test images and seeds] |
|---:|---|---:|
| 12 | real-only | 0.100 [0.080, 0.120] |
| 12 | mixed | 0.200 [0.150, 0.250] |

![mAP vs N](map_vs_n.png)
*error bars: from the lowest to the highest seed (3 seeds)*

```json
{"note": "<b>not html</b>"}
```
'''


def test_report_html_renders_the_report_and_links_each_generated_set(fish_coco, tmp_path):
    work = tmp_path / 'work'
    generated = work / 'stages' / 'generate' / 'N12_s0_copy-paste-0123abcd'
    build_scored_set(generated / 'set', fish_coco)
    data_dir = work / 'stages' / 'data' / 'fish-0000'
    data_dir.mkdir(parents=True)
    (data_dir / 'coco').symlink_to(fish_coco)
    results = [StageResult('data', 'k0', data_dir, 'cached', {}),
               StageResult('generate', 'k1', generated, 'ran', dict(generator='copy-paste', num_images=NUM_IMAGES)),
               StageResult('generate', 'k2', work / 'stages' / 'generate' / 'planned', 'to run', {})]
    page = write_report_html(work, 'demo', REPORT_MD, results).read_text()

    rows = re.findall(r'<tr>\s*<td style="text-align:right">12</td>', page)
    assert len(rows) == 2 and '<td style="text-align:right">0.200 [0.150, 0.250]</td>' in page
    assert '<th style="text-align:right">mAP [95% interval over test images and seeds]</th>' in page
    assert '<img src="map_vs_n.png" alt="mAP vs N"' in page
    assert '<em>error bars: from the lowest to the highest seed (3 seeds)</em>' in page  # the plot's caption
    assert '&lt;b&gt;not html&lt;/b&gt;' in page and '<b>not html' not in page
    links = re.findall(r'<a href="([^"]+)">copy-paste: N12_s0_copy-paste-0123abcd \(12 images\)</a>', page)
    assert links == ['stages/generate/N12_s0_copy-paste-0123abcd/gallery/index.html']
    gallery = work / links[0]
    assert gallery.is_file()
    data = json.loads((gallery.parent / 'data.js').read_text().split('=', 1)[1].rstrip(';\n'))
    assert data['real']['root'] == str(fish_coco.resolve())  # the run's converted real data
    assert len(data['images']) == NUM_IMAGES
