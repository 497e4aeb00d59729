/* The gallery page: sort, filter and threshold the images of one synthetic set (data.js).
 *
 * The keep rule (verdict) is a port of mmgen_det.generation.set_format.kept_ids, SyntheticDetDataset's,
 * applied to the stored scores exported unrounded, so the kept count shown is the number of images
 * training keeps with the printed filter_cfg (tests/test_visualization/test_gallery_page.py checks it).
 * Only one page of cards is in the DOM and thumbnails load lazily, so 10,000 images stay responsive.
 */
'use strict';
(function () {
  const D = window.GALLERY_DATA;
  const images = D.images;
  const names = D.classes;
  const $ = (id) => document.getElementById(id);
  // the same hues as mmgen_det.visualization.grid.class_colors (HSV s=0.9, v=1 is HSL 100%, 55%)
  const colors = names.map((_, i) => `hsl(${(360 * i / Math.max(names.length, 1)).toFixed(1)}, 100%, 55%)`);
  const indexOfId = new Map(images.map((im, i) => [im.id, i]));
  const boxSizes = images.map((im) => im.boxes.map((b) => Math.sqrt(Math.max(b[2] * b[3], 0))));
  // stored detections: [x1, y1, x2, y2, class, score, layout box or -1]; records scored before they were kept have none
  const hasDets = images.some((im) => Object.values(im.pr).some((e) => e.dets && e.dets.length));

  const cfg = {
    filter_empty_gt: true, min_precision: null, min_recall: null, pr_key: D.pr_keys[0] ?? null,
    max_feature_distance: null, feature_key: D.feature_keys[0] ?? null,
  };
  const view = { sort: 'id', descending: false, cls: -1, show: 'all', page: 0, pageSize: 60, layout: true,
                 matches: true, dets: true, tab: 'images' };
  let verdicts = [];   // per image: 'kept' | 'dropped' | 'unscored'
  let shown = [];      // image indices in display order
  let detailPos = -1;  // position in `shown` of the image in the dialog

  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => (
    { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
  const fmt = (x, digits = 2) => (x === null || x === undefined ? 'n/a' : Number(x).toFixed(digits));
  const pyStr = (s) => `'${String(s).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

  // -- the keep rule ---------------------------------------------------------------------------
  // set_format.kept_ids: filter_empty_gt first, then passes_scores with inclusive thresholds; a null
  // distance fails max_feature_distance; a threshold whose scores are missing makes the dataset raise
  // ('unscored'). The page sets no min_size.
  function verdict(im) {
    if (cfg.filter_empty_gt && im.boxes.length === 0) return 'dropped';
    if (cfg.min_precision !== null || cfg.min_recall !== null) {
      const pr = im.pr[cfg.pr_key];
      if (pr === undefined) return 'unscored';
      if ((cfg.min_precision !== null && pr.p < cfg.min_precision)
          || (cfg.min_recall !== null && pr.r < cfg.min_recall)) return 'dropped';
    }
    if (cfg.max_feature_distance !== null) {
      if (!(cfg.feature_key in im.fd)) return 'unscored';
      const d = im.fd[cfg.feature_key];
      if (d === null || d > cfg.max_feature_distance) return 'dropped';
    }
    return 'kept';
  }

  function reason(im) {
    if (cfg.filter_empty_gt && im.boxes.length === 0) return 'no boxes';
    const pr = im.pr[cfg.pr_key];
    const out = [];
    if (pr && cfg.min_precision !== null && pr.p < cfg.min_precision) out.push(`precision ${fmt(pr.p, 3)} < ${cfg.min_precision}`);
    if (pr && cfg.min_recall !== null && pr.r < cfg.min_recall) out.push(`recall ${fmt(pr.r, 3)} < ${cfg.min_recall}`);
    const d = im.fd[cfg.feature_key];
    if (cfg.max_feature_distance !== null && (d === null || d > cfg.max_feature_distance)) {
      out.push(d === null ? 'no distance (unreadable image)' : `distance ${fmt(d, 3)} > ${cfg.max_feature_distance}`);
    }
    return out.join(', ') || 'no scores under the chosen key';
  }

  function filterCfgLine() {
    const parts = [`filter_empty_gt=${cfg.filter_empty_gt ? 'True' : 'False'}`];
    if (cfg.min_precision !== null) parts.push(`min_precision=${cfg.min_precision}`);
    if (cfg.min_recall !== null) parts.push(`min_recall=${cfg.min_recall}`);
    if (cfg.min_precision !== null || cfg.min_recall !== null) parts.push(`pr_key=${pyStr(cfg.pr_key)}`);
    if (cfg.max_feature_distance !== null) {
      parts.push(`max_feature_distance=${cfg.max_feature_distance}`, `feature_key=${pyStr(cfg.feature_key)}`);
    }
    return `filter_cfg=dict(${parts.join(', ')})`;
  }

  // -- counts ----------------------------------------------------------------------------------
  function evaluate() {
    verdicts = images.map(verdict);
    const perClass = names.map(() => [0, 0]);
    let kept = 0, keptBoxes = 0, unscored = 0, total = 0;
    images.forEach((im, i) => {
      const v = verdicts[i];
      if (v === 'kept') { kept += 1; keptBoxes += im.boxes.length; }
      if (v === 'unscored') unscored += 1;
      for (const b of im.boxes) { perClass[b[4]][1] += 1; if (v === 'kept') perClass[b[4]][0] += 1; total += 1; }
    });
    const keptEl = $('kept-images');
    keptEl.textContent = `${kept} of ${images.length}`;
    keptEl.dataset.count = kept;
    $('kept-boxes').textContent = `${keptBoxes} of ${total}`;
    const rows = names.map((n, c) => `<tr><td><span style="color:${colors[c]}">&#9632;</span> ${esc(n)}</td>`
      + `<td>${D.real ? D.real.sizes[c].length : 'n/a'}</td><td>${perClass[c][0]}</td><td>${perClass[c][1]}</td></tr>`);
    $('kept-per-class').tBodies[0].innerHTML = rows.join('');
    $('filter-cfg').textContent = filterCfgLine();
    const warnings = [];
    for (const key of ['min_precision', 'min_recall']) {
      if (cfg[key] !== null && !(cfg[key] >= 0 && cfg[key] <= 1)) warnings.push(`${key} must be in [0, 1]`);
    }
    if (unscored) warnings.push(`${unscored} images have no scores under the chosen key: SyntheticDetDataset would refuse this filter_cfg`);
    else if (kept === 0) warnings.push('no image is kept: SyntheticDetDataset refuses an empty set');
    $('rule-warning').hidden = !warnings.length;
    $('rule-warning').textContent = warnings.join('; ');
  }

  // -- order and grid --------------------------------------------------------------------------
  function sortValue(im) {
    const pr = im.pr[cfg.pr_key];
    switch (view.sort) {
      case 'minpr': return pr ? Math.min(pr.p, pr.r) : null;
      case 'p': return pr ? pr.p : null;
      case 'r': return pr ? pr.r : null;
      case 'd': return im.fd[cfg.feature_key] ?? null;
      case 'n': return im.boxes.length;
      default: return im.id;
    }
  }

  function arrange() {
    const idx = [];
    images.forEach((im, i) => {
      if (view.cls >= 0 && !im.boxes.some((b) => b[4] === view.cls)) return;
      if (view.show === 'kept' && verdicts[i] !== 'kept') return;
      if (view.show === 'dropped' && verdicts[i] === 'kept') return;
      idx.push(i);
    });
    const values = new Map(idx.map((i) => [i, sortValue(images[i])]));
    const sign = view.descending ? -1 : 1;
    idx.sort((a, b) => {
      const va = values.get(a), vb = values.get(b);
      if (va === null || vb === null || Number.isNaN(va) || Number.isNaN(vb)) {  // missing values last
        const ma = va === null || Number.isNaN(va), mb = vb === null || Number.isNaN(vb);
        if (ma !== mb) return ma ? 1 : -1;
      } else if (va !== vb) return sign * (va - vb);
      return images[a].id - images[b].id;
    });
    shown = idx;
    view.page = Math.min(view.page, Math.max(0, Math.ceil(shown.length / view.pageSize) - 1));
  }

  // The filter detector's detections: dashed, in their own colours (on a layout box / false positive),
  // labelled under the box so the layout box's label above it stays readable.
  function detectionMarks(im, pr, fs) {
    if (!view.dets || !pr || !pr.dets) return '';
    return pr.dets.map((d) => {
      const cls = d[6] < 0 ? 'det fp' : 'det hit';
      const label = `${d[6] < 0 ? 'FP ' : ''}${d[4]} ${fmt(d[5])}`;
      return `<rect class="${cls}" x="${d[0]}" y="${d[1]}" width="${Math.max(d[2] - d[0], 0)}" height="${Math.max(d[3] - d[1], 0)}"/>`
        + `<text class="${cls}" x="${d[0] + 1}" y="${Math.min(d[3] + fs, im.h)}" font-size="${fs}">${esc(label)}</text>`;
    }).join('');
  }

  function overlay(im, big) {
    const pr = im.pr[cfg.pr_key];
    const found = new Map((pr && view.matches ? pr.matches : []).map((m) => [m[0], m]));
    const fs = Math.max(im.w, im.h) / (big ? 48 : 20);
    const parts = im.boxes.map((b, k) => {
      const missed = pr && view.matches && !found.has(k);
      const color = missed ? 'var(--bad)' : colors[b[4]];
      let label = view.layout ? names[b[4]] : '';
      if (pr && view.matches) label += found.has(k) ? ` \u2713${fmt(found.get(k)[1])}` : ' \u2717';
      const text = label ? `<text x="${b[0] + 1}" y="${Math.max(b[1] - fs * 0.25, fs)}" font-size="${fs}" fill="${color}">${esc(label)}</text>` : '';
      return (view.layout || (pr && view.matches))
        ? `<rect class="${missed ? 'missed' : 'found'}" x="${b[0]}" y="${b[1]}" width="${b[2]}" height="${b[3]}" stroke="${color}"/>${text}`
        : '';
    });
    return `<svg viewBox="0 0 ${im.w} ${im.h}" preserveAspectRatio="none">${parts.join('')}${detectionMarks(im, pr, fs)}</svg>`;
  }

  function caption(im) {
    const pr = im.pr[cfg.pr_key];
    const d = im.fd[cfg.feature_key];
    let s = `#${im.id}`;
    if (pr) s += ` \u00b7 P ${fmt(pr.p)} R ${fmt(pr.r)}`;
    if (cfg.feature_key !== null) s += ` \u00b7 d ${fmt(d)}`;
    return `${s} \u00b7 ${im.boxes.length} boxes`;
  }

  function renderGrid() {
    const start = view.page * view.pageSize;
    const cards = shown.slice(start, start + view.pageSize).map((i, k) => {
      const im = images[i];
      return `<div class="card ${verdicts[i] === 'kept' ? 'kept' : 'dropped'}" data-id="${im.id}" data-pos="${start + k}">`
        + `<div class="thumb" style="aspect-ratio:${im.w}/${im.h}"><img loading="lazy" decoding="async" src="${esc(im.thumb)}" alt="image ${im.id}">`
        + `${overlay(im, false)}</div><div class="cap" title="${esc(caption(im))}">${esc(caption(im))}</div></div>`;
    });
    $('grid').innerHTML = cards.join('') || '<p class="muted">No image matches.</p>';
    const pages = Math.max(1, Math.ceil(shown.length / view.pageSize));
    const sizes = [30, 60, 120, 240].map((n) => `<option${n === view.pageSize ? ' selected' : ''}>${n}</option>`).join('');
    for (const pager of document.querySelectorAll('.pager')) {
      pager.innerHTML = `<button type="button" data-go="-1"${view.page === 0 ? ' disabled' : ''}>&larr; previous</button>`
        + `<span>page ${view.page + 1} / ${pages} (${shown.length} images)</span>`
        + `<button type="button" data-go="1"${view.page >= pages - 1 ? ' disabled' : ''}>next &rarr;</button>`
        + `<label>per page <select data-size>${sizes}</select></label>`;
    }
  }

  // -- per class -------------------------------------------------------------------------------
  function binEdges() {
    let min = Infinity, max = 0;  // a loop: Math.min(...sizes) overflows the stack at 100,000s of boxes
    for (const s of boxSizes.flat().concat(D.real ? D.real.sizes.flat() : [])) {
      if (s > 0) { min = Math.min(min, s); max = Math.max(max, s); }
    }
    if (!max) return [1, 2];
    const lo = Math.floor(2 * Math.log2(min)) / 2, hi = Math.ceil(2 * Math.log2(max)) / 2;
    const edges = [];
    for (let e = lo; e <= Math.max(hi, lo + 0.5) + 1e-9; e += 0.5) edges.push(2 ** e);
    return edges;
  }

  function shares(sizes, edges) {
    const counts = new Array(edges.length - 1).fill(0);
    for (const s of sizes) {
      let b = edges.findIndex((e, k) => k > 0 && s < e) - 1;
      if (b < 0) b = s < edges[0] ? 0 : counts.length - 1;
      counts[b] += 1;
    }
    return counts.map((c) => (sizes.length ? c / sizes.length : 0));
  }

  function histogram(realSizes, synSizes, edges) {
    const W = 380, H = 120, left = 4, bottom = 16, nb = edges.length - 1, bw = (W - left) / nb;
    const r = realSizes ? shares(realSizes, edges) : null, s = shares(synSizes, edges);
    const top = Math.max(...s, ...(r || [0]), 1e-9);
    const bars = [];
    for (let b = 0; b < nb; b += 1) {
      const x = left + b * bw;
      for (const [v, cls, dx] of [[r ? r[b] : 0, 'real', 0], [s[b], 'synthetic', bw / 2]]) {
        const h = (H - bottom - 4) * v / top;
        bars.push(`<rect x="${x + dx}" y="${H - bottom - h}" width="${bw / 2 - 1}" height="${h}" style="fill:var(--${cls});stroke:none">`
          + `<title>${cls} ${Math.round(edges[b])}-${Math.round(edges[b + 1])} px: ${(100 * v).toFixed(1)}%</title></rect>`);
      }
      if (b % 2 === 0) bars.push(`<text x="${x}" y="${H - 3}">${Math.round(edges[b])}</text>`);
    }
    return `<svg class="hist" width="${W}" height="${H}">${bars.join('')}</svg>`;
  }

  function renderClasses() {
    const edges = binEdges();
    const blocks = names.map((n, c) => {
      const syn = [];
      let synAll = 0;
      images.forEach((im, i) => im.boxes.forEach((b, k) => {
        if (b[4] !== c) return;
        synAll += 1;
        if (verdicts[i] === 'kept') syn.push(boxSizes[i][k]);
      }));
      const real = D.real ? D.real.sizes[c] : null;
      const strip = (crops, kind) => (crops && crops[c] && crops[c].length
        ? `<div class="crops">${crops[c].map((cr) => {
          const dropped = kind === 'synthetic' && verdicts[indexOfId.get(cr.image)] !== 'kept';
          const title = kind === 'synthetic' ? `image #${cr.image}` : cr.image;
          const data = kind === 'synthetic' ? ` data-id="${cr.image}"` : '';
          return `<img loading="lazy" src="${esc(cr.src)}" title="${esc(title)}"${data}${dropped ? ' class="dropped"' : ''} alt="">`;
        }).join('')}</div>`
        : '<span class="muted">none</span>');
      return `<div class="class-block"><h3><span style="color:${colors[c]}">&#9632;</span> ${esc(n)}</h3>`
        + `<p>boxes: <span class="legend-real">real ${real ? real.length : 'n/a'}</span> \u00b7 `
        + `<span class="legend-synthetic">synthetic kept ${syn.length}</span> of ${synAll}</p>`
        + `<div class="class-row"><div>${histogram(real, syn, edges)}<div class="muted">box side \u221a(w\u00b7h), px `
        + '(share of the class\'s boxes; <span class="legend-real">real</span> vs <span class="legend-synthetic">synthetic kept</span>)</div></div>'
        + `<div><div class="strip"><span class="strip-label">real</span>${D.real ? strip(D.crops.real, 'real') : '<span class="muted">no real annotations (--real ANN_JSON)</span>'}</div>`
        + `<div class="strip"><span class="strip-label">synthetic</span>${strip(D.crops.synthetic, 'synthetic')}</div></div></div></div>`;
    });
    let head = '';
    if (D.real) {
      head = `<p class="muted">Real: ${esc(D.real.ann_file)} (${D.real.num_images} images), crops from ${esc(D.real.root)}`
        + (D.real.other_classes.length ? `; real classes not in the set: ${esc(D.real.other_classes.join(', '))}` : '') + '</p>';
    }
    $('tab-classes').innerHTML = head + blocks.join('');
  }

  // -- legend: what the overlay's marks mean, for the marks this set has ----------------------------
  function legend() {
    const swatch = (cls, style = '') => `<svg width="26" height="12"><rect class="${cls}" x="1" y="1" width="24" height="10"${style}/></svg>`;
    const items = [[swatch('found', ' style="stroke:var(--fg)"'), `layout box (class colour)${D.pr_keys.length ? ', found' : ''}`]];
    if (D.pr_keys.length) items.push([swatch('missed', ' style="stroke:var(--bad)"'), 'layout box missed by the filter detector']);
    if (hasDets) {
      items.push([swatch('det hit'), 'detection on a layout box (class, score)'],
        [swatch('det fp'), 'FP: detection off every layout box (false positive)']);
    }
    return items.map(([mark, text]) => `<span>${mark} ${esc(text)}</span>`).join('');
  }

  // -- detail ----------------------------------------------------------------------------------
  function row(k, v) { return `<tr><th>${esc(k)}</th><td>${v}</td></tr>`; }

  function detectionTable(dets) {
    const rows = dets.map((d, k) => `<tr><td>${k}</td><td class="${d[6] < 0 ? 'det-fp' : 'det-hit'}">${esc(d[4])}</td>`
      + `<td>${[d[0], d[1], d[2] - d[0], d[3] - d[1]].map((x) => Math.round(x)).join(', ')}</td><td>${fmt(d[5])}</td>`
      + `<td>${d[6] < 0 ? '<span class="det-fp">false positive</span>' : `on layout box ${d[6]}`}</td></tr>`);
    return `<table class="detections"><tr><th>det</th><th>class</th><th>x, y, w, h</th><th>score</th><th></th></tr>${rows.join('')}</table>`;
  }

  function generationTable(gen) {
    const rows = [];
    for (const key of ['seed', 'prompt', 'generator', 'model', 'grounding', 'attempts']) {
      if (gen[key] !== undefined && gen[key] !== null) rows.push(row(key, esc(JSON.stringify(gen[key]).replace(/^"|"$/g, ''))));
    }
    const src = gen.layout_source;
    if (src) {
      let frame = src.file_name ? esc(src.file_name) : '';
      if (src.file_name && D.real && D.real.frames[src.image_id]) frame = `<a href="${esc(D.real.frames[src.image_id])}" target="_blank">${frame}</a>`;
      const bits = [`strategy ${esc(src.strategy)}`, frame && `frame ${frame}`, src.zoom !== undefined && `zoom ${fmt(src.zoom)}`,
        src.flip !== undefined && `flip ${src.flip}`].filter(Boolean);
      rows.push(row('layout source', bits.join(', ')));
    }
    if (gen.background) {
      const frame = (id) => (D.real && D.real.frames[id] ? `<a href="${esc(D.real.frames[id])}" target="_blank">${esc(id)}</a>` : esc(id));
      const bits = Object.entries(gen.background).map(([k, v]) => `${esc(k)} ${k === 'image_ids' ? v.map(frame).join(' ')
        : esc(Array.isArray(v) ? v.join(' ') : v)}`);
      rows.push(row('background', bits.join(', ')));
    }
    return `<table>${rows.join('')}</table><details><summary>whole generation record</summary><pre>${esc(JSON.stringify(gen, null, 1))}</pre></details>`;
  }

  function renderDetail() {
    const i = shown[detailPos];
    const im = images[i];
    const v = verdicts[i];
    $('detail-title').textContent = `image #${im.id} (${detailPos + 1} of ${shown.length}) \u2014 ${v === 'kept' ? 'kept' : `dropped: ${reason(im)}`}`;
    const box = document.querySelector('.detail-image');
    box.style.aspectRatio = `${im.w}/${im.h}`;
    box.innerHTML = `<img alt="image ${im.id}">${overlay(im, true)}`;
    const img = box.querySelector('img');
    img.addEventListener('error', () => { img.src = im.thumb; }, { once: true });
    img.src = im.file;
    const pr = im.pr[cfg.pr_key];
    const found = new Map((pr ? pr.matches : []).map((m) => [m[0], m]));
    const boxRows = im.boxes.map((b, k) => `<tr><td>${k}</td><td style="color:${colors[b[4]]}">${esc(names[b[4]])}</td>`
      + `<td>${b.slice(0, 4).map((x) => Math.round(x)).join(', ')}</td>`
      + (pr ? `<td>${found.has(k) ? `found: score ${fmt(found.get(k)[1])}, IoU ${fmt(found.get(k)[2])}` : '<span class="warning">missed</span>'}</td>` : '')
      + '</tr>');
    const scoreRows = Object.entries(im.pr).map(([key, e]) => row(`PR ${key}`,
      `precision ${fmt(e.p, 3)}, recall ${fmt(e.r, 3)}, ${e.det ?? '?'} detections, ${e.matches.length} on a layout box`
      + (e.error ? ` <span class="warning">${esc(e.error)}</span>` : '')));
    const distRows = Object.entries(im.fd).map(([key, d]) => row(`distance ${key}`, fmt(d, 3)));
    $('detail').querySelector('.detail-info').innerHTML = `<table>${row('file', esc(decodeURIComponent(im.file)))}`
      + `${row('size', `${im.w} \u00d7 ${im.h}`)}${scoreRows.join('')}${distRows.join('')}</table>`
      + `<table><tr><th>#</th><th>class</th><th>x, y, w, h</th>${pr ? '<th>filter detector</th>' : ''}</tr>${boxRows.join('')}</table>`
      + (pr && pr.dets && pr.dets.length ? `<div class="legend">${legend()}</div>${detectionTable(pr.dets)}` : '')
      + (pr && !pr.dets ? `<p class="muted">${pr.det ?? '?'} detections above the score threshold; detections off every layout box are counted, not stored.</p>` : '')
      + generationTable(im.gen);
    $('detail-prev').disabled = detailPos <= 0;
    $('detail-next').disabled = detailPos >= shown.length - 1;
  }

  function openDetail(pos) {
    detailPos = pos;
    renderDetail();
    if (!$('detail').open) $('detail').showModal();
  }

  // -- wiring ----------------------------------------------------------------------------------
  function refresh() {
    evaluate();
    arrange();
    renderGrid();
    if (view.tab === 'classes') renderClasses();
  }

  function bindThreshold(name, key) {
    const on = $(`${name}-on`), range = $(`${name}-range`), box = $(name), rowEl = $(`row-${name}`);
    const read = () => {
      const text = box.value.trim();
      const value = text === '' ? NaN : Number(text);
      cfg[key] = on.checked && Number.isFinite(value) ? value : null;
      rowEl.classList.toggle('off', !on.checked);
      view.page = 0;
      refresh();
    };
    on.addEventListener('change', read);
    range.addEventListener('input', () => { box.value = range.value; on.checked = true; read(); });
    box.addEventListener('input', () => {
      if (box.value.trim() !== '' && Number.isFinite(Number(box.value))) { range.value = box.value; on.checked = true; }
      read();
    });
    rowEl.classList.toggle('off', !on.checked);
  }

  function fillSelect(el, keys) { el.innerHTML = keys.map((k) => `<option value="${esc(k)}">${esc(k)}</option>`).join(''); }

  function summaryText() {
    const boxes = images.reduce((n, im) => n + im.boxes.length, 0);
    const parts = [`${images.length} images, ${boxes} layout boxes, ${names.length} classes.`];
    for (const key of D.pr_keys) {
      const info = D.pr_info[key] || {};
      const t = info.thresholds || {};
      parts.push(`PR scores ${key}: detector ${(info.detector || {}).config || '?'}, score_thr ${t.score_thr}, iou_thr ${t.iou_thr}, `
        + `${t.class_aware ? 'class-aware' : 'class-agnostic'}.`);
    }
    if (D.feature_keys.length) parts.push(`Feature distances: ${D.feature_keys.join(', ')}.`);
    parts.push(D.real ? `Real: ${D.real.num_images} images.` : 'No real annotations found (--real ANN_JSON).');
    if (D.num_unreadable) parts.push(`${D.num_unreadable} images could not be read (e.g. ${D.unreadable[0]}).`);
    return parts.join(' ');
  }

  function init() {
    document.title = `${D.title} \u2014 gallery`;
    $('title').textContent = D.title;
    $('summary').textContent = summaryText();
    $('class-filter').innerHTML += names.map((n, c) => `<option value="${c}">${esc(n)}</option>`).join('');
    fillSelect($('pr-key'), D.pr_keys);
    fillSelect($('feature-key'), D.feature_keys);
    const hasPR = D.pr_keys.length > 0, hasFD = D.feature_keys.length > 0;
    $('pr-key-row').hidden = D.pr_keys.length < 2;
    $('feature-key-row').hidden = D.feature_keys.length < 2;
    $('row-min-precision').hidden = $('row-min-recall').hidden = !hasPR;
    $('row-max-feature-distance').hidden = !hasFD;
    $('no-scores').hidden = hasPR || hasFD;
    $('overlay-matches').parentElement.hidden = !hasPR;
    $('overlay-detections').parentElement.hidden = !hasDets;
    $('legend').innerHTML = legend();
    for (const opt of $('sort').options) {
      if ((['minpr', 'p', 'r'].includes(opt.value) && !hasPR) || (opt.value === 'd' && !hasFD)) opt.disabled = true;
    }
    if (hasFD) {
      const top = images.reduce((m, im) => Object.values(im.fd).reduce((a, d) => (Number.isFinite(d) ? Math.max(a, d) : a), m), 1);
      $('max-feature-distance-range').max = Math.ceil(top);
    }
    for (const [name, value] of Object.entries(D.defaults)) {  // the measured defaults, switched off
      const id = name.replace('_', '-');
      $(id).value = $(`${id}-range`).value = value;
    }
    bindThreshold('min-precision', 'min_precision');
    bindThreshold('min-recall', 'min_recall');
    bindThreshold('max-feature-distance', 'max_feature_distance');

    const on = (id, ev, fn) => $(id).addEventListener(ev, fn);
    on('pr-key', 'change', (e) => { cfg.pr_key = e.target.value; refresh(); });
    on('feature-key', 'change', (e) => { cfg.feature_key = e.target.value; refresh(); });
    on('filter-empty-gt', 'change', (e) => { cfg.filter_empty_gt = e.target.checked; refresh(); });
    on('sort', 'change', (e) => { view.sort = e.target.value; view.page = 0; refresh(); });
    on('descending', 'change', (e) => { view.descending = e.target.checked; refresh(); });
    on('class-filter', 'change', (e) => { view.cls = Number(e.target.value); view.page = 0; refresh(); });
    on('show', 'change', (e) => { view.show = e.target.value; view.page = 0; refresh(); });
    on('overlay-layout', 'change', (e) => { view.layout = e.target.checked; renderGrid(); });
    on('overlay-matches', 'change', (e) => { view.matches = e.target.checked; renderGrid(); });
    on('overlay-detections', 'change', (e) => { view.dets = e.target.checked; renderGrid(); });
    on('copy-cfg', 'click', () => {
      const text = $('filter-cfg').textContent;
      const selectIt = () => window.getSelection().selectAllChildren($('filter-cfg'));
      if (navigator.clipboard) navigator.clipboard.writeText(text).then(selectIt, selectIt);
      else selectIt();
    });
    for (const pager of document.querySelectorAll('.pager')) {
      pager.addEventListener('click', (e) => {
        const go = e.target.dataset.go;
        if (go) { view.page += Number(go); renderGrid(); window.scrollTo(0, 0); }
      });
      pager.addEventListener('change', (e) => {
        if (e.target.dataset.size !== undefined) { view.pageSize = Number(e.target.value); view.page = 0; renderGrid(); }
      });
    }
    on('grid', 'click', (e) => {
      const card = e.target.closest('.card');
      if (card) openDetail(Number(card.dataset.pos));
    });
    on('tab-classes', 'click', (e) => {
      const id = e.target.dataset.id;
      if (id === undefined) return;
      const pos = shown.indexOf(indexOfId.get(Number(id)));
      if (pos >= 0) openDetail(pos);
    });
    for (const button of document.querySelectorAll('#tabs button')) {
      button.addEventListener('click', () => {
        view.tab = button.dataset.tab;
        for (const b of document.querySelectorAll('#tabs button')) b.classList.toggle('active', b === button);
        $('tab-images').hidden = view.tab !== 'images';
        $('tab-classes').hidden = view.tab !== 'classes';
        if (view.tab === 'classes') renderClasses();
      });
    }
    on('detail-prev', 'click', () => openDetail(detailPos - 1));
    on('detail-next', 'click', () => openDetail(detailPos + 1));
    on('detail-close', 'click', () => $('detail').close());
    document.addEventListener('keydown', (e) => {
      if (!$('detail').open) return;
      if (e.key === 'ArrowLeft' && detailPos > 0) openDetail(detailPos - 1);
      if (e.key === 'ArrowRight' && detailPos < shown.length - 1) openDetail(detailPos + 1);
    });
    refresh();
  }

  // For scripts and tests driving the page: the kept image ids and the displayed order.
  window.gallery = {
    keptIds: () => images.filter((_, i) => verdicts[i] === 'kept').map((im) => im.id),
    shownIds: () => shown.map((i) => images[i].id),
  };
  init();
}());
