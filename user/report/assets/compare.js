/* SPDX-License-Identifier: GPL-2.0 */
// compare.js - draws the page of `allocmap compare --html` from the JSON
// data block compare_html.c embeds (id "am-data"): the header (the command
// line, each allocator's run settings), a card per allocator (median and
// min–max of the untraced runs), the notes (too noisy to rank, as the text
// says it), the memory of every allocator on one chart per figure against
// the allocator calls made so far (or traced wall time), the OS requests per
// allocator on the same axis, a sortable table of the allocators and the
// text's side-by-side table. Plain JS, no libraries, no network. The command
// line and paths are hostile input: they only ever reach the page as text
// (textContent, attribute values).
(function () {
  'use strict';

  window.addEventListener('error', e => document.body.setAttribute('data-error', String(e.message)));
  const D = JSON.parse(document.getElementById('am-data').textContent);
  const isObj = o => o !== null && typeof o === 'object' && !Array.isArray(o);
  const arr = a => Array.isArray(a) ? a : [];
  const str = s => typeof s === 'string' ? s : '';
  const num = v => typeof v === 'number' && isFinite(v) ? v : null;
  const C = isObj(D.compare) ? D.compare : {};
  const ALL = arr(C.allocators).filter(isObj);
  const TRACED = ALL.filter(a => !('skipped' in a));
  const SET = isObj(D.settings) ? D.settings : {};

  // ---------- formatting: as the text output (fmt.c) ----------
  const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  // am_fmt_size3's unit (power of 1024) and decimals for n
  function unitOf(n) {
    if (n < 1024) return [0, 0];
    let d = n, k = 0;
    while (k < 6 && d >= 999.5) { d /= 1024; k++; }
    return [k, d < 9.995 ? 2 : d < 99.95 ? 1 : 0];
  }
  // n / 1024^k with dec decimals, rounded half to even as printf does
  function fixed(n, k, dec) {
    const den = Math.pow(1024, k), numr = n * Math.pow(10, dec);
    let q = Math.floor(numr / den);
    const rem = numr - q * den;
    if (2 * rem > den || (2 * rem === den && q % 2 === 1)) q++;
    const s = String(q).padStart(dec + 1, '0');
    return dec ? s.slice(0, s.length - dec) + '.' + s.slice(s.length - dec) : s;
  }
  function size3(n) {
    if (num(n) === null) return '–';
    const [k, dec] = unitOf(n);
    return k ? fixed(n, k, dec) + ' ' + UNITS[k] : n + ' B';
  }
  // am_fmt_size_in: n in the unit and decimals size3 gives max (a column's)
  function sizeIn(n, max) {
    if (num(n) === null) return '–';
    const [k, dec] = unitOf(Math.max(n, max));
    if (!k) return n + ' B';
    if (!n) return '0 ' + UNITS[k];
    const step = dec === 2 ? 0.005 : dec === 1 ? 0.05 : 0.5;
    if (n / Math.pow(1024, k) < step) return '<' + (dec === 2 ? '0.01' : dec === 1 ? '0.1' : '1') + ' ' + UNITS[k];
    return fixed(n, k, dec) + ' ' + UNITS[k];
  }
  const exact = n => num(n) === null ? '' : n.toLocaleString('en-US') + ' bytes';
  const secs = ns => num(ns) === null ? '–' : (ns / 1e9).toFixed(3) + ' s';
  const fmtInt = n => num(n) === null ? '–' : n.toLocaleString('en-US');
  function fmtTime(ns) {
    const a = Math.abs(ns);
    const f = (v, d) => v.toFixed(d).replace(/\.0+$|(\.\d*?)0+$/, '$1');
    if (!ns) return '0';
    if (a < 1e3) return ns.toFixed(0) + ' ns';
    if (a < 1e6) return f(ns / 1e3, 1) + ' µs';
    if (a < 1e9) return f(ns / 1e6, a < 1e7 ? 2 : 1) + ' ms';
    return f(ns / 1e9, 2) + ' s';
  }
  function fmtCount(n) {   // axis ticks: 250k, 1.5M
    if (n >= 1e6) return +(n / 1e6).toFixed(2) + 'M';
    if (n >= 1e4) return +(n / 1e3).toFixed(1) + 'k';
    return String(n);
  }

  function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  const SVGNS = 'http://www.w3.org/2000/svg';
  function sv(tag, attrs, text) {
    const e = document.createElementNS(SVGNS, tag);
    if (attrs) for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function niceStep(range, n) {
    const raw = range / Math.max(n, 1), p = Math.pow(10, Math.floor(Math.log10(raw)));
    const m = raw / p;
    return (m < 1.5 ? 1 : m < 3 ? 2 : m < 7 ? 5 : 10) * p;
  }
  // a step of 1, 2 or 5 x a power of ten in the unit of max (KiB, MiB...): ticks read as round sizes
  function byteStep(max, n) {
    const u = Math.pow(1024, unitOf(max)[0]);
    return Math.max(1, niceStep(max / u / Math.max(n, 1), 1) * u);
  }
  const css = getComputedStyle(document.documentElement);
  const cssVar = (name, dflt) => (css.getPropertyValue(name) || '').trim() || dflt;

  // one colour per allocator, by its place in the comparison (skipped ones keep theirs)
  const PALETTE = ['#2f6fdb', '#e08a00', '#12976b', '#8a4fd8', '#d64545', '#1f9bb0', '#c2489b', '#66707d'];
  const COLOR = new Map(ALL.map((a, i) => [str(a.name), PALETTE[i % PALETTE.length]]));
  const colorOf = name => COLOR.get(name) || '#8b95a3';
  function swatch(name) {
    const s = el('span', 'alloc-sw');
    s.style.background = colorOf(name);
    return s;
  }

  // ---------- tooltip ----------
  const tip = document.getElementById('tip');
  function showTip(ev, build) {
    tip.textContent = '';
    build(tip);
    tip.hidden = false;
    const w = tip.offsetWidth, h = tip.offsetHeight;
    let x = ev.clientX + 14, y = ev.clientY + 14;
    if (x + w > window.innerWidth - 8) x = ev.clientX - w - 14;
    if (y + h > window.innerHeight - 8) y = ev.clientY - h - 14;
    tip.style.left = Math.max(4, x) + 'px';
    tip.style.top = Math.max(4, y) + 'px';
  }
  function hideTip() { tip.hidden = true; }

  // ---------- header ----------
  const nUntraced = num(C.untraced_runs) || 0;
  document.getElementById('meta').textContent = TRACED.length + ' of ' + ALL.length + ' allocators traced, once each · ' +
    (SET.untraced ? nUntraced + ' untraced run' + (nUntraced === 1 ? '' : 's') + ' each (--runs ' + fmtInt(num(SET.runs)) + ')'
      : 'no untraced runs (--no-untraced)');
  // the command as a shell would take it back: quoted where it needs to be
  // (control characters as $'\xNN', so a newline or an escape in an argument shows as such)
  const quote = s => /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s
    : /[\x00-\x1f\x7f]/.test(s) ? "$'" + s.replace(/[\\']/g, c => '\\' + c)
      .replace(/[\x00-\x1f\x7f]/g, c => '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0')) + "'"
      : "'" + s.replace(/'/g, "'\\''") + "'";
  const cmdline = document.getElementById('cmdline');
  cmdline.textContent = '$ ' + arr(C.command).map(x => quote(str(x))).join(' ');
  const runset = document.getElementById('runset');
  ALL.forEach(a => {
    const name = str(a.name), item = el('span', 'run');
    item.setAttribute('data-alloc', name);
    item.appendChild(swatch(name));
    item.appendChild(el('b', '', name + ': '));
    if (a.run) item.appendChild(el('span', 'mono', 'runs ' + str(a.run)));
    else if (a.preload) item.appendChild(el('span', 'mono', 'LD_PRELOAD=' + str(a.preload)));
    else item.appendChild(el('span', '', 'as is (no LD_PRELOAD)'));
    if ('skipped' in a) item.appendChild(el('span', 'warn', ' · skipped: ' + str(a.skipped)));
    else item.appendChild(el('span', '', ' · bound ' + str(a.bound) + ' · exit ' + a.exit));
    runset.appendChild(item);
  });

  // ---------- cards ----------
  const cards = document.getElementById('cards');
  TRACED.forEach(a => {
    const name = str(a.name), u = isObj(a.untraced) ? a.untraced : null, b = isObj(a.bytes) ? a.bytes : {};
    const c = el('div', 'card');
    c.setAttribute('data-card', name);
    const k = el('div', 'k');
    k.appendChild(swatch(name));
    k.appendChild(document.createTextNode(name));
    c.appendChild(k);
    if (u) {
      const v = el('div', 'v', secs(u.wall_ns));
      v.setAttribute('data-wall-ns', String(u.wall_ns));
      v.title = 'median of ' + arr(u.runs).length + ' untraced runs: ' + fmtInt(u.wall_ns) + ' ns';
      c.appendChild(v);
      const r = el('div', 's', 'min–max ' + (u.wall_ns_min / 1e9).toFixed(3) + '–' + secs(u.wall_ns_max) +
        ' (' + arr(u.runs).length + ' runs)');
      r.setAttribute('data-range', u.wall_ns_min + '-' + u.wall_ns_max);
      c.appendChild(r);
    } else {
      c.appendChild(el('div', 'v', secs(isObj(a.traced) ? a.traced.wall_ns : null)));
      c.appendChild(el('div', 's', 'wall time, traced (no untraced runs)'));
    }
    const s = el('div', 's', 'from OS, peak ' + size3(b.os_peak));
    s.title = exact(b.os_peak);
    s.setAttribute('data-bytes', String(b.os_peak));
    c.appendChild(s);
    cards.appendChild(c);
  });

  // ---------- notes ----------
  const notes = document.getElementById('notes');
  const T = isObj(D.table) ? D.table : {};
  const note = (text, id) => { const n = notes.appendChild(el('div', 'note', text)); if (id) n.id = id; return n; };
  if (str(T.note)) note(str(T.note), 'noise-note');
  else if (SET.untraced && TRACED.length > 1) note('ranked by untraced wall time: no two allocators\' min–max ranges overlap', 'noise-note');
  ALL.filter(a => 'skipped' in a).forEach(a => note(str(a.name) + ': ' + str(a.skipped) + ', skipped'));
  TRACED.forEach(a => {
    const l = isObj(a.lost) ? a.lost : {};
    if (l.events || l.missed_returns)
      note(str(a.name) + ': ' + fmtInt(l.events) + ' events lost, ' + fmtInt(l.missed_returns) + ' returns missed: its figures are incomplete');
  });

  // ---------- the charts ----------
  const TL = arr(D.timelines).filter(isObj).map(t => {
    const p = arr(t.points), m = arr(t.marks), n = Math.floor(p.length / 4);
    return { name: str(t.name), p, m, n, every: num(t.points_every) || 1, marksEvery: num(t.marks_every) || 1,
      pointsTotal: num(t.points_total) || n, marksTotal: num(t.marks_total) || 0 };
  });
  const SYS = arr(D.syscalls).map(str);
  const SYS_COLOR = SYS.map(s => cssVar('--' + (s === 'mmap' ? 'mmapc' : s), '#8b95a3'));
  let mode = 'calls';   // or 'wall'
  const hidden = new Set();   // allocators whose lines the legend hid
  const xOf = (t, i) => mode === 'calls' ? t.p[i * 4 + 1] : t.p[i * 4];
  const xMax = () => Math.max(1, ...TL.map(t => t.n ? xOf(t, t.n - 1) : 0));
  const W = () => Math.max(600, document.getElementById('progress-panel').clientWidth - 36);
  const ML = 84, MR = 18, MT = 8;
  const cursors = [];

  function xAxis(svg, X, x1, y, withTitle) {
    const xm = xMax(), step = mode === 'calls' ? Math.max(1, niceStep(xm, 8)) : niceStep(xm, 8);
    const g = sv('g', { class: 'axis' });
    g.appendChild(sv('line', { x1: ML, x2: x1, y1: y, y2: y }));
    for (let v = 0; v <= xm + step / 1e6; v += step) {
      const x = X(v);
      g.appendChild(sv('line', { x1: x, x2: x, y1: y, y2: y + 4 }));
      g.appendChild(sv('text', { x, y: y + 16, 'text-anchor': 'middle' }, mode === 'calls' ? fmtCount(Math.round(v)) : fmtTime(v)));
    }
    svg.appendChild(g);
    if (withTitle)
      svg.appendChild(sv('text', { x: (ML + x1) / 2, y: y + 34, 'text-anchor': 'middle', class: 'axis-title', 'data-axis': mode },
        mode === 'calls' ? 'allocator calls made by the program so far (each allocator\'s own count; its line ends at its total)'
          : 'traced wall time since each trace started (probe traps included)'));
  }

  // the value of t's series (2: live, 3: from OS) at x: its last point at or before x
  function at(t, x, k) {
    let lo = 0, hi = t.n - 1, best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (xOf(t, mid) <= x) { best = mid; lo = mid + 1; } else hi = mid - 1;
    }
    return best < 0 ? null : { v: t.p[best * 4 + k], calls: t.p[best * 4 + 1], t: t.p[best * 4], last: best === t.n - 1 };
  }

  function hover(svg, X, x1, y0, y1) {
    const cur = sv('line', { y1: y0, y2: y1, stroke: '#98a2b0', 'stroke-width': 1, visibility: 'hidden', class: 'cursor' });
    svg.appendChild(cur);
    cursors.push(cur);
    const area = sv('rect', { x: ML, y: y0, width: x1 - ML, height: y1 - y0, fill: 'transparent', style: 'cursor:crosshair' });
    svg.appendChild(area);
    const xm = xMax();
    area.addEventListener('mousemove', ev => {
      const r = svg.getBoundingClientRect(), px = ev.clientX - r.left;
      const v = (px - ML) / (x1 - ML) * xm;
      cursors.forEach(c => { c.setAttribute('x1', px); c.setAttribute('x2', px); c.setAttribute('visibility', 'visible'); });
      showTip(ev, box => {
        box.appendChild(el('div', 't', mode === 'calls' ? 'after ' + fmtInt(Math.round(v)) + ' allocator calls' : 'at ' + fmtTime(v) + ' (traced)'));
        TL.forEach(t => {
          const o = at(t, v, 3), l = at(t, v, 2), row = el('div', 'r');
          const sw = el('span', '', '■ ');
          sw.style.color = colorOf(t.name);
          row.appendChild(sw);
          row.appendChild(el('b', '', t.name + ': '));
          row.appendChild(document.createTextNode(o ? 'from OS ' + size3(o.v) + ' (' + exact(o.v) + '), live ' + size3(l.v) +
            ' (' + exact(l.v) + ')' + (o.last && v > xOf(t, t.n - 1) ? ', ended' : '') : 'not started'));
          box.appendChild(row);
        });
      });
    });
    area.addEventListener('mouseleave', () => { cursors.forEach(c => c.setAttribute('visibility', 'hidden')); hideTip(); });
  }

  // one line per allocator of series k (2: live, 3: from OS)
  function lineChart(id, k, key, yTitle) {
    const box = document.getElementById(id);
    box.textContent = '';
    const w = W(), H = 230, CH = 170, x1 = w - MR;
    const svg = sv('svg', { width: w, height: H, 'data-chart': key });
    const xm = xMax();
    let ym = 1;
    TL.forEach(t => { for (let i = 0; i < t.n; i++) ym = Math.max(ym, t.p[i * 4 + k]); });
    const ystep = byteStep(ym, 4);
    ym = Math.ceil(ym / ystep) * ystep;
    const X = v => ML + v / xm * (x1 - ML), Y = v => MT + CH - v / ym * CH;
    const grid = sv('g', { class: 'grid' });
    const ax = sv('g', { class: 'axis' });
    const [uk] = unitOf(ym);
    for (let v = 0; v <= ym; v += ystep) {
      grid.appendChild(sv('line', { x1: ML, x2: x1, y1: Y(v), y2: Y(v) }));
      ax.appendChild(sv('text', { x: ML - 6, y: Y(v) + 4, 'text-anchor': 'end' }, uk ? +(v / Math.pow(1024, uk)).toFixed(2) + ' ' + UNITS[uk] : v + ' B'));
    }
    svg.appendChild(grid);
    svg.appendChild(ax);
    svg.appendChild(sv('text', { x: 0, y: 0, 'text-anchor': 'middle', class: 'axis-title', transform: 'translate(14,' + (MT + CH / 2) + ') rotate(-90)' }, yTitle));
    xAxis(svg, X, x1, MT + CH, true);
    TL.forEach(t => {
      if (!t.n || hidden.has(t.name)) return;
      let d = 'M' + X(xOf(t, 0)).toFixed(1) + ' ' + Y(t.p[k]).toFixed(1);
      for (let i = 1; i < t.n; i++)
        d += 'H' + X(xOf(t, i)).toFixed(1) + 'V' + Y(t.p[i * 4 + k]).toFixed(1);
      const last = xOf(t, t.n - 1);
      svg.appendChild(sv('path', { d, fill: 'none', stroke: colorOf(t.name), 'stroke-width': 2, class: 'series',
        'data-alloc': t.name, 'data-series': key, 'data-mode': mode, 'data-points': t.n, 'data-last-x': last,
        'data-last-y': t.p[(t.n - 1) * 4 + k] }));
      svg.appendChild(sv('circle', { cx: X(last), cy: Y(t.p[(t.n - 1) * 4 + k]), r: 3.5, fill: colorOf(t.name), class: 'end' }));
    });
    hover(svg, X, x1, MT, MT + CH);
    box.appendChild(svg);
  }

  // the OS requests: a lane per allocator, a tick per request coloured by syscall
  function requestChart() {
    const box = document.getElementById('chart-req');
    box.textContent = '';
    const LANE = 22, w = W(), x1 = w - MR, H = MT + TL.length * LANE + 28;
    const svg = sv('svg', { width: w, height: H, 'data-chart': 'requests' });
    const xm = xMax(), X = v => ML + v / xm * (x1 - ML);
    TL.forEach((t, li) => {
      const y = MT + li * LANE;
      svg.appendChild(sv('line', { x1: ML, x2: x1, y1: y + LANE / 2, y2: y + LANE / 2, stroke: '#eef1f5' }));
      svg.appendChild(sv('text', { x: ML - 8, y: y + LANE / 2 + 4, 'text-anchor': 'end', fill: colorOf(t.name) }, t.name));
      const g = sv('g', { class: 'lane', 'data-alloc': t.name, 'data-marks': Math.floor(t.m.length / 4) });
      for (let i = 0; i + 3 < t.m.length; i += 4) {
        const x = X(mode === 'calls' ? t.m[i + 1] : t.m[i]), s = t.m[i + 2];
        g.appendChild(sv('rect', { x: (x - 0.75).toFixed(1), y: y + 3, width: 1.5, height: LANE - 6, fill: SYS_COLOR[s] || '#8b95a3',
          'fill-opacity': t.m[i + 3] ? 1 : 0.35 }));
      }
      svg.appendChild(g);
    });
    xAxis(svg, X, x1, MT + TL.length * LANE, false);
    hover(svg, X, x1, MT, MT + TL.length * LANE);
    box.appendChild(svg);
  }

  function drawCharts() {
    cursors.length = 0;
    lineChart('chart-os', 3, 'os', 'bytes from the OS');
    lineChart('chart-live', 2, 'live', 'bytes live');
    requestChart();
    document.getElementById('progress-panel').setAttribute('data-x', mode);
    const nth = k => k + (k % 10 === 1 && k % 100 !== 11 ? 'st' : k % 10 === 2 && k % 100 !== 12 ? 'nd' : k % 10 === 3 && k % 100 !== 13 ? 'rd' : 'th');
    const thin = TL.filter(t => t.every > 1 || t.marksEvery > 1).map(t => t.name + ': ' +
      (t.every > 1 ? 'every ' + nth(t.every) + ' of ' + fmtInt(t.pointsTotal) + ' points' : '') +
      (t.every > 1 && t.marksEvery > 1 ? ', ' : '') +
      (t.marksEvery > 1 ? 'every ' + nth(t.marksEvery) + ' of ' + fmtInt(t.marksTotal) + ' OS requests' : ''));
    document.getElementById('progress-hint').textContent = (mode === 'calls'
      ? 'x: the allocator calls the program has made so far, so the same point of the program lines up across allocators (probe traps and allocator speed do not move it). Each line ends at its allocator\'s total calls, the table\'s "calls (made by the program)".'
      : 'x: traced wall time since each trace started; the probe traps slow every allocator call, so compare shapes, not durations (the untraced wall times are in the cards).') +
      ' Each line steps at the points sampled: at every OS request, and every 16 calls or 0.5 ms of traced time in between; its last point is the table\'s "at exit". Lines that coincide hide each other: hover for every allocator\'s bytes at that point, click a name in the legend to hide or show its lines.' +
      (thin.length ? ' Thinned on this page (the figures in the cards and tables are exact): ' + thin.join('; ') + '.' : '');
  }

  const legend = document.getElementById('alloc-legend');
  TL.forEach(t => {
    const a = TRACED.find(x => str(x.name) === t.name) || {};
    const it = el('span', 'item');
    it.setAttribute('data-alloc', t.name);
    it.title = 'click to hide or show its lines';
    it.style.cursor = 'pointer';
    it.addEventListener('click', () => {
      if (hidden.has(t.name)) hidden.delete(t.name); else hidden.add(t.name);
      it.style.opacity = hidden.has(t.name) ? 0.4 : 1;
      drawCharts();
    });
    const s = el('span', 'sw');
    s.style.background = colorOf(t.name);
    it.appendChild(s);
    it.appendChild(document.createTextNode(t.name + ' (' + fmtInt(num(a.calls)) + ' calls)'));
    legend.appendChild(it);
  });
  const sysLegend = document.getElementById('sys-legend');
  SYS.forEach((s, i) => {
    const it = el('span', 'item'), sw = el('span', 'sw');
    sw.style.background = SYS_COLOR[i];
    it.appendChild(sw);
    it.appendChild(document.createTextNode(s));
    sysLegend.appendChild(it);
  });
  sysLegend.appendChild(el('span', 'item', 'faint: made outside allocator calls (ld.so, the program itself)'));
  document.querySelectorAll('#progress-panel button[data-x]').forEach(b => b.addEventListener('click', () => {
    mode = b.getAttribute('data-x');
    document.querySelectorAll('#progress-panel button[data-x]').forEach(x => x.classList.toggle('on', x === b));
    hideTip();
    drawCharts();
  }));
  drawCharts();
  window.addEventListener('resize', () => drawCharts());

  // ---------- allocators: sortable, searchable ----------
  const osAll = a => isObj(a.os_requests) ? Object.values(a.os_requests).reduce((s, v) => s + (isObj(v) ? num(v.all) || 0 : 0), 0) : null;
  const B = a => isObj(a.bytes) ? a.bytes : {};
  const U = a => isObj(a.untraced) ? a.untraced : {};
  const COLS = [
    ['allocator', a => str(a.name), 'text'],
    ['calls', a => num(a.calls), 'int'],
    ['OS requests', osAll, 'int'],
    ['calls reaching the OS', a => num(a.calls_reaching_os), 'int'],
    ['live, peak', a => num(B(a).live_peak), 'bytes'],
    ['from OS, peak', a => num(B(a).os_peak), 'bytes'],
    ['overhead at peak', a => num(B(a).overhead_peak), 'ratio'],
    ['from OS, at exit', a => num(B(a).os_exit), 'bytes'],
    ['wall time, untraced median', a => num(U(a).wall_ns), 'secs'],
    ['min', a => num(U(a).wall_ns_min), 'secs'],
    ['max', a => num(U(a).wall_ns_max), 'secs'],
    ['peak RSS, untraced median', a => num(U(a).max_rss_kb) === null ? null : U(a).max_rss_kb * 1024, 'bytes'],
    ['wall time, traced', a => isObj(a.traced) ? num(a.traced.wall_ns) : null, 'secs'],
    ['lost events', a => isObj(a.lost) ? num(a.lost.events) : null, 'int'],
  ].filter(c => SET.untraced || !['wall time, untraced median', 'min', 'max', 'peak RSS, untraced median'].includes(c[0]));
  let sortCol = 0, sortDesc = false;
  const rank = document.getElementById('rank-table'), rankSearch = document.getElementById('rank-search');
  function drawRank() {
    rank.textContent = '';
    const head = el('tr');
    COLS.forEach(([name, , kind], i) => {
      const h = el('th', (kind === 'text' ? '' : 'num ') + 'sortable', name + (i === sortCol ? (sortDesc ? ' ▾' : ' ▴') : ''));
      h.setAttribute('data-col', String(i));
      h.addEventListener('click', () => { sortDesc = sortCol === i ? !sortDesc : kind !== 'text'; sortCol = i; drawRank(); });
      head.appendChild(h);
    });
    rank.appendChild(head);
    const max = COLS.map(c => Math.max(0, ...TRACED.map(a => c[1](a) || 0)));
    const q = rankSearch.value.trim().toLowerCase();
    const rows = TRACED.filter(a => !q || str(a.name).toLowerCase().includes(q));
    rows.sort((x, y) => {
      const a = COLS[sortCol][1](x), b = COLS[sortCol][1](y);
      const c = a === b ? 0 : a === null ? 1 : b === null ? -1 : a < b ? -1 : 1;
      return sortDesc ? -c : c;
    });
    rows.forEach(a => {
      const tr = el('tr', 'alloc-row');
      tr.setAttribute('data-alloc', str(a.name));
      COLS.forEach(([, get, kind], i) => {
        const v = get(a);
        let cell;
        if (kind === 'text') { cell = el('td'); cell.appendChild(swatch(v)); cell.appendChild(document.createTextNode(v)); }
        else if (kind === 'bytes') { cell = el('td', 'num', sizeIn(v, max[i])); cell.title = exact(v); }
        else if (kind === 'secs') cell = el('td', 'num', secs(v));
        else if (kind === 'ratio') cell = el('td', 'num', v === null ? '–' : v.toFixed(2) + 'x');
        else cell = el('td', 'num', fmtInt(v));
        if (v !== null && kind !== 'text') cell.setAttribute('data-v', String(v));
        tr.appendChild(cell);
      });
      rank.appendChild(tr);
    });
  }
  rankSearch.addEventListener('input', drawRank);
  drawRank();

  // ---------- the text's table, searchable ----------
  const side = document.getElementById('side-table'), sideSearch = document.getElementById('side-search');
  const head = el('tr');
  head.appendChild(el('th', '', ''));
  arr(T.head).forEach(h => { const c = el('th', 'num'); c.appendChild(swatch(str(h))); c.appendChild(document.createTextNode(str(h))); head.appendChild(c); });
  side.appendChild(head);
  const sideRows = [];
  let section = null;
  arr(T.rows).filter(isObj).forEach(r => {
    const tr = el('tr');
    if (r.section) {
      tr.className = 'sec-row';
      const c = el('td', 'sec', str(r.label));
      c.colSpan = arr(T.head).length + 1;
      tr.appendChild(c);
      section = { tr, rows: [] };
      sideRows.push(section);
    } else {
      tr.className = 'side-row';
      tr.setAttribute('data-label', str(r.label).trim());
      const lab = tr.appendChild(el('td', '', str(r.label).trim()));
      lab.style.paddingLeft = (10 + 14 * (str(r.label).length - str(r.label).trimStart().length) / 2) + 'px';
      arr(r.cells).forEach((v, i) => {
        const c = el('td', 'num mono', str(v));
        if (Array.isArray(r.bytes)) { c.title = exact(r.bytes[i]); c.setAttribute('data-bytes', String(r.bytes[i])); }
        tr.appendChild(c);
      });
      if (section) section.rows.push(tr); else sideRows.push({ tr, rows: [] });
    }
    side.appendChild(tr);
  });
  function filterSide() {
    const q = sideSearch.value.trim().toLowerCase();
    let shown = 0, total = 0;
    sideRows.forEach(s => {
      const secHit = q && s.tr.classList.contains('sec-row') && s.tr.textContent.toLowerCase().includes(q);
      let any = false;
      s.rows.concat(s.tr.classList.contains('side-row') ? [s.tr] : []).forEach(tr => {
        const hit = !q || secHit || tr.textContent.toLowerCase().includes(q);
        tr.classList.toggle('hidden', !hit);
        any = any || hit;
        total++;
        shown += hit ? 1 : 0;
      });
      if (s.tr.classList.contains('sec-row')) s.tr.classList.toggle('hidden', !any && !secHit);
    });
    document.getElementById('side-match').textContent = q ? shown + ' of ' + total + ' rows' : '';
  }
  sideSearch.addEventListener('input', filterSide);

  document.getElementById('footer').textContent = 'allocmap compare · ' + TRACED.map(a => str(a.name)).join(', ');
  document.body.setAttribute('data-ready', '1');
})();
