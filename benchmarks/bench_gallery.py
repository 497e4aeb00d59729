"""Gallery: how long ``browse_synthetic.py --html`` takes per 1,000 images, and how the page copes with 10,000.

A copy-paste set of ``--num-images`` 512x512 images is generated from the shipped Fish4Knowledge
sample (not timed) and given random stored PR scores. Measured, in this process (interpreter start
and imports excluded; they are a constant of about 5 s on an idle machine):

* the first build (every thumbnail and crop made, ``--workers`` processes) and a rebuild (all
  thumbnails there: the scores are re-read and the page rewritten), per 1,000 images;
* with Chromium available, the page with ``--page-images`` images (the set's entries repeated under
  new ids): time to load and render, and time for one threshold change (counts, greyed cards,
  filter_cfg) measured inside the page.

Target: the first build <= 60 s per 1,000 images on 2 cores.
"""
from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, finish, machine, not_measured, parser, result, row, versions  # noqa: E402

FISH = REPO / 'data' / 'fish4knowledge-mini'
TARGET_S_PER_1000 = 60.0
PR_KEY = 'bench_s0.05_i0.3_agnostic'


def make_set(tmp: Path, num_images: int) -> Path:
    """A scored copy-paste set of ``num_images`` 512x512 images."""
    from mmgen_det.datasets import convert_dataset
    from mmgen_det.generation import generate_synthetic_set
    real = tmp / 'fish-coco'
    convert_dataset(FISH, 'yolo', real)
    ann = str(real / 'annotations' / 'train.json')
    out = tmp / 'set'
    generate_synthetic_set(dict(out_dir=str(out), num_images=num_images, seed=0, batch_size=16,
                                layout=dict(ann_file=ann, strategy='jitter', width=512, height=512, min_box_cells=0.5),
                                generator=dict(type='copy_paste', ann_file=ann, img_root=str(real))), progress=False)
    coco = json.loads((out / 'annotations.json').read_text())
    rng = random.Random(0)
    for im in coco['images']:
        im['pr_filter'] = {PR_KEY: dict(precision=rng.random(), recall=rng.random(), num_detections=2, num_matched=1,
                                        num_boxes=1, matches=[[0, 0.9, 0.7]])}
    (out / 'annotations.json').write_text(json.dumps(coco))
    return out


def timed_build(set_dir: Path, out: Path, workers: int) -> float:
    from mmgen_det.visualization.gallery import build_gallery
    start = time.perf_counter()
    build_gallery(set_dir, out, workers=workers, progress=False)
    return time.perf_counter() - start


def big_page(gallery: Path, num_images: int) -> Path:
    """The gallery's page with its images repeated to ``num_images`` (same thumbnails, new ids)."""
    from mmgen_det.visualization.gallery import write_page
    text = (gallery / 'data.js').read_text()
    data = json.loads(text[text.index('=') + 1:].rstrip().rstrip(';'))
    base = data['images']
    data['images'] = [dict(base[i % len(base)], id=i) for i in range(num_images)]
    write_page(gallery, data)
    return gallery / 'index.html'


def page_timings(index: Path) -> dict[str, Any]:
    from mmgen_det.testing.browser import headless_chromium
    with headless_chromium() as driver:
        start = time.perf_counter()
        driver.get(index.as_uri())  # returns after the load event: scripts ran, first page rendered
        load_s = time.perf_counter() - start
        change_ms = driver.execute_script('''
            const box = document.getElementById('min-precision');
            box.value = '0.37';
            const t = performance.now();
            box.dispatchEvent(new Event('input'));
            return performance.now() - t;''')
        kept = int(driver.find_element('id', 'kept-images').get_attribute('data-count'))
        errors = [e for e in driver.get_log('browser') if e['level'] == 'SEVERE']
    return dict(load_s=round(load_s, 3), threshold_change_ms=round(change_ms, 1), kept_at_0_37=kept,
                console_errors=len(errors))


def main(argv=None) -> dict[str, Any]:
    p = parser(__doc__)
    p.add_argument('--num-images', type=int, default=None, help='images in the set (default 1000; --quick 100)')
    p.add_argument('--page-images', type=int, default=10_000, help='images on the page-responsiveness check')
    p.add_argument('--workers', type=int, default=2)
    args = p.parse_args(argv)
    num = args.num_images or (100 if args.quick else 1000)
    with tempfile.TemporaryDirectory(prefix='mmgen_det_bench_gallery_') as tmp:
        tmp = Path(tmp)
        set_dir = make_set(tmp, num)
        first = timed_build(set_dir, tmp / 'gallery', args.workers)
        again = timed_build(set_dir, tmp / 'gallery', args.workers)
        size_mib = sum(f.stat().st_size for f in (tmp / 'gallery').rglob('*') if f.is_file()) / 2 ** 20
        per_1000, again_1000 = 1000 * first / num, 1000 * again / num
        measurements: dict[str, Any] = dict(num_images=num, first_build_s=round(first, 2),
                                            rebuild_s=round(again, 2), gallery_mib=round(size_mib, 1))
        rows = [row(f'first build, s per 1,000 images ({args.workers} workers)', f'{per_1000:.1f}',
                    f'<= {TARGET_S_PER_1000:.0f}', per_1000 <= TARGET_S_PER_1000,
                    '' if per_1000 <= TARGET_S_PER_1000 else 'thumbnail decoding dominates: more --workers'),
                row('rebuild (thumbnails there), s per 1,000 images', f'{again_1000:.1f}'),
                row('gallery size, MiB per 1,000 images', f'{1000 * size_mib / num:.1f}')]
        try:
            page = page_timings(big_page(tmp / 'gallery', args.page_images))
            measurements['page'] = page
            rows += [row(f'page with {args.page_images:,} images: load and first render, s', f"{page['load_s']:.2f}"),
                     row(f'page with {args.page_images:,} images: one threshold change, ms',
                         f"{page['threshold_change_ms']:.0f}")]
        except (ImportError, RuntimeError) as e:
            rows.append(not_measured(f'page with {args.page_images:,} images', str(e)))
    res = result('gallery', 'HTML gallery build time and page responsiveness',
                 dict(num_images=num, workers=args.workers, page_images=args.page_images, canvas='512x512'),
                 measurements, rows)
    res.update(machine=machine(), versions=versions())
    return finish(res, args.out)


if __name__ == '__main__':
    main()
