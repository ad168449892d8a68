/* SPDX-License-Identifier: GPL-2.0 */
// diff.js - draws the page of `allocmap diff --html` from the JSON data
// block diff_html.c embeds (id "am-data", the --json document): headline
// cards (B - A), the call sites sortable by their change, OS requests per
// syscall and cause as A/B bars, and the tables. Plain JS, no libraries, no
// network. Every name in the data comes from a trace (hostile input): it
// only ever reaches the page as text (textContent, attribute values).
(function () {
  'use strict';

  window.addEventListener('error', e => document.body.setAttribute('data-error', String(e.message)));
  const D = JSON.parse(document.getElementById('am-data').textContent);
  const isObj = o => o !== null && typeof o === 'object' && !Array.isArray(o);
  const arr = a => Array.isArray(a) ? a.filter(isObj) : [];
  const str = s => typeof s === 'string' ? s : '';
  const numOr = (v, d) => typeof v === 'number' && isFinite(v) ? v : d;
  const V = v => isObj(v) ? { a: numOr(v.a, null), b: numOr(v.b, null), delta: numOr(v.delta, null), ratio: numOr(v.ratio, null) }
    : { a: null, b: null, delta: null, ratio: null };
  const A = isObj(D.a) ? D.a : {};
  const B = isObj(D.b) ? D.b : {};

  // ---------- formatting (as the text output: three significant digits) ----------
  const UNITS = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  function size3(n) {
    if (n < 1024) return n + ' B';
    let v = n / 1024, u = 0;
    while (v >= 999.5 && u + 1 < UNITS.length) { v /= 1024; u++; }
    return (v >= 99.95 ? v.toFixed(0) : v >= 9.995 ? v.toFixed(1) : v.toFixed(2)) + ' ' + UNITS[u];
  }
  const fmtVal = (n, bytes) => n === null ? 'unknown' : bytes ? size3(n) : n.toLocaleString('en-US');
  function fmtDelta(d, bytes) {
    if (d === null) return '–';
    if (d === 0) return bytes ? '0 B' : '0';
    return (d > 0 ? '+' : '−') + fmtVal(Math.abs(d), bytes);
  }
  const fmtRatio = r => r === null ? '–' : r.toFixed(2) + 'x';
  const cls = d => d > 0 ? 'up' : d < 0 ? 'down' : '';

  function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function td(text, className) { return el('td', className, text); }
  function th(text, className) { return el('th', className, text); }
  function headRow(table, names, numFrom) {
    const tr = el('tr');
    names.forEach((n, i) => tr.appendChild(th(n, i >= numFrom ? 'num' : '')));
    table.appendChild(tr);
    return tr;
  }
  // label, A, B, B - A, B / A
  function valueRow(table, label, v, bytes, rowClass) {
    const tr = el('tr', rowClass);
    tr.appendChild(td(label));
    tr.appendChild(td(fmtVal(v.a, bytes), 'num'));
    tr.appendChild(td(fmtVal(v.b, bytes), 'num'));
    tr.appendChild(td(fmtDelta(v.delta, bytes), 'num ' + cls(v.delta)));
    tr.appendChild(td(fmtRatio(v.ratio), 'num'));
    if (v.delta !== null) tr.setAttribute('data-delta', String(v.delta));
    table.appendChild(tr);
    return tr;
  }

  // ---------- head, cards, notes ----------
  function side(s, name) {
    const al = str(s.allocator);
    return name + ' = ' + str(s.path) + (al ? ' (' + al + ')' : '');
  }
  document.getElementById('meta').textContent = side(A, 'A') + '  ·  ' + side(B, 'B');

  const bytes = isObj(D.bytes) ? D.bytes : {};
  const counts = isObj(D.counts) ? D.counts : {};
  const thr = isObj(D.threshold) ? D.threshold : {};
  const CARDS = [
    ['live, peak', bytes.live_peak, true], ['committed, peak', bytes.committed_peak, true],
    ['brk heap, peak', bytes.heap_peak, true], ['mmapped, peak', bytes.mmap_peak, true],
    ['live at the end', bytes.live, true], ['allocator calls', counts.calls, false],
    ['OS requests', counts.os, false], ['mmap threshold, end', thr.end, true],
  ];
  const cards = document.getElementById('cards');
  CARDS.forEach(([k, raw, isBytes]) => {
    const v = V(raw);
    const c = el('div', 'card');
    c.setAttribute('data-card', k);
    c.appendChild(el('div', 'k', k));
    c.appendChild(el('div', 'v ' + cls(v.delta), fmtDelta(v.delta, isBytes)));
    c.appendChild(el('div', 's', 'A ' + fmtVal(v.a, isBytes) + ' → B ' + fmtVal(v.b, isBytes) +
      (v.ratio !== null ? ' (' + fmtRatio(v.ratio) + ')' : '')));
    cards.appendChild(c);
  });

  const notes = document.getElementById('notes');
  [[A, 'A'], [B, 'B']].forEach(([s, n]) => {
    const note = t => notes.appendChild(el('div', 'note', n + ': ' + t));
    if (s.truncated) note('its last line was cut (the tracer stopped mid-record): read up to it.');
    if (s.summary === false) note('no summary record: the mmap threshold is unknown.');
    else if (typeof s.calls_summary === 'number' && numOr(s.calls, 0) < s.calls_summary)
      note('holds ' + s.calls + ' of the ' + s.calls_summary + ' allocator calls its summary counts (traced without -v): live bytes and allocations are partial.');
    if (s.out_of_memory) note('memory ran out while reading it: its figures are incomplete.');
  });

  // ---------- call sites ----------
  const FIGS = [
    ['alloc', 'bytes', 'allocated', true], ['peak', 'peak_bytes', 'live at the peak', true],
    ['leak', 'leak_bytes', 'leaked', true], ['temp', 'temp_count', 'temporary', false],
    ['os', 'os_bytes', 'from the OS', true], ['calls', 'calls', 'calls', false],
  ];
  function frameName(f) {
    if (!isObj(f)) return '(stack unknown)';
    let n = str(f.sym);
    if (!n && f.obj) n = str(f.obj) + '+0x' + numOr(f.off, 0).toString(16);
    if (!n) n = str(f.addr);
    if (f.file) {
      const file = str(f.file);
      n += ' (' + file.slice(file.lastIndexOf('/') + 1) + ':' + numOr(f.line, 0) + ')';
    }
    return n;
  }
  function siteLabel(r) {
    let s = frameName(r.frame);
    const st = arr(r.stack);
    for (let i = 1; i < st.length && i < 4; i++) s += ' < ' + frameName(st[i]);
    if (st.length > 4) s += ' < …';
    return s;
  }
  const SITES = isObj(D.sites) ? D.sites : null;
  const ROWS = SITES ? arr(SITES.rows) : [];
  let fig = FIGS.find(f => f[0] === (SITES && SITES.sort)) || FIGS[0];
  let sortCol = 'change', sortDesc = true;
  const siteTable = document.getElementById('sites-table');
  const COLS = [['site', 'site'], ['in', 'in'], ['a', 'A'], ['b', 'B'], ['delta', 'B − A'], ['change', '|B − A|'],
    ['ratio', 'B / A'], ['calls_a', 'calls A'], ['calls_b', 'calls B']];

  function sortKey(r, col) {
    const v = V(r[fig[1]]);
    switch (col) {
      case 'site': return siteLabel(r);
      case 'in': return str(r.in);
      case 'a': return numOr(v.a, 0);
      case 'b': return numOr(v.b, 0);
      case 'delta': return numOr(v.delta, 0);
      case 'ratio': return v.ratio === null ? Infinity : v.ratio;
      case 'calls_a': return numOr(V(r.calls).a, 0);
      case 'calls_b': return numOr(V(r.calls).b, 0);
      default: return Math.abs(numOr(v.delta, 0));
    }
  }
  function drawSites() {
    siteTable.textContent = '';
    const head = el('tr');
    COLS.forEach(([key, name], i) => {
      const h = th(name, (i >= 2 ? 'num ' : '') + 'sortable' + (key === sortCol ? ' sorted' : ''));
      h.setAttribute('data-col', key);
      h.addEventListener('click', () => {
        sortDesc = sortCol === key ? !sortDesc : key !== 'site' && key !== 'in';
        sortCol = key;
        drawSites();
      });
      head.appendChild(h);
    });
    siteTable.appendChild(head);
    const rows = ROWS.slice();
    rows.sort((x, y) => {
      const a = sortKey(x, sortCol), b = sortKey(y, sortCol);
      const c = a < b ? -1 : a > b ? 1 : 0;
      return sortDesc ? -c : c;
    });
    rows.forEach(r => {
      const v = V(r[fig[1]]), c = V(r.calls);
      const tr = el('tr', 'site-row');
      tr.setAttribute('data-key', str(r.key));
      tr.setAttribute('data-in', str(r.in));
      tr.setAttribute('data-delta', String(numOr(v.delta, 0)));
      const t = td(siteLabel(r), 'mono');
      t.title = str(r.key);
      tr.appendChild(t);
      const inCell = td('');
      inCell.appendChild(el('span', 'tag ' + str(r.in), r.in === 'both' ? 'both' : r.in === 'a' ? 'only in A' : 'only in B'));
      tr.appendChild(inCell);
      tr.appendChild(td(fmtVal(v.a, fig[3]), 'num'));
      tr.appendChild(td(fmtVal(v.b, fig[3]), 'num'));
      tr.appendChild(td(fmtDelta(v.delta, fig[3]), 'num ' + cls(v.delta)));
      tr.appendChild(td(fmtVal(Math.abs(numOr(v.delta, 0)), fig[3]), 'num'));
      tr.appendChild(td(fmtRatio(v.ratio), 'num'));
      tr.appendChild(td(fmtVal(c.a, false), 'num'));
      tr.appendChild(td(fmtVal(c.b, false), 'num'));
      siteTable.appendChild(tr);
    });
  }
  const hint = document.getElementById('sites-hint');
  if (SITES) {
    const MATCH = { site: 'the function and source line of the call site', function: 'the function of the call site (any line)',
      stack: 'the whole stack outside the allocator' };
    const m = Object.prototype.hasOwnProperty.call(MATCH, SITES.match) ? MATCH[SITES.match] : str(SITES.match);
    hint.textContent = 'Matched by ' + m + ': ' + numOr(SITES.both, 0) + ' in both, ' + numOr(SITES.only_a, 0) +
      ' only in A, ' + numOr(SITES.only_b, 0) + ' only in B' +
      (numOr(SITES.rows_omitted, 0) ? ' (' + SITES.rows_omitted + ' rows with the smallest changes left out; all of them with --json)' : '') +
      '. Click a column to sort by it.';
    const seg = document.getElementById('site-figs');
    FIGS.forEach(f => {
      const b = el('button', f === fig ? 'on' : '', f[2]);
      b.type = 'button';
      b.setAttribute('data-fig', f[0]);
      b.addEventListener('click', () => {
        fig = f;
        seg.querySelectorAll('button').forEach(x => x.classList.toggle('on', x === b));
        drawSites();
      });
      seg.appendChild(b);
    });
    drawSites();
  } else {
    const box = el('div', 'empty', 'Call sites not compared: ');
    [[A, 'A'], [B, 'B']].forEach(([s, n]) => { if (s.sites_unavailable) box.appendChild(el('div', '', n + ': ' + str(s.sites_unavailable))); });
    siteTable.parentNode.replaceWith(box);
  }

  // ---------- OS requests ----------
  const SYS_VAR = { brk: '--brk', mmap: '--mmapc', munmap: '--munmap', mremap: '--mremap', mprotect: '--mprotect', madvise: '--madvise' };
  const sysColor = s => 'var(' + (Object.prototype.hasOwnProperty.call(SYS_VAR, s) ? SYS_VAR[s] : '--other') + ')';
  const SYSC = arr(D.syscalls);
  let maxN = 1;
  SYSC.forEach(s => { const v = V(s.count); maxN = Math.max(maxN, numOr(v.a, 0), numOr(v.b, 0)); });
  const osTable = document.getElementById('os-table');
  headRow(osTable, ['syscall, cause', 'A', 'B', 'B − A', 'B / A', 'A (upper), B (lower)'], 1);
  function pairCell(v, color) {
    const cell = td('');
    const p = el('div', 'pair');
    ['a', 'b'].forEach(k => {
      const bar = el('div', 'bar ' + k);
      bar.style.width = (100 * numOr(v[k], 0) / maxN).toFixed(2) + '%';
      bar.style.background = color;
      bar.setAttribute('data-side', k);
      p.appendChild(bar);
    });
    cell.appendChild(p);
    return cell;
  }
  SYSC.forEach(s => {
    const name = str(s.syscall);
    const v = V(s.count);
    const tr = valueRow(osTable, name, v, false, 'sys-row');
    tr.firstChild.style.fontWeight = '600';
    tr.setAttribute('data-sys', name);
    tr.appendChild(pairCell(v, sysColor(name)));
    arr(s.causes).forEach(c => {
      const cv = V(c.count);
      const cause = str(c.cause);
      const label = (cause === 'direct' || cause === 'unknown' ? '' : 'by ') + cause;
      const row = valueRow(osTable, label, cv, false, 'cause-row');
      row.setAttribute('data-sys', name);
      row.setAttribute('data-cause', cause);
      row.appendChild(pairCell(cv, sysColor(name)));
    });
  });
  const legend = document.getElementById('os-legend');
  legend.appendChild(el('span', 'item', 'upper bar: A · lower bar: B'));

  // ---------- tables ----------
  const BYTES = [['live_peak', 'live, peak'], ['live', 'live, at the end'], ['heap_peak', 'brk heap, peak'],
    ['heap', 'brk heap, at the end'], ['mmap_peak', 'mmapped, peak'], ['mmap', 'mmapped, at the end'],
    ['committed_peak', 'committed, peak'], ['committed', 'committed, at the end'],
    ['direct_mmap', "program's own mappings"], ['returned_munmap', 'returned: munmap'],
    ['returned_madvise', 'returned: madvise'], ['returned_brk', 'returned: brk shrink']];
  const bt = document.getElementById('bytes-table');
  headRow(bt, ['', 'A', 'B', 'B − A', 'B / A'], 1);
  BYTES.forEach(([k, l]) => valueRow(bt, l, V(bytes[k]), true, 'bytes-row').setAttribute('data-fig', k));

  const tt = document.getElementById('thr-table');
  headRow(tt, ['', 'A', 'B', 'B − A', 'B / A'], 1);
  [['start', true], ['moves', false], ['end', true]].forEach(([k, b]) => valueRow(tt, k, V(thr[k]), b, 'thr-row'));
  const STATE = { no_summary: 'no summary record', none: 'the allocator has no mmap threshold' };
  [[A, 'A'], [B, 'B']].forEach(([s, n]) => {
    const st = isObj(s.threshold) ? str(s.threshold.state) : '';
    if (Object.prototype.hasOwnProperty.call(STATE, st)) tt.parentNode.insertBefore(el('p', 'hint', n + ': ' + STATE[st]), tt.nextSibling);
  });

  const ft = document.getElementById('fn-table');
  headRow(ft, ['function', 'calls A', 'calls B', 'B − A', 'B / A'], 1);
  const cv = V(counts.calls);
  valueRow(ft, 'all', cv, false, 'fn-row');
  arr(D.functions).forEach(f => valueRow(ft, str(f.fn), V(f.calls), false, 'fn-row'));

  const rt = document.getElementById('region-table');
  headRow(rt, ['region', 'A', 'B', 'B − A', 'B / A'], 1);
  const RF = [['made', 'regions made', false], ['mapped_end', 'mapped at the end', false],
    ['committed_end', 'committed at the end', true], ['allocs', 'allocations', false], ['alloc_bytes', 'bytes allocated', true]];
  arr(D.regions).forEach(g => RF.forEach(([k, l, b]) => {
    if (isObj(g[k])) valueRow(rt, str(g.region) + ': ' + l, V(g[k]), b, 'region-row');
  }));

  document.body.setAttribute('data-ready', '1');
})();
