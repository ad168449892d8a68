/* SPDX-License-Identifier: GPL-2.0 */
// sites.js - the report's "Call sites" panel: a sortable, searchable table
// of the call sites, the allocation flame graph (weights: bytes allocated,
// live at peak, leaked, temporary), and the selected site's allocations,
// OS requests and regions, marked on the address map. Its data is the
// data block's "sites" (report_sites.c: the trace replayed through the same
// call-site aggregation as the trace's own "sites" record). Loaded before
// report.js, whose init() calls window.amSites(R) with the helpers they
// share. Everything from the trace is put in the page as text
// (textContent), never as markup.
(function () {
  'use strict';

  const WEIGHTS = [
    { key: 'bytes', name: 'bytes allocated', what: 'the bytes its allocations requested' },
    { key: 'peak_bytes', name: 'live at peak', what: 'its bytes live when its process\'s live bytes peaked' },
    { key: 'leak_bytes', name: 'leaked', what: 'its bytes still live at the end' },
    { key: 'temp_bytes', name: 'temporary', what: 'the bytes of its temporaries (freed by the same thread\'s next allocator call)' },
  ];
  const COLS = [
    { key: 'label', name: 'site', text: true },
    { key: 'calls', name: 'calls' },
    { key: 'bytes', name: 'bytes allocated' },
    { key: 'peak_bytes', name: 'live at peak' },
    { key: 'leak_bytes', name: 'leaked' },
    { key: 'temp_count', name: 'temporaries' },
    { key: 'os_bytes', name: 'bytes from the OS' },
  ];
  const FIGS = ['calls', 'bytes', 'peak_count', 'peak_bytes', 'leak_count', 'leak_bytes', 'temp_count', 'temp_bytes', 'os_bytes'];
  const ROW = 19;

  const isRec = o => o && typeof o === 'object' && !Array.isArray(o);
  const nums = a => Array.isArray(a) ? a.map(x => typeof x === 'number' && isFinite(x) ? x : 0) : [];
  const n0 = v => typeof v === 'number' && isFinite(v) ? v : 0;
  const base = f => f.replace(/^.*\//, '');

  window.amSites = function (R) {
    const S = R.D.sites, $ = id => document.getElementById(id);
    const mk = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text != null) e.textContent = text; return e; };
    const st = { sort: 'bytes', dir: -1, q: '', w: 0, zoom: null, sel: -1, tree: null };
    const fmtN = R.fmtInt;

    if (!isRec(S) || typeof S.error === 'string' || !Array.isArray(S.list)) {
      $('sites-body').hidden = true;
      $('sites-search').hidden = true;
      const box = mk('div', 'empty');
      box.id = 'sites-empty';
      box.appendChild(mk('div', null, 'No call sites in this report: ' + (isRec(S) && typeof S.error === 'string' ? S.error : 'the data block has none') + '.'));
      box.appendChild(mk('div', null, 'They need every allocator call with its stack: allocmap trace --stacks --html report.html -- CMD makes a report with them.'));
      $('sites-panel').appendChild(box);
      return;
    }

    // ---------- the data, checked by type ----------
    const STR = Array.isArray(S.strings) ? S.strings.map(x => typeof x === 'string' ? x : '') : [];
    const FR = nums(S.frames);
    const str = i => i >= 0 && i < STR.length ? STR[i] : '';
    function frame(id) {
      if (!(id >= 0) || id * 4 + 3 >= FR.length) return null;
      return { name: str(FR[id * 4]) || '?', obj: str(FR[id * 4 + 1]), file: str(FR[id * 4 + 2]), line: FR[id * 4 + 3] };
    }
    const fig = o => { const f = {}; for (const k of FIGS) f[k] = n0(isRec(o) ? o[k] : 0); return f; };
    const TOTAL = fig(S.total), REST = fig(S.rest), FREST = Object.assign(fig(S.flame_rest), { stacks: n0(isRec(S.flame_rest) ? S.flame_rest.stacks : 0) });
    const multiPid = new Set(S.list.map(s => isRec(s) ? s.pid : 0)).size > 1;
    const SITES = S.list.filter(isRec).map((s, i) => {
      const f = frame(s.frame);
      const x = Object.assign(fig(s), {
        i, pid: n0(s.pid), stacks: n0(s.stacks), frame: f, name: f ? f.name : '(stack unknown)', file: f ? f.file : '', obj: f ? f.obj : '',
        line: f ? f.line : 0, allocs: nums(s.allocs), os: nums(s.os), os_count: n0(s.os_count), live_regions: nums(s.live_regions),
        placed: isRec(s.placed) ? s.placed : {},
      });
      x.where = f ? (f.file ? base(f.file) + (f.line ? ':' + f.line : '') : f.obj) : '';
      x.label = x.name + (x.where ? ' (' + x.where + ')' : '');
      x.hay = (x.name + '\u0000' + x.file + '\u0000' + x.obj).toLowerCase();
      return x;
    });
    const matches = s => !st.q || s.hay.includes(st.q);

    // ---------- the timeline's range ----------
    // S.by_time: w ns columns; cells of page site (-1 not in the page),
    // drawn stack (-1 not drawn), column, calls, bytes of the allocations
    // whose call began in the column. Under a range: those sums over the
    // columns the range touches ({f0, f1} their span), or null (no range,
    // or the trace had more cells than were kept: the whole trace).
    const BT = isRec(S.by_time) ? S.by_time : null, BTC = BT ? nums(BT.cells) : [];
    let rfKey = null, rfVal = null;
    function rangeFigs() {
      const r = typeof R.range === 'function' ? R.range() : null;
      if (!r || !BT || BT.over || !(n0(BT.w) > 0)) return null;
      const key = r[0] + ',' + r[1];
      if (key === rfKey) return rfVal;
      const w = BT.w, c0 = Math.floor(r[0] / w), c1 = Math.max(c0 + 1, Math.ceil(r[1] / w));
      const v = { f0: c0 * w, f1: c1 * w, site: new Map(), stack: new Map(), rest: { calls: 0, bytes: 0 }, frest: { calls: 0, bytes: 0 }, total: { calls: 0, bytes: 0 } };
      const add = (m, k, calls, bytes) => { let o = m.get(k); if (!o) m.set(k, o = { calls: 0, bytes: 0 }); o.calls += calls; o.bytes += bytes; };
      for (let i = 0; i + 4 < BTC.length; i += 5) {
        if (BTC[i + 2] < c0 || BTC[i + 2] >= c1) continue;
        const calls = BTC[i + 3], bytes = BTC[i + 4];
        if (BTC[i] >= 0) add(v.site, BTC[i], calls, bytes); else { v.rest.calls += calls; v.rest.bytes += bytes; }
        if (BTC[i + 1] >= 0) add(v.stack, BTC[i + 1], calls, bytes); else { v.frest.calls += calls; v.frest.bytes += bytes; }
        v.total.calls += calls; v.total.bytes += bytes;
      }
      rfKey = key; rfVal = v;
      return v;
    }
    const rangeNote = rf => 'the calls that began in ' + R.fmtTime(rf.f0) + ' – ' + R.fmtTime(rf.f1) + ' (the timeline\'s range, to ' + R.fmtTime(BT.w) + ' steps; every thread)';

    // ---------- tooltip: text nodes only ----------
    const tip = $('tip');
    function showTip(ev, lines) {
      tip.replaceChildren(...lines.map((l, i) => mk('div', i ? 'r' : 't', l)));
      tip.hidden = false;
      const w = tip.offsetWidth, h = tip.offsetHeight;
      let x = ev.clientX + 14, y = ev.clientY + 14;
      if (x + w > window.innerWidth - 8) x = ev.clientX - w - 14;
      if (y + h > window.innerHeight - 8) y = ev.clientY - h - 14;
      tip.style.left = Math.max(4, x) + 'px';
      tip.style.top = Math.max(4, y) + 'px';
    }

    // ---------- the table ----------
    function cellNum(tr, v, sub) {
      const td = mk('td', 'num');
      td.appendChild(document.createTextNode(v));
      if (sub) td.appendChild(mk('div', 'muted', sub));
      tr.appendChild(td);
    }
    function siteCell(tr, s) {
      const td = mk('td', 'site-cell');
      td.appendChild(mk('b', 'mono', s.name));
      if (s.where) td.appendChild(mk('span', 'where muted', ' ' + s.where));
      const extra = [];
      if (multiPid) extra.push('pid ' + s.pid);
      if (s.stacks > 1) extra.push(s.stacks + ' stacks');
      if (extra.length) td.appendChild(mk('span', 'muted', ' · ' + extra.join(' · ')));
      tr.appendChild(td);
    }
    function figRow(tb, cls, label, f, rf) {
      const tr = mk('tr', cls);
      tr.appendChild(mk('td', null, label));
      cellNum(tr, R.fmtInt(f.calls));
      cellNum(tr, R.fmtBytes(f.bytes));
      if (rf) {
        for (let k = 0; k < 4; k++) cellNum(tr, '–');
        tr.setAttribute('data-calls', f.calls);
        tr.setAttribute('data-bytes', f.bytes);
        tb.appendChild(tr);
        return;
      }
      cellNum(tr, R.fmtBytes(f.peak_bytes));
      cellNum(tr, R.fmtBytes(f.leak_bytes));
      cellNum(tr, R.fmtInt(f.temp_count), R.fmtBytes(f.temp_bytes));
      cellNum(tr, R.fmtBytes(f.os_bytes));
      tb.appendChild(tr);
    }
    function sorted(rf) {
      const k = st.sort, d = st.dir;
      const rows = rf ? SITES.map(s => Object.assign({}, s, rf.site.get(s.i) || { calls: 0, bytes: 0 })) : SITES;
      return rows.filter(matches).sort((a, b) => {
        const x = a[k], y = b[k];
        if (x !== y) return (typeof x === 'string' ? (x < y ? -1 : 1) : x < y ? -1 : 1) * d;
        return a.i - b.i;
      });
    }
    function table() {
      const tb = $('sites-table');
      tb.replaceChildren();
      const head = mk('tr');
      for (const c of COLS) {
        const th = mk('th', (c.text ? '' : 'num ') + 'sortable', c.name + (st.sort === c.key ? (st.dir < 0 ? ' ▼' : ' ▲') : ''));
        th.setAttribute('data-sort', c.key);
        th.setAttribute('aria-sort', st.sort === c.key ? (st.dir < 0 ? 'descending' : 'ascending') : 'none');
        th.title = 'sort by ' + c.name;
        th.addEventListener('click', () => {
          if (st.sort === c.key) st.dir = -st.dir; else { st.sort = c.key; st.dir = c.text ? 1 : -1; }
          table();
        });
        head.appendChild(th);
      }
      const thead = mk('thead');
      thead.appendChild(head);
      tb.appendChild(thead);
      const rf = rangeFigs(), body = mk('tbody'), rows = sorted(rf);
      tb.toggleAttribute('data-ranged', !!rf);
      if (rf) { tb.setAttribute('data-f0', rf.f0); tb.setAttribute('data-f1', rf.f1); } else { tb.removeAttribute('data-f0'); tb.removeAttribute('data-f1'); }
      for (const s of rows) {
        const tr = mk('tr', 'site-row' + (s.i === st.sel ? ' sel' : ''));
        const data = rf ? { site: s.i, name: s.name, calls: s.calls, bytes: s.bytes } :
          { site: s.i, name: s.name, calls: s.calls, bytes: s.bytes, peak: s.peak_bytes, leak: s.leak_bytes,
            temp: s.temp_count, 'temp-bytes': s.temp_bytes, os: s.os_bytes };
        for (const k in data) tr.setAttribute('data-' + k, data[k]);
        siteCell(tr, s);
        cellNum(tr, R.fmtInt(s.calls));
        cellNum(tr, R.fmtBytes(s.bytes));
        if (rf) {
          for (let k = 0; k < 4; k++) cellNum(tr, '–');
          tr.addEventListener('click', () => select(s.i, true));
          body.appendChild(tr);
          continue;
        }
        cellNum(tr, R.fmtBytes(s.peak_bytes), s.peak_count ? R.fmtInt(s.peak_count) + ' live' : null);
        cellNum(tr, R.fmtBytes(s.leak_bytes), s.leak_count ? R.fmtInt(s.leak_count) + (s.leak_count === 1 ? ' block' : ' blocks') : null);
        cellNum(tr, R.fmtInt(s.temp_count), s.temp_count ? R.fmtBytes(s.temp_bytes) : null);
        cellNum(tr, R.fmtBytes(s.os_bytes));
        tr.addEventListener('click', () => select(s.i, true));
        body.appendChild(tr);
      }
      if (!rows.length) {
        const tr = mk('tr', 'site-none');
        const td = mk('td', 'muted', SITES.length ? 'no site matches the search' : 'no allocations in this trace');
        td.colSpan = COLS.length;
        tr.appendChild(td);
        body.appendChild(tr);
      }
      tb.appendChild(body);
      const foot = mk('tfoot');
      if (REST.calls || REST.os_bytes) figRow(foot, 'site-rest', fmtN(n0(S.n_sites) - SITES.length) + ' other sites (not in the page)', rf ? rf.rest : REST, rf);
      figRow(foot, 'site-total', 'total, ' + fmtN(n0(S.n_sites)) + ' sites', rf ? rf.total : TOTAL, rf);
      tb.appendChild(foot);
      $('sites-table-head').textContent = 'Sites: ' + (st.q ? fmtN(rows.length) + ' of ' + fmtN(SITES.length) + ' match' : fmtN(SITES.length) +
        (SITES.length < n0(S.n_sites) ? ' of ' + fmtN(n0(S.n_sites)) : '')) + ', sorted by ' + COLS.find(c => c.key === st.sort).name +
        ' (' + (st.dir < 0 ? 'largest' : 'smallest') + ' first; click a header to sort)' +
        (rf ? '. Calls and bytes allocated: ' + rangeNote(rf) + '; live at peak, leaked, temporaries and bytes from the OS are states or sums of the whole trace, shown as –' :
          R.range && R.range() ? '. The whole trace (the range cannot be applied: ' + (BT ? 'more allocation cells than the page keeps' : 'no times in the data') + ')' : '');
    }

    // ---------- the allocation flame graph ----------
    // S.stacks, flat: site, bytes, peak, leaked, temporary bytes, calls,
    // truncated, n, then n frame ids root first; the site is the leaf.
    function build(rf) {
      const A = nums(S.stacks);
      let si = 0;
      const node = (name, obj, file, line, site, parent) => ({ name, obj, file, line, site, parent, w: [0, 0, 0, 0], calls: 0, children: new Map(), lines: false });
      const root = node('all', '', '', 0, -1, null);
      const step = (cur, key, make, w, calls) => {
        let c = cur.children.get(key);
        if (!c) { c = make(); cur.children.set(key, c); }
        for (let k = 0; k < 4; k++) c.w[k] += w[k];
        c.calls += calls;
        return c;
      };
      for (let i = 0; i + 8 <= A.length;) {
        const rs = rf ? rf.stack.get(si) || { calls: 0, bytes: 0 } : null;
        const site = A[i], w = rs ? [rs.bytes, 0, 0, 0] : [A[i + 1], A[i + 2], A[i + 3], A[i + 4]], calls = rs ? rs.calls : A[i + 5], trunc = A[i + 6], n = A[i + 7];
        i += 8;
        si++;
        for (let k = 0; k < 4; k++) root.w[k] += w[k];
        root.calls += calls;
        let cur = root;
        if (trunc) cur = step(cur, '\u0001trunc', () => node('[stack cut short]', '', '', 0, -1, cur), w, calls);
        for (let j = 0; j < n && i + j < A.length; j++) {
          const f = frame(A[i + j]) || { name: '?', obj: '', file: '', line: 0 }, parent = cur;
          cur = step(cur, f.name + '\u0000' + f.obj, () => node(f.name, f.obj, f.file, f.line, -1, parent), w, calls);
          if (cur.file !== f.file || cur.line !== f.line) cur.lines = true;
        }
        i += n;
        const s = SITES[site], parent = cur;
        cur = step(cur, '\u0002' + site, () => node(s ? s.name : '?', s ? s.obj : '', s ? s.file : '', s ? s.line : 0, site, parent), w, calls);
      }
      if (FREST.stacks || (rf && rf.frest.calls)) {
        const rest = node(fmtN(FREST.stacks) + ' more stacks (not drawn)', '', '', 0, -1, root);
        rest.rest = true;
        rest.w = rf ? [rf.frest.bytes, 0, 0, 0] : [FREST.bytes, FREST.peak_bytes, FREST.leak_bytes, FREST.temp_bytes];
        rest.calls = rf ? rf.frest.calls : FREST.calls;
        root.children.set('\u0003rest', rest);
        for (let k = 0; k < 4; k++) root.w[k] += rest.w[k];
        root.calls += rest.calls;
      }
      root.ranged = !!rf;
      return root;
    }
    const nodeHit = n => st.q && (n.name + '\u0000' + n.file + '\u0000' + n.obj).toLowerCase().includes(st.q);
    function color(n) {
      if (n.rest) return '#c9d0d9';
      let h = 2166136261;
      for (let i = 0; i < n.name.length; i++) h = Math.imul(h ^ n.name.charCodeAt(i), 16777619);
      const x = (h >>> 0) / 4294967296;
      if (n.site >= 0) return 'hsl(' + (345 + x * 20).toFixed(0) + ',70%,' + (62 + x * 8).toFixed(0) + '%)';
      if (n.obj && /\.so(\.|$)/.test(n.obj)) return 'hsl(' + (168 + x * 30).toFixed(0) + ',38%,' + (66 + x * 8).toFixed(0) + '%)';
      return 'hsl(' + (28 + x * 22).toFixed(0) + ',80%,' + (62 + x * 8).toFixed(0) + '%)';
    }
    function flameTip(ev, n, root) {
      const v = n.w[st.w], tot = root.w[st.w], W = WEIGHTS[st.w];
      const lines = [n.site >= 0 ? SITES[n.site].label : n.name];
      if (n.site >= 0) lines.push('call site' + (multiPid ? ' in pid ' + SITES[n.site].pid : '') + ': click for its allocations');
      if (n.obj) lines.push('in ' + n.obj);
      if (n.file && n.site < 0) lines.push(n.file + (n.line ? ':' + n.line : '') + (n.lines ? ' (and other lines)' : ''));
      lines.push(W.name + ': ' + R.fmtBytes(v) + ' (' + fmtN(v) + ' B)' + (tot ? ', ' + (100 * v / tot).toFixed(1) + '% of all' : ''));
      lines.push('allocations through here: ' + fmtN(n.calls));
      if (!root.ranged) for (let k = 0; k < 4; k++) if (k !== st.w) lines.push(WEIGHTS[k].name + ': ' + R.fmtBytes(n.w[k]));
      if (n.site < 0 && !n.rest && n !== root) lines.push('click to zoom');
      showTip(ev, lines);
    }
    function flame() {
      const box = $('afg');
      box.replaceChildren();
      if (!st.tree) st.tree = build(null);
      const rf = st.w === 0 ? rangeFigs() : null;
      if (rf && st.rkey !== rfKey) { st.rtree = build(rf); st.rkey = rfKey; st.zoom = null; }
      const root = rf ? st.rtree : st.tree;
      if (st.zoom) { let z = st.zoom; while (z.parent) z = z.parent; if (z !== root) st.zoom = null; }
      const zoom = st.zoom || root, wk = st.w, val = n => n.w[wk];
      const anc = [];
      for (let p = zoom.parent; p; p = p.parent) anc.unshift(p);
      const W = Math.max(600, box.clientWidth), zv = val(zoom), rows = [];
      anc.forEach((n, d) => rows.push([n, 0, W, d, true]));
      let depth = anc.length, matched = 0;
      const lay = (n, x, d, inMatch) => {
        const w = zv ? val(n) / zv * W : 0;
        const hit = nodeHit(n);
        if (hit && !inMatch) matched += val(n);
        if (w < 0.4 || val(n) <= 0) return;
        rows.push([n, x, w, d, false, hit]);
        depth = Math.max(depth, d);
        let cx = x;
        const kids = Array.from(n.children.values()).filter(c => val(c) > 0).sort((a, b) => val(b) - val(a) || (a.name < b.name ? -1 : 1));
        for (const c of kids) { lay(c, cx, d + 1, inMatch || hit); cx += val(c) / zv * W; }
      };
      if (zv > 0) lay(zoom, 0, anc.length, false);
      const H = (depth + 1) * ROW + 2, SVGNS = 'http://www.w3.org/2000/svg';
      const svg = R.sv('svg', { width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, id: 'afg-svg', 'data-weight': WEIGHTS[wk].key,
        'data-total': val(root), 'data-calls': root.calls, 'data-range': rf ? rf.f0 + ',' + rf.f1 : '', 'data-matched': matched, class: st.q ? 'searching' : '' });
      box.appendChild(svg);
      const nodeOf = [];
      rows.forEach(([n, x, w, d, isAnc, hit]) => {
        const g = document.createElementNS(SVGNS, 'g');
        g.setAttribute('class', 'afg-frame' + (isAnc ? ' anc' : '') + (n.site >= 0 ? ' leaf' : '') + (hit ? ' match' : '') + (n.site >= 0 && n.site === st.sel ? ' sel' : ''));
        g.setAttribute('data-i', nodeOf.length);
        g.setAttribute('data-name', n.name);
        g.setAttribute('data-site', n.site);
        g.setAttribute('data-w', val(n));
        g.setAttribute('transform', 'translate(' + x.toFixed(2) + ',' + (d * ROW + 1) + ')');
        g.appendChild(R.sv('rect', { width: Math.max(0.4, w - 0.5).toFixed(2), height: ROW - 1, rx: 2, fill: n === root ? '#c9d0d9' : color(n) }));
        if (w > 34) {
          const t = R.sv('text', { x: 5, y: ROW - 6 });
          const full = n === root ? 'all · ' + R.fmtBytes(val(root)) : n.site >= 0 ? SITES[n.site].label : n.name, room = Math.floor((w - 10) / 6.3);
          t.textContent = full.length > room ? full.slice(0, Math.max(1, room - 1)) + '…' : full;
          g.appendChild(t);
        }
        nodeOf.push(n);
        svg.appendChild(g);
      });
      const hitOf = ev => { const g = ev.target.closest && ev.target.closest('.afg-frame'); return g ? nodeOf[+g.getAttribute('data-i')] : null; };
      svg.addEventListener('mousemove', ev => { const n = hitOf(ev); if (n) flameTip(ev, n, root); else R.hideTip(); });
      svg.addEventListener('mouseleave', R.hideTip);
      svg.addEventListener('click', ev => {
        const n = hitOf(ev);
        if (!n || n.rest) return;
        R.hideTip();
        if (n.site >= 0) { select(n.site, true); return; }
        st.zoom = n === root ? null : n;
        flame();
      });
      crumbs(anc.concat([zoom]), root, zv);
      hint(root, matched);
    }
    function crumbs(path, root, zv) {
      const cr = $('afg-crumbs');
      cr.replaceChildren();
      path.forEach((n, i) => {
        if (i) cr.appendChild(mk('span', 'sep', '›'));
        const a = mk('a', null, n === root ? 'all (' + R.fmtBytes(root.w[st.w]) + ')' : n.name);
        a.addEventListener('click', () => { st.zoom = n === root ? null : n; flame(); });
        cr.appendChild(a);
      });
      if (path.length > 1) cr.appendChild(mk('span', 'muted', ' — ' + R.fmtBytes(zv) + ', ' + (100 * zv / Math.max(1, root.w[st.w])).toFixed(1) + '% of all'));
    }
    function hint(root, matched) {
      const W = WEIGHTS[st.w], h = $('afg-hint');
      h.textContent = 'The allocation stacks, root on top; each column ends in its call site (the leaf: click it to select the site). Width: ' +
        W.name + ', ' + W.what + '. Frames above the sites are merged by function; hover for details, click a frame to zoom.' +
        (root.ranged ? ' Under the timeline\'s range: ' + rangeNote(rangeFigs()) + '.' : R.range && R.range() ? ' The whole trace: ' + (st.w ? 'this weight is a state, not a sum over time' : 'the range cannot be applied') + '.' : '') +
        (n0(S.sample) > 1 ? ' Only every ' + n0(S.sample) + 'th call had a stack (--sample): the weights are of those calls.' : '');
      $('sites-match').textContent = st.q ? 'matched in the graph: ' + R.fmtBytes(matched) + ' of ' + R.fmtBytes(root.w[st.w]) +
        ' (' + (root.w[st.w] ? (100 * matched / root.w[st.w]).toFixed(1) : '0') + '%)' : '';
    }
    function setWeight(k) {
      st.w = k;
      for (let i = 0; i < 4; i++) $('afg-w' + i).classList.toggle('on', i === k);
      flame();
    }

    // ---------- the selected site ----------
    const regionName = ri => { const r = R.REG_BY_I.get(ri); return r ? r.label + ' ' + R.hex(r.start) : ri < 0 ? 'unknown' : 'region #' + ri; };
    function kv(tb, k, v) {
      const tr = mk('tr');
      tr.appendChild(mk('td', null, k));
      tr.appendChild(mk('td', 'num', v));
      tb.appendChild(tr);
    }
    function gotoRegion(ri, t) {
      const r = R.REG_BY_I.get(ri);
      if (t != null) R.map.t = Math.max(0, Math.min(t, R.D.duration));
      R.addressMap();
      if (r) R.selectRegion(r);
      $('map-panel').scrollIntoView({ behavior: 'smooth', block: 'start' });
    }
    function allocTable(box, s) {
      const n = s.allocs.length / 7;
      box.appendChild(mk('h3', null, 'Its allocations: ' + fmtN(s.calls) + (n < s.calls ? ', the first ' + fmtN(n) + ' listed' : '')));
      if (n < s.calls) box.appendChild(mk('div', 'muted', 'The page keeps the first ' + fmtN(n0(S.caps && S.caps.allocs_per_stack)) + ' allocations of each stack (' +
        fmtN(n0(S.caps && S.caps.allocs_per_site)) + ' per site, ' + fmtN(n0(S.caps && S.caps.allocs_kept)) + ' in all); the figures above count them all.'));
      if (!n) return;
      const tb = mk('table', 'data');
      tb.id = 'site-allocs';
      const h = mk('tr');
      for (const c of ['call #', 'address', 'size', 'allocated at', 'freed at', 'tid', 'region']) h.appendChild(mk('th', c === 'region' || c === 'address' ? null : 'num', c));
      tb.appendChild(h);
      for (let k = 0; k < n; k++) {
        const a = s.allocs.slice(k * 7, k * 7 + 7), tr = mk('tr', 'site-alloc');
        tr.setAttribute('data-call', a[0]);
        tr.setAttribute('data-size', a[2]);
        tr.setAttribute('data-region', a[5]);
        tr.appendChild(mk('td', 'num', String(a[0])));
        tr.appendChild(mk('td', 'mono', R.hex(a[1])));
        tr.appendChild(mk('td', 'num', R.fmtBytes(a[2])));
        tr.appendChild(mk('td', 'num', R.fmtTime(a[3])));
        tr.appendChild(mk('td', 'num' + (a[4] === -1 ? ' warn' : ''), a[4] === -1 ? 'live at the end' : a[4] === -2 ? 'gone (free not seen)' : R.fmtTime(a[4])));
        tr.appendChild(mk('td', 'num', String(a[6])));
        const td = mk('td');
        const link = mk('a', 'region-link', regionName(a[5]));
        if (a[5] >= 0) link.addEventListener('click', () => gotoRegion(a[5], a[3]));
        td.appendChild(link);
        tr.appendChild(td);
        tb.appendChild(tr);
      }
      box.appendChild(mk('div', 'table-wrap')).appendChild(tb);
    }
    function osTable(box, s) {
      box.appendChild(mk('h3', null, 'OS requests its calls made: ' + fmtN(s.os_count) + (s.os.length < s.os_count ? ', the first ' + fmtN(s.os.length) + ' listed' : '') +
        ' — ' + R.fmtBytes(s.os_bytes) + ' obtained from the OS'));
      if (!s.os.length) return;
      const tb = mk('table', 'data');
      tb.id = 'site-os';
      const h = mk('tr');
      for (const c of ['#', 'syscall', 'arguments', 'result', 'caused by', 'new region']) h.appendChild(mk('th', c === '#' ? 'num' : null, c));
      tb.appendChild(h);
      for (const id of s.os) {
        const o = R.OS_BY_ID.get(id), tr = mk('tr', 'site-os-row');
        tr.setAttribute('data-os', id);
        tr.appendChild(mk('td', 'num', String(id)));
        if (!o) {
          const td = mk('td', 'muted', 'not listed in the page (beyond the first ' + fmtN(n0(R.D.caps && R.D.caps.os)) + ' OS requests)');
          td.colSpan = 5;
          tr.appendChild(td);
        } else {
          const sc = mk('td');
          const tag = sc.appendChild(mk('span', 'sys', o.syscall));
          tag.style.background = R.sysColor(o.syscall);
          tr.appendChild(sc);
          tr.appendChild(mk('td', 'mono', R.osArgs(o)));
          tr.appendChild(mk('td', 'mono' + (o.error ? ' warn' : ''), R.osRet(o)));
          const c = o.cause || {};
          tr.appendChild(mk('td', null, c.kind === 'call' ? R.causeSig(c.call_id, c.fn, c.size) + ' #' + c.call_id : 'direct'));
          tr.appendChild(mk('td', null, o.region || ''));
          tr.addEventListener('click', () => R.highlightOsRow(id));
        }
        tb.appendChild(tr);
      }
      box.appendChild(mk('div', 'table-wrap')).appendChild(tb);
    }
    function liveTable(box, s) {
      const lr = s.live_regions;
      box.appendChild(mk('h3', null, 'Where its blocks live at the end: ' + (s.leak_count ? fmtN(s.leak_count) + ' blocks, ' + R.fmtBytes(s.leak_bytes) : 'none (all freed)')));
      if (!lr.length) return;
      const ul = mk('ul', 'site-live');
      ul.id = 'site-live';
      for (let k = 0; k + 3 <= lr.length; k += 3) {
        const li = mk('li');
        li.setAttribute('data-region', lr[k]);
        li.setAttribute('data-count', lr[k + 1]);
        li.setAttribute('data-bytes', lr[k + 2]);
        const a = li.appendChild(mk('a', 'region-link', regionName(lr[k])));
        if (lr[k] >= 0) a.addEventListener('click', () => gotoRegion(lr[k], R.D.duration));
        li.appendChild(document.createTextNode(': ' + fmtN(lr[k + 1]) + ' blocks, ' + R.fmtBytes(lr[k + 2])));
        ul.appendChild(li);
      }
      box.appendChild(ul);
    }
    function detail(s) {
      const box = $('site-detail');
      box.replaceChildren();
      box.hidden = false;
      box.setAttribute('data-site', s.i);
      const h = box.appendChild(mk('h3', null, 'Call site: '));
      h.appendChild(mk('span', 'mono', s.label));
      const f = s.frame;
      box.appendChild(mk('div', 'muted', [f ? (f.obj ? 'in ' + f.obj : '') + (f.file ? ' · ' + f.file + (f.line ? ':' + f.line : '') : '') : 'no frame outside the allocator known',
        'pid ' + s.pid, fmtN(s.stacks) + ' allocation stack' + (s.stacks === 1 ? '' : 's')].filter(x => x).join(' · ')));
      const tb = mk('table', 'data kv site-figs');
      kv(tb, 'allocations', fmtN(s.calls) + ' · ' + R.fmtBytes(s.bytes));
      kv(tb, 'live at its process\'s peak', fmtN(s.peak_count) + ' · ' + R.fmtBytes(s.peak_bytes));
      kv(tb, 'leaked (live at the end)', fmtN(s.leak_count) + ' · ' + R.fmtBytes(s.leak_bytes));
      kv(tb, 'temporaries', fmtN(s.temp_count) + ' · ' + R.fmtBytes(s.temp_bytes));
      kv(tb, 'bytes from the OS', R.fmtBytes(s.os_bytes));
      kv(tb, 'placed in', Object.keys(s.placed).map(k => { const p = nums(s.placed[k]); return k + ' ' + fmtN(p[0]) + ' (' + R.fmtBytes(p[1]) + ')'; }).join(', ') || '–');
      box.appendChild(tb);
      const bt = box.appendChild(mk('button', null, 'show on the address map'));
      bt.type = 'button';
      bt.id = 'site-to-map';
      bt.addEventListener('click', () => {
        const first = s.live_regions.length ? s.live_regions[0] : s.allocs.length ? s.allocs[5] : -1;
        gotoRegion(first, s.live_regions.length ? R.D.duration : s.allocs.length ? s.allocs[3] : null);
      });
      box.appendChild(mk('span', 'muted', '  its allocations are drawn in this colour there; the regions holding them are marked'));
      allocTable(box, s);
      osTable(box, s);
      liveTable(box, s);
    }
    function select(i, scroll) {
      const s = SITES[i];
      if (!s) return;
      st.sel = i;
      const calls = new Set(), regions = new Map();
      for (let k = 0; k + 7 <= s.allocs.length; k += 7) {
        calls.add(s.allocs[k]);
        if (s.allocs[k + 5] >= 0) regions.set(s.allocs[k + 5], (regions.get(s.allocs[k + 5]) || 0) + 1);
      }
      for (let k = 0; k + 3 <= s.live_regions.length; k += 3) if (!regions.has(s.live_regions[k])) regions.set(s.live_regions[k], 0);
      R.hooks.allocMark = id => calls.has(id);
      R.hooks.regionBadge = ri => regions.has(ri) ? 'selected site: ' + (regions.get(ri) ? fmtN(regions.get(ri)) + ' of its listed allocations' : 'blocks live at the end') : null;
      R.addressMap();
      document.querySelectorAll('#sites-table tr.site-row').forEach(tr => tr.classList.toggle('sel', +tr.getAttribute('data-site') === i));
      document.querySelectorAll('#afg .afg-frame.leaf').forEach(g => g.classList.toggle('sel', +g.getAttribute('data-site') === i));
      detail(s);
      if (scroll) $('site-detail').scrollIntoView({ behavior: 'smooth', block: 'nearest' });
    }

    // ---------- wiring ----------
    const notes = [];
    if (SITES.length < n0(S.n_sites)) notes.push('The page lists the top ' + fmtN(n0(S.caps && S.caps.sites_per_column)) + ' sites by each column (' + fmtN(SITES.length) + ' of ' +
      fmtN(n0(S.n_sites)) + '); the others are summed up in the table\'s last rows.');
    if (FREST.stacks) notes.push(fmtN(FREST.stacks) + ' of ' + fmtN(n0(S.n_stacks)) + ' allocation stacks are not drawn in the graph (drawn: the stacks of the listed sites, the top ' +
      fmtN(n0(S.caps && S.caps.flame_stacks_per_weight)) + ' by each weight, within ' + fmtN(n0(S.caps && S.caps.flame_frames)) + ' frames): their weight is one "more stacks" column.');
    if (S.incomplete === true) notes.push('Memory ran out while the sites were counted: some allocations are missing.');
    if (n0(S.sample) > 1) notes.push('Recorded with --sample ' + n0(S.sample) + ': only every ' + n0(S.sample) + 'th call had a stack; calls without one count under "(stack unknown)".');
    $('sites-notes').textContent = notes.join(' ');
    const search = $('sites-search');
    search.addEventListener('input', () => { st.q = search.value.trim().toLowerCase(); table(); flame(); });
    R.hooks.rangeChanged = () => { table(); flame(); };
    for (let k = 0; k < 4; k++) $('afg-w' + k).addEventListener('click', () => setWeight(k));
    $('afg-reset').addEventListener('click', () => { st.zoom = null; flame(); });
    let rt = null;
    window.addEventListener('resize', () => { clearTimeout(rt); rt = setTimeout(flame, 150); });
    table();
    flame();
    document.body.setAttribute('data-sites', SITES.length);
  };
})();
