/* SPDX-License-Identifier: GPL-2.0 */
// report.js - draws allocmap's HTML report from the JSON data block that
// report.c embeds (id "am-data"): summary cards, the timeline (bytes and OS
// request markers), the address map (regions and the allocations live in
// them), the threshold view, the flame graph of OS-requesting stacks, the
// leak report and the tables; the call-site panel is sites.js (loaded
// first, called from init() with the helpers it shares, and marking the
// selected site's allocations on the address map through `hooks`). Plain
// JS, SVG and canvas; no libraries, no network. Everything heavy was aggregated in C already: the
// data here is screen-sized whatever the trace's length.
(function () {
  'use strict';

  const D = JSON.parse(document.getElementById('am-data').textContent);

  // ---------- input hygiene ----------
  // The records (OS requests, calls, tasks, the summary and the leaks) come
  // from a JSONL file anyone can write. Every value of them is checked by
  // type before anything is drawn: numbers must be numbers, addresses hex
  // strings, and only the fields that are text may hold text (which esc()
  // escapes wherever it is drawn). Anything else is dropped.
  const TEXT_KEYS = new Set(['type', 'fn', 'role', 'syscall', 'prot', 'flags', 'advice', 'error', 'region',
    'reason', 'kind', 'why', 'sym', 'obj', 'file', 'signal', 'source', 'mode', 'allocator', 'origin']);
  const HEX_KEYS = new Set(['addr', 'ptr', 'ret', 'new_addr', 'memptr']);
  function clean(v, key, depth) {
    if (v === null || typeof v === 'boolean') return v;
    if (typeof v === 'number') return isFinite(v) ? v : undefined;
    if (typeof v === 'string') {
      if (HEX_KEYS.has(key)) return /^0x[0-9a-f]{1,16}$/i.test(v) ? v : undefined;
      return TEXT_KEYS.has(key) ? v : undefined;
    }
    if (typeof v !== 'object' || depth > 12) return undefined;
    if (Array.isArray(v)) return v.map(x => clean(x, null, depth + 1)).filter(x => x !== undefined);
    const o = {};
    for (const k of Object.keys(v)) {
      if (k === '__proto__' || k === 'constructor' || k === 'prototype') continue;
      const x = clean(v[k], k, depth + 1);
      if (x !== undefined) o[k] = x;
    }
    return o;
  }
  const isRec = o => o && typeof o === 'object' && !Array.isArray(o);
  D.os = (Array.isArray(D.os) ? D.os : []).map(o => clean(o, null, 0)).filter(o => isRec(o) && typeof o.id === 'number');
  D.calls = (Array.isArray(D.calls) ? D.calls : []).map(o => clean(o, null, 0)).filter(o => isRec(o) && typeof o.id === 'number');
  D.tasks = (Array.isArray(D.tasks) ? D.tasks : []).map(o => clean(o, null, 0)).filter(isRec);
  D.summary = isRec(D.summary) ? clean(D.summary, null, 0) : null;
  D.leaks = isRec(D.leaks) ? clean(D.leaks, null, 0) : null;
  if (D.leaks && !Array.isArray(D.leaks.groups)) D.leaks.groups = [];
  // a number for the page, '–' for anything else
  function num(v) { return typeof v === 'number' ? String(v) : '–'; }

  const S = D.summary || null;
  const CMD = Array.isArray(D.cmd) ? D.cmd.filter(x => typeof x === 'string') : [];
  // an argument as a shell would need it quoted (shown as text, never parsed)
  function shellWord(a) { return /^[\w@%+=:,./-]+$/.test(a) ? a : "'" + a.replace(/'/g, "'\\''") + "'"; }
  const T0 = D.t0;
  const DUR = Math.max(D.duration, 1);
  // the syscall lanes and their colours, the function names: the tables of
  // bpf/allocmap.h, as report.c wrote them
  const strs = a => Array.isArray(a) ? a.filter(x => typeof x === 'string') : [];
  const SYSCALLS = (Array.isArray(D.syscalls) ? D.syscalls : [])
    .filter(s => isRec(s) && typeof s.name === 'string' && /^#[0-9a-f]{6}$/i.test(s.color));
  const SYS = SYSCALLS.map(s => s.name);
  const SYS_COLOR = Object.create(null);
  SYSCALLS.forEach(s => { SYS_COLOR[s.name] = s.color; });
  SYS_COLOR.other = '#8b95a3';
  const SERIES = [
    { key: 'heap', name: 'brk heap', color: '#2f6fdb' },
    { key: 'mmap', name: 'mmapped (allocator)', color: '#e08a00' },
    { key: 'live', name: 'live in allocations', color: '#12976b' },
  ];
  // RSS over time: [t, bytes] pairs, the traced processes' sum as sampled
  // (every 50 ms); none in a trace from an allocmap before the samples: unknown
  const RSS = Array.isArray(D.rss) ? D.rss.filter(v => typeof v === 'number') : [];
  const NRSS = Math.floor(RSS.length / 2);
  const RSS_COLOR = '#b23a48';
  // RSS at t: the last point at or before it; null before the first (or none)
  function rssAt(t) {
    let lo = 0, hi = NRSS - 1, k = -1;
    while (lo <= hi) { const mid = (lo + hi) >> 1; if (RSS[mid * 2] <= t) { k = mid; lo = mid + 1; } else hi = mid - 1; }
    return k < 0 ? null : RSS[k * 2 + 1];
  }
  const rssTip = t => { const v = rssAt(t); return v != null ? fmtBytes(v) : NRSS ? 'unknown (not sampled yet)' : 'unknown (not sampled in this trace)'; };
  // a name from the trace is never a property lookup on the prototype
  const sysColor = k => Object.prototype.hasOwnProperty.call(SYS_COLOR, k) ? SYS_COLOR[k] : SYS_COLOR.other;
  const KIND_COLOR = { heap: '#2f6fdb', mmap: '#e08a00', arena: '#8a4fd8', other: '#8b95a3' };
  const SERVED = [
    { name: 'brk heap', color: '#2f6fdb' }, { name: 'own mmap', color: '#e08a00' },
    { name: 'thread arena', color: '#8a4fd8' }, { name: 'other', color: '#8b95a3' },
  ];
  const FN = strs(D.fn_names);   // index: the "fn" of an allocation lifetime (past the end: other)
  const FN_ROLE = Object.create(null);   // function name -> its role (the table's; --alloc ones too)
  strs(D.fn_roles).forEach((r, i) => { if (i < FN.length) FN_ROLE[FN[i]] = r; });
  const MAX_MARKERS = 4000;     // beyond this many in view, markers are binned per pixel column
  const OS_ROWS = 500;          // OS table rows rendered before "show all"

  // ---------- formatting ----------
  // a threshold field of the summary: "196 KiB", or "unknown (128 KiB–32 MiB)"
  function thrText(t, key) {
    if (t[key] != null) return fmtExact(t[key]);
    if (t[key + '_max'] != null) return 'unknown (' + fmtExact(t[key + '_min']) + '–' + fmtExact(t[key + '_max']) + ')';
    return '–';
  }
  function fmtBytes(n) {
    if (typeof n !== 'number' || !isFinite(n)) return '–';
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0, v = Math.abs(n);
    while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
    const s = i === 0 ? String(v) : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
    return (n < 0 ? '-' : '') + s.replace(/\.0+$|(\.\d*?)0+$/, '$1') + ' ' + u[i];
  }
  // a column's unit: the one its largest value is shown in
  function unitFor(max) {
    let i = 0, v = Math.abs(max);
    while (v >= 1024 && i < 4) { v /= 1024; i++; }
    return i;
  }
  // n in unit i (0 B, 1 KiB, ...): three significant digits, at most two decimals
  function fmtBytesIn(n, i) {
    if (typeof n !== 'number' || !isFinite(n)) return '–';
    const v = n / Math.pow(1024, i);
    const a = Math.abs(v), s = i === 0 ? String(n) : a === 0 ? '0' : a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(2);
    return s + ' ' + ['B', 'KiB', 'MiB', 'GiB', 'TiB'][i];
  }
  // a size shown exactly, in the largest unit that divides it: a threshold
  // of 1028 KiB is "1028 KiB", never "1 MiB" (fmtBytes rounds)
  function fmtExact(n) {
    if (typeof n !== 'number' || !isFinite(n)) return '–';
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0, v = Math.abs(n);
    while (v >= 1024 && v % 1024 === 0 && i < u.length - 1) { v /= 1024; i++; }
    return (n < 0 ? '-' : '') + (i ? String(v) : v.toLocaleString('en-US')) + ' ' + u[i];
  }
  function fmtTime(ns) {
    if (typeof ns !== 'number' || !isFinite(ns)) return '–';
    const a = Math.abs(ns);
    if (a < 1e3) return ns.toFixed(0) + ' ns';
    const f = (v, d) => v.toFixed(d).replace(/\.0+$|(\.\d*?)0+$/, '$1');
    if (a < 1e6) return f(ns / 1e3, a < 1e4 ? 2 : 1) + ' µs';
    if (a < 1e9) return f(ns / 1e6, a < 1e7 ? 2 : 1) + ' ms';
    return f(ns / 1e9, a < 1e10 ? 2 : 1) + ' s';
  }
  function fmtInt(n) { return typeof n !== 'number' || !isFinite(n) ? '–' : n.toLocaleString('en-US'); }
  function hex(n) { return '0x' + Number(n).toString(16); }
  function esc(s) {
    return String(s).replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
  }
  function el(tag, attrs, html) {
    const e = document.createElement(tag);
    if (attrs) for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (html != null) e.innerHTML = html;
    return e;
  }
  const SVGNS = 'http://www.w3.org/2000/svg';
  function sv(tag, attrs) {
    const e = document.createElementNS(SVGNS, tag);
    if (attrs) for (const k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }
  function niceStep(range, n) {
    const raw = range / Math.max(n, 1), p = Math.pow(10, Math.floor(Math.log10(raw)));
    const m = raw / p;
    return (m < 1.5 ? 1 : m < 3 ? 2 : m < 7 ? 5 : 10) * p;
  }
  function byteStep(max, n) {   // ticks at 1/2/5 x powers of 1024-friendly units
    const raw = max / Math.max(n, 1);
    let unit = 1;
    while (unit * 1024 <= raw) unit *= 1024;
    return Math.max(1, niceStep(raw / unit, 1) * unit);   // never a fraction of a byte
  }
  function legend(id, items) {
    const box = document.getElementById(id);
    for (const it of items) {
      const cls = 'sw' + (it.dot ? ' dot' : '') + (it.dash ? ' dash' : '') + (it.hatch ? ' hatch' : '');
      const style = it.dash || it.hatch ? '' : (it.hollow ? 'border:2px solid ' + it.color + ';background:#fff' : 'background:' + it.color);
      box.appendChild(el('span', { class: 'item' }, '<span class="' + cls + '" style="' + style + '"></span>' + esc(it.name)));
    }
  }
  function canvasFor(parent, w, h) {
    const c = document.createElement('canvas'), r = window.devicePixelRatio || 1;
    c.width = Math.round(w * r); c.height = Math.round(h * r);
    c.style.width = w + 'px'; c.style.height = h + 'px';
    parent.appendChild(c);
    const g = c.getContext('2d');
    g.scale(r, r);
    return { c, g };
  }

  // ---------- tooltip ----------
  const tip = document.getElementById('tip');
  function showTip(ev, html) {
    tip.innerHTML = html;
    tip.hidden = false;
    const w = tip.offsetWidth, h = tip.offsetHeight;
    let x = ev.clientX + 14, y = ev.clientY + 14;
    if (x + w > window.innerWidth - 8) x = ev.clientX - w - 14;
    if (y + h > window.innerHeight - 8) y = ev.clientY - h - 14;
    tip.style.left = Math.max(4, x) + 'px';
    tip.style.top = Math.max(4, y) + 'px';
  }
  function hideTip() { tip.hidden = true; }

  // ---------- records ----------
  const OS = D.os.map(o => Object.assign(o, { t: Math.max(0, (o.ts_ns || 0) - T0) }));
  const OS_BY_ID = new Map(OS.map(o => [o.id, o]));
  const CALLS = new Map(D.calls.map(c => [c.id, c]));
  // The dynamic loader's requests as each process started ("startup":true):
  // folded by default into one group per process, as the text output's
  // "startup:" line (trace --startup lists them there); st.folded is the
  // timeline's and the OS table's state (either control toggles both).
  const st = { folded: true };
  const isStartup = o => o.startup === true;
  const STARTUP = OS.some(isStartup);
  const shownOs = o => !st.folded || !isStartup(o);
  // the groups of the startup requests in list (per pid, first seen first)
  function startupGroups(list) {
    const by = new Map();
    for (const o of list) {
      if (!isStartup(o)) continue;
      let g = by.get(o.pid);
      if (!g) by.set(o.pid, g = { pid: o.pid, tid: o.tid, n: 0, t0: o.t, t1: o.t, sys: new Map(), mapped: 0 });
      g.n++; g.t0 = Math.min(g.t0, o.t); g.t1 = Math.max(g.t1, o.t);
      g.sys.set(o.syscall, (g.sys.get(o.syscall) || 0) + 1);
      if (o.syscall === 'mmap' && !o.error && typeof o.len === 'number') g.mapped += Math.ceil(o.len / 4096) * 4096;
    }
    return Array.from(by.values());
  }
  // "startup: 13 requests by the dynamic loader, until 2.48 ms (brk 1, mmap 8, ...; 3.68 MiB mapped)"
  function startupText(g) {
    const order = SYS.filter(k => g.sys.has(k)).concat(Array.from(g.sys.keys()).filter(k => !SYS.includes(k)));
    return 'startup: ' + fmtInt(g.n) + ' request' + (g.n === 1 ? '' : 's') + ' by the dynamic loader, until ' + fmtTime(g.t1) +
      ' (' + order.map(k => k + ' ' + fmtInt(g.sys.get(k))).join(', ') + '; ' + fmtBytes(g.mapped) + ' mapped)';
  }
  function startupWire() {
    const n = OS.filter(isStartup).length;
    const set = () => {
      for (const id of ['tl-startup', 'os-startup']) {
        const b = document.getElementById(id);
        b.hidden = !STARTUP;
        b.setAttribute('aria-pressed', st.folded ? 'false' : 'true');
        b.setAttribute('data-folded', st.folded ? '1' : '0');
        b.textContent = (st.folded ? '▸ show the ' : '▾ fold the ') + fmtInt(n) + ' startup request' + (n === 1 ? '' : 's');
        b.title = "the dynamic loader's requests as the program started (mapping its libraries)";
      }
    };
    const toggle = () => { st.folded = !st.folded; set(); timeline(); renderOsTable(false); };
    for (const id of ['tl-startup', 'os-startup']) document.getElementById(id).addEventListener('click', toggle);
    st.toggle = toggle;
    set();
  }
  const NB = D.buckets.length / 9;
  const BW = D.bucket_ns;

  function stackHtml(st) {
    if (!Array.isArray(st) || !st.length) return '';
    const lines = st.slice(0, 12).map(f => {
      const where = f.file ? ' ' + f.file + (f.line ? ':' + f.line : '') : f.obj ? ' (' + f.obj + ')' : '';
      return esc((f.sym || hex(f.addr || 0)) + (f.off ? '+' + f.off : '') + where);
    });
    return '<div class="stack mono">' + lines.join('<br>') + (st.length > 12 ? '<br>…' : '') + '</div>';
  }
  // ---------- the text output's notation (render/output.c) ----------
  // A pointer as text_ptr writes it: NULL for 0.
  const tptr = v => typeof v !== 'string' || /^0x0*$/i.test(v) ? 'NULL' : v.toLowerCase();
  const tnum = v => typeof v === 'number' ? String(v) : '?';
  // an offset as the text writes it: hex, 0 as 0 (a negative one as its 64-bit pattern)
  const toff = v => typeof v !== 'number' || v === 0 ? '0' : '0x' + (v < 0 ? BigInt.asUintN(64, BigInt(v)) : BigInt(v)).toString(16);
  const ERRNO = { 1: 'EPERM', 12: 'ENOMEM', 14: 'EFAULT', 22: 'EINVAL', 75: 'EOVERFLOW' };
  // An OS request's arguments as the text writes them (text_os_piece): sizes
  // in decimal, addresses and offsets in hex, as strace.
  function osArgs(o) {
    switch (o.syscall) {
      case 'brk': return tptr(o.addr);
      case 'mmap': return [tptr(o.addr), tnum(o.len), o.prot, o.flags, tnum(o.fd), toff(o.offset)].join(', ');
      case 'mremap': return [o.addr, tnum(o.len), tnum(o.new_len), o.flags].concat(o.new_addr ? [o.new_addr] : []).join(', ');
      case 'mprotect': return [o.addr, tnum(o.len), o.prot].join(', ');
      case 'madvise': return [o.addr, tnum(o.len), o.advice].join(', ');
      default: return [o.addr, tnum(o.len)].join(', ');
    }
  }
  // "= 0x7f..." / "= 0" / "= -1 ENOMEM", as the text (brk's growth aside)
  function osRet(o) {
    if (o.error && o.syscall !== 'brk') return '-1 ' + o.error;
    return typeof o.ret === 'string' ? o.ret.toLowerCase() : tnum(o.ret);
  }
  function osText(o) { return o.syscall + '(' + osArgs(o) + ') = ' + osRet(o); }
  function osResult(o) {
    if (o.error) return '<span class="warn">' + esc(osRet(o)) + '</span>';
    return esc(osRet(o));
  }
  function roleOf(c) {
    if (typeof c.role === 'string') return c.role;
    return Object.prototype.hasOwnProperty.call(FN_ROLE, c.fn) ? FN_ROLE[c.fn] : 'malloc';
  }
  // An allocator call's name and arguments as the text writes them
  // (text_call_body): "calloc(50, 8000)", "realloc(0x55d0..., 300)",
  // "posix_memalign([0x55d0...], 64, 1000)", "operator delete(sized)(0x55d0..., 999)".
  function callSig(c) {
    const role = roleOf(c);
    // traces before "elem_size": the product's factor when it divides
    const elem = () => typeof c.elem_size === 'number' ? tnum(c.elem_size) :
      c.nmemb > 0 && typeof c.size === 'number' && c.size % c.nmemb === 0 ? String(c.size / c.nmemb) : '?';
    let a;
    switch (role) {
      case 'calloc': a = tnum(c.nmemb) + ', ' + elem(); break;
      case 'realloc': a = tptr(c.ptr) + ', ' + tnum(c.size); break;
      case 'reallocarray': a = tptr(c.ptr) + ', ' + tnum(c.nmemb) + ', ' + elem(); break;
      case 'free': a = tptr(c.ptr); break;
      case 'free_sized': a = tptr(c.ptr) + ', ' + tnum(typeof c.size_arg === 'number' ? c.size_arg : c.size); break;
      case 'posix_memalign':
        a = (typeof c.ret === 'string' && c.rc === 0 ? '[' + c.ret.toLowerCase() + ']' : c.memptr ? c.memptr.toLowerCase() : '?') + ', ' + tnum(c.align) + ', ' + tnum(c.size);
        break;
      case 'memalign': a = tnum(c.align) + ', ' + tnum(c.size); break;
      case 'new_aligned': a = tnum(c.size) + ', ' + tnum(c.align); break;
      default: a = tnum(c.size);
    }
    return c.fn + '(' + a + ')';
  }
  // ... then its result and markers: "calloc(50, 8000) = 0x7f3a1c2b6010 <nested>"
  function callText(c) {
    const role = roleOf(c);
    let s = callSig(c);
    if (role !== 'free' && role !== 'free_sized') {
      if (c.missed === true || typeof c.ret !== 'string') s += ' = ?';
      else if (role === 'posix_memalign') s += ' = ' + (c.rc === 0 ? '0' : ERRNO[c.rc] || 'errno ' + tnum(c.rc));
      else s += ' = ' + tptr(c.ret);
    }
    if (c.missed === true) s += ' <return missed>';
    if (c.nested === true) s += ' <nested>';
    if (c.unknown_ptr === true) s += c.own === true ? " <unknown ptr: the allocator's own free>" : ' <unknown ptr>';
    else if (c.own === true) s += " <from the allocator's own object>";
    return s;
  }
  // the call behind an OS request or a region: its record when listed, else what the cause says
  function causeSig(id, fn, size) {
    const c = CALLS.get(id);
    return c ? callSig(c) : esc0(fn) + '(' + tnum(size) + ')';
  }
  const esc0 = v => typeof v === 'string' ? v : '?';
  function causeText(o) {
    const c = o.cause || {};
    if (c.kind !== 'call') return 'direct (the program or libc itself)';
    return causeSig(c.call_id, c.fn, c.size) + ' · call #' + num(c.call_id) + ' · tid ' + num(o.tid);
  }
  // the page's notation, for the tests and the browser's console
  window.amReport = { callText: c => callText(clean(c, null, 0)), osText: o => osText(clean(o, null, 0)) };
  function osTip(o) {
    const c = o.cause || {}, call = c.kind === 'call' ? CALLS.get(c.call_id) : null;
    let h = '<div class="t mono">' + esc(o.syscall) + '(' + esc(osArgs(o)) + ') = ' + osResult(o) + '</div>';
    h += '<div class="r">OS request #' + num(o.id) + ' at ' + fmtTime(o.t) + ', took ' + fmtTime(o.dur_ns || 0) + ', tid ' + num(o.tid) + '</div>';
    h += '<div class="r">cause: <b>' + esc(causeText(o)) + '</b></div>';
    if (call) {
      h += '<div class="r">→ <span class="mono">' + esc(callText(call)) + '</span>' + (call.region ? ' in ' + esc(call.region) : '') +
        (call.reason ? ' (' + esc(call.reason.replace(/_/g, ' ')) + ')' : '') +
        (call.threshold ? ', threshold ' + fmtBytes(call.threshold) :
         call.threshold_max ? ', threshold unknown (' + fmtBytes(call.threshold_min) + '–' + fmtBytes(call.threshold_max) + ')' : '') + '</div>';
      h += stackHtml(call.stack);
    }
    if (o.region) h += '<div class="r">new region: ' + esc(o.region) + '</div>';
    h += stackHtml(o.stack);
    return h;
  }

  // ---------- header, cards, notes ----------
  function header() {
    const m = document.getElementById('meta');
    const pids = D.pids.length ? 'pid ' + D.pids.join(', ') : '';
    // traces before the summary named the allocator: glibc is the one with a threshold
    const alloc = S && S.allocator ? S.allocator + ' allocator' : S && S.threshold ? 'glibc allocator' : S ? 'non-glibc allocator' : '';
    // events: the call, OS and task records, as the summary's "events" counts them
    const ev = typeof D.counts.events === 'number' ? D.counts.events : D.counts.records;
    m.textContent = [pids, 'traced ' + fmtTime(S ? S.duration_ns : DUR), alloc, fmtInt(ev) + ' events'].filter(x => x).join('  ·  ');
    // the command line, as the trace's "trace" record has it (text from the trace: textContent only)
    const cmd = document.getElementById('cmdline');
    if (CMD.length) cmd.textContent = '$ ' + CMD.map(shellWord).join(' ');
    else cmd.textContent = D.pids.length ? 'attached to pid ' + D.pids.join(', ') + ' (command line not in the trace)' : '';
    document.getElementById('footer').textContent = 'allocmap report · generated ' + D.generated + ' from ' + D.source;
  }
  function cards() {
    const box = document.getElementById('cards');
    // the byte figures are the records replayed through the tracer's accounting model
    // (the same as the summary's for a -v trace; notes() says when they differ)
    const b = D.figures, c = S ? S.counters : null;
    const lost = c ? (c.lost_events || 0) + (c.lost_call || 0) + (c.lost_os || 0) + (c.lost_task || 0) : 0;
    const list = [
      { k: 'peak brk heap', v: fmtBytes(b.heap_peak), exact: b.heap_peak, s: 'at end ' + fmtBytes(b.heap), sw: SERIES[0].color },
      { k: 'peak mmapped', v: fmtBytes(b.mmap_peak), exact: b.mmap_peak, s: 'allocator mappings', sw: SERIES[1].color },
      { k: 'peak from OS', v: fmtBytes(b.committed_peak), exact: b.committed_peak, s: 'heap + mmapped, at end ' + fmtBytes(b.committed) },
      { k: 'peak live', v: fmtBytes(b.live_peak), exact: b.live_peak, s: 'at end ' + fmtBytes(b.live), sw: SERIES[2].color },
      NRSS ? { k: 'peak RSS', v: fmtBytes(D.rss_peak), exact: D.rss_peak, s: 'resident, sampled every 50 ms; at ' + fmtTime(D.rss_peak_t), sw: RSS_COLOR, id: 'card-rss' }
        : { k: 'peak RSS', v: 'unknown', s: 'not sampled in this trace (an allocmap before RSS samples)', sw: RSS_COLOR, id: 'card-rss' },
      { k: 'allocator calls', v: fmtInt(D.counts.calls), s: fmtInt(D.counts.calls_with_os) + ' made OS requests' },
      { k: 'OS requests', v: fmtInt(D.counts.os), s: fmtInt(OS.filter(o => o.cause && o.cause.kind === 'call').length) + ' caused by calls' },
    ];
    if (S && S.threshold && S.threshold.fixed) list.push({ k: 'mmap threshold', v: fmtExact(S.threshold.end), s: 'fixed' + (S.allocator ? ' (' + S.allocator + ')' : '') + ': never moves' });
    else if (S && S.threshold) list.push({ k: 'mmap threshold', v: S.threshold.end != null ? fmtExact(S.threshold.end) : 'unknown', s: (S.threshold.end == null ? 'between ' + fmtExact(S.threshold.end_min) + ' and ' + fmtExact(S.threshold.end_max) + ', ' : '') + S.threshold.changes + ' moves from ' + thrText(S.threshold, 'start') + (S.threshold.pinned ? ' (pinned)' : '') });
    list.push({ k: 'lost events', v: c ? fmtInt(lost) : '?', s: c ? 'missed returns ' + fmtInt(c.missed_returns) : 'no summary', bad: !c || lost > 0 });
    if (S && S.target) list.push({ k: 'target', v: S.target.signal ? 'killed by ' + S.target.signal : 'exit ' + num(S.target.exit), s: 'max RSS ' + fmtBytes(S.target.max_rss_kb * 1024) + ', ' + fmtTime(S.target.wall_ns) });
    for (const it of list) {
      const d = el('div', Object.assign({ class: 'card' + (it.bad ? ' bad' : '') }, it.id ? { id: it.id } : {}));
      d.innerHTML = '<div class="k">' + (it.sw ? '<span class="swatch" style="background:' + it.sw + '"></span>' : '') + esc(it.k) +
        '</div><div class="v"' + (typeof it.exact === 'number' ? ' title="' + fmtInt(it.exact) + ' bytes"' : '') + '>' + esc(it.v) + '</div><div class="s">' + esc(it.s) + '</div>';
      box.appendChild(d);
    }
  }
  function notes() {
    const n = [], C = D.counts;
    if (!S) n.push('No summary record: the trace was cut short (tracer killed?). Counts below cover what was recorded.');
    if (C.truncated) n.push('The last line of the trace was incomplete and was skipped.');
    if (S && S.functions) {
      let total = 0;
      for (const k in S.functions) total += S.functions[k].calls;
      if (total > C.calls) n.push('The trace holds ' + fmtInt(C.calls) + ' of ' + fmtInt(total) + ' allocator calls (recorded without -v?): live bytes and the address map are partial.');
    }
    if (C.records > NB * 4) n.push('Timeline: ' + fmtInt(C.records) + ' events aggregated into ' + fmtInt(NB) + ' time buckets of ' + fmtTime(BW) + ' (each shows its min–max range and final value).');
    if (C.os > C.os_kept) n.push('Only the first ' + fmtInt(C.os_kept) + ' of ' + fmtInt(C.os) + ' OS requests are listed with their details; the counts include them all.');
    if (C.points > D.caps.points) n.push('Threshold view: ' + fmtInt(C.points) + ' allocating calls shown as a density grid (' + fmtTime(D.grid_ns) + ' × ¼ octave cells).');
    if (C.allocs > D.allocs.length / 8) n.push('Address map: a random sample of ' + fmtInt(D.allocs.length / 8) + ' of ' + fmtInt(C.allocs) + ' allocations (every allocation still live at the end is included, up to ' + fmtInt(D.caps.live) + ').');
    if (C.regions_dropped) n.push(fmtInt(C.regions_dropped) + ' regions that were unmapped early are not drawn (' + fmtInt(D.caps.regions) + ' kept).');
    if (D.stacks_dropped) n.push('Tooltips show the stacks of the first ' + fmtInt(D.stacks_listed) + ' listed records (' + fmtInt(D.stacks_dropped) + ' more have theirs only in the flame graph).');
    if (D.stacks_cut) n.push(fmtInt(D.stacks_cut) + ' stack' + (D.stacks_cut === 1 ? ' was' : 's were') + ' longer than ' + fmtInt(D.frames_cap) +
      ' frames (the longest ' + fmtInt(D.frames_max) + '): only their innermost ' + fmtInt(D.frames_cap) + ' frames were read.');
    if (D.rss_stride > 1) n.push('RSS: ' + fmtInt(D.rss_samples) + ' samples drawn as ' + fmtInt(NRSS) + ' points, each the largest of ' + fmtInt(D.rss_stride) + '.');
    if (D.rss_pids_dropped) n.push('RSS: the samples of more than 64 processes at once are not all summed (' + fmtInt(D.rss_pids_dropped) + ' left out).');
    if (C.oom) n.push('Report generation ran out of memory: some detail is missing.');
    if (S && isRec(S.counters) && S.counters.out_of_memory === true) n.push('The tracer ran out of memory: some records or state were dropped and its figures are incomplete.');
    if (S && isRec(S.bytes)) {
      const diff = Object.keys(D.figures).filter(k => k in S.bytes && S.bytes[k] !== D.figures[k]);
      if (diff.length) n.push('The records do not add up to the summary\'s byte figures (' + diff.join(', ') + '): the trace lacks records (recorded without -v, or cut short); the figures shown are the records\'.');
    }
    const box = document.getElementById('notes');
    for (const t of n) box.appendChild(el('div', { class: 'note' }, esc(t)));
  }

  // ---------- timeline ----------
  function valueAt(series, t) {     // series 0..2 -> last value of the bucket holding t
    const i = Math.min(NB - 1, Math.max(0, Math.floor(t / BW)));
    return NB ? D.buckets[i * 9 + series * 3 + 2] : 0;
  }
  // tl: the timeline's range (drag selects it, double-click resets); it and
  // the thread chosen (tid, null: all) filter the OS table, the timeline's
  // markers, the threshold view and the address map (rangeChanged)
  const tl = { v0: 0, v1: DUR, tid: null };
  const tidOk = tid => tl.tid === null || tid === tl.tid;
  const ranged = () => tl.v0 > 0 || tl.v1 < DUR;
  function rangeChanged() {
    const lo = tl.v0, hi = tl.v1;
    if (map.t < lo || map.t > hi) map.t = hi;
    const box = document.getElementById('range-note');
    box.textContent = '';
    if (ranged() || tl.tid !== null) {
      box.appendChild(document.createTextNode('Showing ' + (ranged() ? fmtTime(lo) + ' – ' + fmtTime(hi) : 'the whole trace') +
        (tl.tid !== null ? ', thread ' + tl.tid : ', every thread') + ' in the timeline, the address map, the threshold view and the OS requests' +
        (ranged() ? '; the allocator functions table and the flame graph of OS requests: what began in the range (every thread); the call sites: calls and bytes allocated of the calls that began in the range (every thread), their other columns and the flame graph\'s other weights are states of the whole trace, shown as – or labelled whole trace' : '') + '. '));
      const b = el('button', { type: 'button', id: 'range-clear' }, 'show everything');
      b.addEventListener('click', () => { tl.v0 = 0; tl.v1 = DUR; tl.tid = null; document.getElementById('tid-filter').value = ''; timeline(); rangeChanged(); });
      box.appendChild(b);
    }
    box.hidden = !box.firstChild;
    renderOsTable(false);
    addressMap();
    thresholdView();
    fnTables();
    if (D.flame && D.flame.stacks) flame();
    if (hooks.rangeChanged) hooks.rangeChanged();
  }
  // RSS: a step line through its points (to the trace's end after the last one)
  function rssPath(X, Y, max) {
    let d = '';
    for (let k = 0; k < NRSS; k++) {
      const x = X(RSS[k * 2]), y = Y(RSS[k * 2 + 1]);
      d += (k ? 'H' + x.toFixed(1) + 'V' : 'M' + x.toFixed(1) + ' ') + y.toFixed(1);
    }
    d += 'H' + X(Math.max(RSS[(NRSS - 1) * 2], DUR)).toFixed(1);
    return sv('path', { d: d, stroke: RSS_COLOR, 'stroke-width': 1.6, 'stroke-dasharray': '6 2', fill: 'none', class: 'series',
      'data-series': 'rss', 'data-n': NRSS, 'data-max': max });
  }
  // the folded startup requests: one band per process across the lanes (y, height h), click to unfold
  function startupBands(parent, X, v0, v1, y, h) {
    for (const g of startupGroups(OS.filter(o => o.t >= v0 && o.t <= v1 && tidOk(o.tid)))) {
      const x = X(g.t0), w = Math.max(6, X(g.t1) - x);
      const band = sv('g', { class: 'startup-band', 'data-n': g.n, 'data-pid': g.pid, style: 'cursor:pointer' });
      band.appendChild(sv('rect', { x: x - 3, y: y, width: w + 6, height: h, rx: 4, fill: '#566173', 'fill-opacity': 0.1,
        stroke: '#566173', 'stroke-opacity': 0.45, 'stroke-dasharray': '3 2' }));
      const lt = sv('text', { x: x - 3, y: y - 3, 'text-anchor': 'start', class: 'startup-label' });
      lt.textContent = 'startup: ' + fmtInt(g.n) + ' request' + (g.n === 1 ? '' : 's') + ' (click to show)';
      band.appendChild(lt);
      band.addEventListener('mousemove', ev => showTip(ev, '<div class="t">' + esc(startupText(g)) + '</div><div class="r">pid ' + num(g.pid) +
        ' · folded: click to show each request</div>'));
      band.addEventListener('mouseleave', hideTip);
      band.addEventListener('click', () => { hideTip(); st.toggle(); });
      parent.appendChild(band);
    }
  }
  function timeline() {
    const box = document.getElementById('timeline');
    box.innerHTML = '';
    const W = Math.max(600, box.clientWidth), ML = 78, MR = 70, MT = 12, CH = 250, LANE = 17, LG = 14;
    const lanesY = MT + CH + LG, H = lanesY + LANE * SYS.length + 46;
    const svg = sv('svg', { width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, id: 'timeline-svg', 'data-v0': tl.v0, 'data-v1': tl.v1 });
    box.appendChild(svg);
    const pw = W - ML - MR, v0 = tl.v0, v1 = tl.v1;
    const X = t => ML + (t - v0) / (v1 - v0) * pw;
    // visible buckets and y range
    const b0 = Math.max(0, Math.floor(v0 / BW)), b1 = Math.min(NB - 1, Math.ceil(v1 / BW));
    let ymax = 1, lmax = 1;
    for (let i = b0; i <= b1; i++) {
      for (let s = 0; s < 2; s++) ymax = Math.max(ymax, D.buckets[i * 9 + s * 3 + 1]);
      lmax = Math.max(lmax, D.buckets[i * 9 + 7]);
    }
    // RSS in view (and the value it holds from before v0) shares the bytes axis
    let rssMax = 0;
    for (let k = 0; k < NRSS; k++) {
      const t = RSS[k * 2], nx = k + 1 < NRSS ? RSS[k * 2 + 2] : Infinity;
      if (t <= v1 && nx >= v0) rssMax = Math.max(rssMax, RSS[k * 2 + 1]);
    }
    ymax = Math.max(ymax, rssMax);
    // live bytes get their own right-hand axis when they would be a flat line
    const split = lmax < ymax * 0.2;
    if (!split) ymax = Math.max(ymax, lmax);
    ymax *= 1.06; lmax *= 1.06;
    const Y = v => MT + CH - v / ymax * CH, YL = split ? v => MT + CH - v / lmax * CH : Y;
    // grid + axes
    const grid = sv('g', { class: 'grid' }), axis = sv('g', { class: 'axis' });
    svg.appendChild(grid); svg.appendChild(axis);
    const ys = byteStep(ymax, 5);
    for (let v = 0; v <= ymax; v += ys) {
      grid.appendChild(sv('line', { x1: ML, x2: W - MR, y1: Y(v), y2: Y(v) }));
      const t = sv('text', { x: ML - 8, y: Y(v) + 4, 'text-anchor': 'end' }); t.textContent = fmtBytes(v); axis.appendChild(t);
    }
    const xs = niceStep(v1 - v0, 8);
    for (let t = Math.ceil(v0 / xs) * xs; t <= v1; t += xs) {
      grid.appendChild(sv('line', { x1: X(t), x2: X(t), y1: MT, y2: lanesY + LANE * SYS.length }));
      const tx = sv('text', { x: X(t), y: H - 24, 'text-anchor': 'middle' }); tx.textContent = fmtTime(t); axis.appendChild(tx);
    }
    axisTitles(axis, ML + pw / 2, H - 4, MT + CH / 2, 'bytes');
    axis.appendChild(sv('line', { x1: ML, x2: W - MR, y1: MT + CH, y2: MT + CH }));
    if (split) {
      const ls = byteStep(lmax, 5);
      for (let v = 0; v <= lmax; v += ls) {
        const t = sv('text', { x: W - MR + 6, y: YL(v) + 4, 'text-anchor': 'start', fill: SERIES[2].color, style: 'fill:' + SERIES[2].color });
        t.textContent = fmtBytes(v); axis.appendChild(t);
      }
      const cap = sv('text', { x: W - MR, y: MT + 10, 'text-anchor': 'end', style: 'fill:' + SERIES[2].color });
      cap.textContent = 'live bytes: right-hand scale'; axis.appendChild(cap);
    }
    // series: min-max range ticks + step line through each bucket's final value
    const clip = sv('clipPath', { id: 'tlclip' });
    clip.appendChild(sv('rect', { x: ML, y: 0, width: pw, height: H }));
    svg.appendChild(clip);
    const lines = sv('g', { 'clip-path': 'url(#tlclip)' });
    const Yh = Y;
    svg.appendChild(lines);
    SERIES.forEach((s, si) => {
      const Y = si === 2 ? YL : Yh;
      let d = '', band = '', prev = null;
      const step = Math.max(1, Math.floor((b1 - b0 + 1) / (pw * 2)));
      for (let i = b0; i <= b1; i += step) {
        let lo = Infinity, hi = -Infinity, last = 0;
        for (let j = i; j < Math.min(i + step, NB); j++) {
          lo = Math.min(lo, D.buckets[j * 9 + si * 3]); hi = Math.max(hi, D.buckets[j * 9 + si * 3 + 1]); last = D.buckets[j * 9 + si * 3 + 2];
        }
        const x = X(i * BW), x2 = X(Math.min(i + step, NB) * BW);
        if (hi > lo && Y(lo) - Y(hi) >= 1) band += 'M' + ((x + x2) / 2).toFixed(1) + ' ' + Y(lo).toFixed(1) + 'V' + Y(hi).toFixed(1);
        if (prev === null) d += 'M' + x.toFixed(1) + ' ' + Y(last).toFixed(1);
        else d += 'V' + Y(last).toFixed(1);
        d += 'H' + x2.toFixed(1);
        prev = last;
      }
      if (band) lines.appendChild(sv('path', { d: band, stroke: s.color, 'stroke-opacity': 0.35, 'stroke-width': Math.max(1, pw / (b1 - b0 + 1) * step), fill: 'none' }));
      lines.appendChild(sv('path', { d: d, stroke: s.color, 'stroke-width': 2, fill: 'none', class: 'series', 'data-series': s.key }));
    });
    if (NRSS) lines.appendChild(rssPath(X, Yh, rssMax));
    // threshold moves as thin vertical rules on the chart
    for (const m of D.threshold.moves) {
      if (m[0] < v0 || m[0] > v1) continue;
      lines.appendChild(sv('line', { x1: X(m[0]), x2: X(m[0]), y1: MT, y2: MT + CH, stroke: '#444', 'stroke-dasharray': '3 3', 'stroke-width': 1 }));
    }
    // lanes
    SYS.forEach((name, li) => {
      const y = lanesY + li * LANE + LANE / 2;
      svg.appendChild(sv('line', { x1: ML, x2: W - MR, y1: y, y2: y, stroke: '#eef1f5' }));
      const t = sv('text', { x: ML - 8, y: y + 4, 'text-anchor': 'end' }); t.textContent = name; svg.appendChild(t);
    });
    const mk = sv('g', { 'clip-path': 'url(#tlclip)' });
    svg.appendChild(mk);
    const vis = OS.filter(o => o.t >= v0 && o.t <= v1 && tidOk(o.tid) && shownOs(o));
    if (st.folded) startupBands(mk, X, v0, v1, lanesY, LANE * SYS.length);
    if (vis.length <= MAX_MARKERS) {
      for (const o of vis) {
        const li = Math.max(0, SYS.indexOf(o.syscall)), col = sysColor(o.syscall);
        const byCall = o.cause && o.cause.kind === 'call';
        const c = sv('circle', { cx: X(o.t), cy: lanesY + li * LANE + LANE / 2, r: 4.5, class: 'os-marker', 'data-id': o.id,
          fill: o.error ? '#fff' : byCall ? col : '#fff', stroke: o.error ? '#b4232c' : col, 'stroke-width': 1.6 });
        mk.appendChild(c);
      }
    } else {   // binned: one bar per pixel column and lane, height by count
      const bins = new Map();
      for (const o of vis) {
        const li = Math.max(0, SYS.indexOf(o.syscall)), px = Math.floor(X(o.t) / 2);
        const k = li * 100000 + px;
        bins.set(k, (bins.get(k) || 0) + 1);
      }
      for (const [k, n] of bins) {
        const li = Math.floor(k / 100000), px = (k % 100000) * 2;
        const h = Math.min(LANE - 3, 3 + Math.log2(n) * 2.2);
        const r = sv('rect', { x: px, y: lanesY + li * LANE + (LANE - h) / 2, width: 2, height: h, fill: SYS_COLOR[SYS[li]], class: 'os-bin' });
        r.appendChild(sv('title')).textContent = n + ' ' + SYS[li] + ' requests';
        mk.appendChild(r);
      }
      const t = sv('text', { x: W - MR, y: lanesY - 3, 'text-anchor': 'end' });
      t.textContent = fmtInt(vis.length) + ' requests in view: binned per 2 px (zoom in for single markers)';
      svg.appendChild(t);
    }
    mk.addEventListener('mousemove', ev => {
      const id = ev.target.getAttribute && ev.target.getAttribute('data-id');
      if (id) showTip(ev, osTip(OS_BY_ID.get(+id))); else hideTip();
    });
    mk.addEventListener('mouseleave', hideTip);
    mk.addEventListener('click', ev => {
      const id = ev.target.getAttribute && ev.target.getAttribute('data-id');
      if (id) highlightOsRow(+id);
    });
    // hover readout on the chart area + drag to zoom
    const hover = sv('line', { y1: MT, y2: MT + CH, stroke: '#98a2b0', 'stroke-width': 1, visibility: 'hidden' });
    const sel = sv('rect', { y: MT, height: CH, fill: '#2f6fdb', 'fill-opacity': 0.12, visibility: 'hidden' });
    svg.appendChild(hover); svg.appendChild(sel);
    const area = sv('rect', { x: ML, y: MT, width: pw, height: CH, fill: 'transparent', style: 'cursor:crosshair' });
    svg.appendChild(area);
    let dragX = null;
    const tAt = ev => v0 + (ev.offsetX - ML) / pw * (v1 - v0);
    area.addEventListener('mousedown', ev => { dragX = ev.offsetX; ev.preventDefault(); });
    area.addEventListener('mousemove', ev => {
      const t = tAt(ev);
      hover.setAttribute('x1', ev.offsetX); hover.setAttribute('x2', ev.offsetX); hover.setAttribute('visibility', 'visible');
      if (dragX !== null) {
        sel.setAttribute('x', Math.min(dragX, ev.offsetX)); sel.setAttribute('width', Math.abs(ev.offsetX - dragX));
        sel.setAttribute('visibility', 'visible');
      }
      showTip(ev, '<div class="t">' + fmtTime(t) + '</div>' + SERIES.map((s, i) =>
        '<div class="r"><span style="color:' + s.color + '">■</span> ' + esc(s.name) + ': <b>' + fmtBytes(valueAt(i, t)) + '</b></div>').join('') +
        '<div class="r"><span style="color:' + RSS_COLOR + '">■</span> RSS: <b>' + esc(rssTip(t)) + '</b></div>');
    });
    area.addEventListener('mouseleave', () => { hover.setAttribute('visibility', 'hidden'); hideTip(); });
    area.addEventListener('mouseup', ev => {
      if (dragX !== null && Math.abs(ev.offsetX - dragX) > 4) {
        const a = v0 + (Math.min(dragX, ev.offsetX) - ML) / pw * (v1 - v0), b = v0 + (Math.max(dragX, ev.offsetX) - ML) / pw * (v1 - v0);
        tl.v0 = Math.max(0, a); tl.v1 = Math.min(DUR, Math.max(tl.v0 + 10, b));
        dragX = null; hideTip(); timeline(); rangeChanged(); return;
      }
      dragX = null; sel.setAttribute('visibility', 'hidden');
    });
    svg.addEventListener('dblclick', () => { tl.v0 = 0; tl.v1 = DUR; timeline(); rangeChanged(); });
  }

  // the axes' titles: time at the bottom (from what t = 0 is), the y axis's on its side
  function axisTitles(parent, xMid, xY, yMid, yTitle) {
    const xt = sv('text', { x: xMid, y: xY, 'text-anchor': 'middle', class: 'axis-title' });
    xt.textContent = 'time since ' + (S && S.origin === 'attach' ? 'attach' : S && S.origin === 'exec' ? "the command's exec" : 'the first record');
    parent.appendChild(xt);
    const yt = sv('text', { x: 0, y: 0, 'text-anchor': 'middle', class: 'axis-title', transform: 'translate(12,' + yMid + ') rotate(-90)' });
    yt.textContent = yTitle;
    parent.appendChild(yt);
  }

  // the thread filter: every thread seen in the OS requests and allocations
  function tidFilter() {
    const sel = document.getElementById('tid-filter'), tids = new Set();
    for (const o of OS) if (typeof o.tid === 'number') tids.add(o.tid);
    for (let k = 0; k < NA; k++) tids.add(D.allocs[k * 8 + 7]);
    const list = Array.from(tids).filter(t => t > 0).sort((a, b) => a - b);
    sel.hidden = list.length < 2;
    for (const t of list) { const o = el('option', { value: String(t) }); o.textContent = 'thread ' + t; sel.appendChild(o); }
    sel.addEventListener('change', () => { tl.tid = sel.value === '' ? null : +sel.value; timeline(); rangeChanged(); });
  }

  // ---------- address map ----------
  const REG = D.regions.slice().sort((a, b) => a.start - b.start || a.t0 - b.t0);
  const REG_BY_I = new Map(REG.map(r => [r.i, r]));
  const NA = D.allocs.length / 8;
  const ALLOCS_OF = new Map();          // region index -> alloc indices
  for (let k = 0; k < NA; k++) {
    const ri = D.allocs[k * 8 + 5];
    if (!ALLOCS_OF.has(ri)) ALLOCS_OF.set(ri, []);
    ALLOCS_OF.get(ri).push(k);
  }
  const A = k => ({ addr: D.allocs[k * 8], size: D.allocs[k * 8 + 1], t0: D.allocs[k * 8 + 2], t1: D.allocs[k * 8 + 3],
    call: D.allocs[k * 8 + 4], region: D.allocs[k * 8 + 5], fn: FN[D.allocs[k * 8 + 6]] || 'other', tid: D.allocs[k * 8 + 7] });
  const liveAt = (k, t) => D.allocs[k * 8 + 2] <= t && (D.allocs[k * 8 + 3] < 0 || D.allocs[k * 8 + 3] > t) && tidOk(D.allocs[k * 8 + 7]);
  const regionAlive = (r, t) => r.t0 <= t && (r.t1 == null || r.t1 > t);
  const map = { t: (D.counts.live > 0 || !D.counts.live_peak_t) ? DUR : D.counts.live_peak_t, sel: null, z0: 0, z1: 1, shown: 300 };
  // sites.js: allocMark(call id) -> true draws that allocation marked; regionBadge(region) -> text or null
  const hooks = { allocMark: null, regionBadge: null, rangeChanged: null };
  const MARK = '#d6336c';

  function regionCause(r) {
    if (!r.os && r.kind === 'other') return 'seen only through its allocations (' + r.label + ')';
    if (!r.os) return 'existed before the trace';
    const o = OS_BY_ID.get(r.os);
    const by = r.call ? causeSig(r.call, r.fn, r.size) + ' · call #' + r.call + ' · tid ' + r.tid : 'direct';
    return (o ? o.syscall : 'OS request') + ' #' + r.os + ' by ' + by;
  }
  // A mapped allocator region's committed part at the end of the trace (its
  // accessible pages, the model's "acc" ranges) and the rest of it, reserved
  // (PROT_NONE: glibc's thread arenas, jemalloc's and mimalloc's
  // reservations); null for the heap, synthetic and unmapped regions.
  function commitOf(r) {
    if (r.t1 != null || (r.kind !== 'arena' && r.kind !== 'mmap') || typeof r.committed !== 'number') return null;
    const acc = Array.isArray(r.acc) ? r.acc : [];
    return { committed: r.committed, reserved: r.end - r.start - r.committed, acc: acc, cut: r.acc_n > acc.length / 2 };
  }
  function commitText(c) {
    return 'committed ' + fmtBytes(c.committed) + ' · reserved ' + fmtBytes(c.reserved) + ' (PROT_NONE), at the end';
  }
  function commitExact(c) {
    return 'committed ' + fmtInt(c.committed) + ' B + reserved ' + fmtInt(c.reserved) + ' B = ' + fmtInt(c.committed + c.reserved) + ' B' +
      (c.cut ? ' (the first ' + fmtInt(c.acc.length / 2) + ' committed ranges drawn)' : '');
  }
  let hatch = null;
  function hatchOf(g) {
    if (!hatch) {
      const c = document.createElement('canvas'), x = c.getContext('2d');
      c.width = c.height = 8;
      x.strokeStyle = 'rgba(60,70,85,.45)'; x.lineWidth = 1.2;
      x.beginPath(); x.moveTo(-2, 10); x.lineTo(10, -2); x.moveTo(-2, 2); x.lineTo(2, -2); x.moveTo(6, 10); x.lineTo(10, 6); x.stroke();
      hatch = c;
    }
    return g.createPattern(hatch, 'repeat');
  }
  // hatches the reserved parts of [lo, hi) (what no committed range covers)
  function drawReserved(g, w, h, c, lo, hi, color) {
    const span = Math.max(1, hi - lo), X = a => (Math.min(hi, Math.max(lo, a)) - lo) / span * w;
    g.save(); g.fillStyle = '#f3f4f6';
    const gaps = [];
    let at = lo;
    for (let i = 0; i + 1 < c.acc.length; i += 2) {
      if (c.acc[i] > at) gaps.push([at, c.acc[i]]);
      at = Math.max(at, c.acc[i + 1]);
    }
    if (at < hi && !c.cut) gaps.push([at, hi]);
    for (const [a, b] of gaps) if (b > lo && a < hi) g.fillRect(X(a), 0, Math.max(1, X(b) - X(a)), h);
    g.fillStyle = hatchOf(g);
    for (const [a, b] of gaps) if (b > lo && a < hi) g.fillRect(X(a), 0, Math.max(1, X(b) - X(a)), h);
    // the committed ranges: tinted, at least 2 px wide (132 KiB of a 64 MiB arena is a sliver)
    g.fillStyle = color + '80';
    for (let i = 0; i + 1 < c.acc.length; i += 2)
      if (c.acc[i + 1] > lo && c.acc[i] < hi) g.fillRect(X(c.acc[i]), 0, Math.max(2, X(c.acc[i + 1]) - X(c.acc[i])), h);
    g.restore();
  }
  // the allocations of region r live at t in [lo, hi); cm: commitOf(r) to
  // hatch its reserved parts under them (null: none)
  function drawAllocs(g, w, h, r, lo, hi, t, color, cm) {
    g.clearRect(0, 0, w, h);
    if (cm && regionAlive(r, t)) drawReserved(g, w, h, cm, lo, hi, color);
    const list = ALLOCS_OF.get(r.i) || [];
    const span = Math.max(1, hi - lo);
    let n = 0;
    for (const k of list) {
      if (!liveAt(k, t)) continue;
      const a = D.allocs[k * 8], s = D.allocs[k * 8 + 1];
      if (a + s < lo || a > hi) continue;
      const x = (a - lo) / span * w, x2 = (a + s - lo) / span * w;
      const marked = hooks.allocMark && hooks.allocMark(D.allocs[k * 8 + 4]);
      g.fillStyle = marked ? MARK : color;
      g.fillRect(x, marked ? 0 : 3, Math.max(marked ? 2 : 1, x2 - x - (x2 - x > 3 ? 0.6 : 0)), marked ? h : h - 6);
      n++;
    }
    return n;
  }
  function addressMap() {
    const ov = document.getElementById('overview'), rows = document.getElementById('regions');
    ov.innerHTML = ''; rows.innerHTML = '';
    const t = map.t;
    document.getElementById('map-time-label').textContent = fmtTime(t) + ' of ' + fmtTime(DUR) + (tl.tid !== null ? ' · thread ' + tl.tid + "'s allocations" : '');
    const slider = document.getElementById('map-time');
    slider.value = Math.round((t - tl.v0) / Math.max(1, tl.v1 - tl.v0) * 1000);
    if (!REG.length) { rows.appendChild(el('div', { class: 'muted' }, 'No allocator regions in this trace.')); return; }
    // overview strip: to scale, broken where the gap is larger than the regions around it
    let prevEnd = null;
    for (const r of REG) {
      const size = Math.max(1, r.end - r.start);
      if (prevEnd !== null && r.start - prevEnd > 0) {
        const g = el('div', { class: 'ov-gap', title: 'gap of ' + fmtBytes(r.start - prevEnd) }, '//');
        ov.appendChild(g);
      }
      const oc = commitOf(r);
      const seg = el('div', { class: 'ov-seg' + (regionAlive(r, t) ? '' : ' dead'), title: r.kind + ' ' + hex(r.start) + ' · ' + fmtBytes(size) + (oc ? ' · ' + commitText(oc) : '') });
      seg.style.flex = size + ' 1 0'; seg.style.background = KIND_COLOR[r.kind];
      seg.addEventListener('click', () => selectRegion(r));
      ov.appendChild(seg);
      prevEnd = Math.max(prevEnd || 0, r.end);
    }
    prevEnd = null;
    REG.slice(0, map.shown).forEach(r => {
      if (prevEnd !== null && r.start > prevEnd)
        rows.appendChild(el('div', { class: 'gap-row' }, '// ' + fmtBytes(r.start - prevEnd) + ' gap'));
      prevEnd = Math.max(prevEnd || 0, r.end);
      const alive = regionAlive(r, t), size = r.end - r.start;
      const row = el('div', { class: 'region' + (alive ? '' : ' dead') + (map.sel === r.i ? ' sel' : ''), 'data-region': r.i, 'data-kind': r.kind });
      const cm = commitOf(r);
      if (cm) { row.setAttribute('data-committed', cm.committed); row.setAttribute('data-reserved', cm.reserved); }
      const col = KIND_COLOR[r.kind];
      let live = 0, liveB = 0;
      for (const k of (ALLOCS_OF.get(r.i) || [])) if (liveAt(k, t)) { live++; liveB += D.allocs[k * 8 + 1]; }
      const state = !alive ? (r.t0 > t ? 'mapped later, at ' + fmtTime(r.t0) : 'unmapped at ' + fmtTime(r.t1)) :
        fmtInt(live) + ' live · ' + fmtBytes(liveB);
      row.innerHTML = '<div class="lbl"><span class="kind-tag" style="background:' + col + '">' + esc(r.label) + '</span>' +
        '<b class="mono">' + hex(r.start) + '</b> · <b>' + fmtBytes(size) + '</b><br><span class="muted">' + esc(state) +
        ' · ' + esc(regionCause(r)) + '</span>' + (cm && (cm.reserved || r.kind === 'arena') ? '<br><span class="commit" title="' + esc(commitExact(cm)) + '">' +
        esc(commitText(cm)) + '</span>' : '') + '</div>';
      const badge = hooks.regionBadge && hooks.regionBadge(r.i);
      if (badge) {
        row.classList.add('site-mark');
        row.firstChild.appendChild(el('div', { class: 'site-badge' })).textContent = badge;
      }
      const bar = el('div', { class: 'bar' });
      bar.style.borderColor = col; bar.style.background = col + '14';
      row.appendChild(bar);
      rows.appendChild(row);
      row.addEventListener('click', () => selectRegion(r));
      requestAnimationFrame(() => {
        const w = bar.clientWidth, h = bar.clientHeight;
        if (!w) return;
        const cv = canvasFor(bar, w, h);
        if (r.kind === 'heap' && alive) {     // the part of the heap's range above the break at t is not mapped yet
          const top = r.start + valueAt(0, t);
          if (top < r.end) {
            const x = Math.max(0, (top - r.start) / Math.max(1, size) * w);
            cv.g.fillStyle = 'rgba(0,0,0,.06)'; cv.g.fillRect(x, 0, w - x, h);
          }
        }
        drawAllocs(cv.g, w, h, r, r.start, r.end, t, col, cm);
      });
      if (cm) {
        bar.addEventListener('mousemove', ev => {
          const a = r.start + ev.offsetX / Math.max(1, bar.clientWidth) * size;
          let inAcc = false;
          for (let i = 0; i + 1 < cm.acc.length; i += 2) if (cm.acc[i] <= a && a < cm.acc[i + 1]) inAcc = true;
          showTip(ev, '<div class="t">' + esc(r.label) + ' <span class="mono">' + hex(r.start) + ' – ' + hex(r.end) + '</span> · ' + fmtBytes(size) + '</div>' +
            '<div class="r">' + esc(commitText(cm)) + '</div><div class="r">' + esc(commitExact(cm)) + '</div>' +
            '<div class="r">at <span class="mono">' + hex(Math.floor(a)) + '</span>: <b>' + (inAcc ? 'committed' : cm.cut ? 'not among the ranges drawn' : 'reserved (PROT_NONE)') + '</b></div>');
        });
        bar.addEventListener('mouseleave', hideTip);
      }
    });
    if (REG.length > map.shown) {
      const b = el('button', { type: 'button' }, 'show ' + fmtInt(REG.length - map.shown) + ' more regions');
      b.addEventListener('click', () => { map.shown = REG.length; addressMap(); });
      rows.appendChild(b);
    }
    if (map.sel != null && REG_BY_I.has(map.sel)) regionDetail(REG_BY_I.get(map.sel));
  }
  function selectRegion(r) {
    map.sel = r.i; map.z0 = 0; map.z1 = 1;
    document.querySelectorAll('.region').forEach(e => e.classList.toggle('sel', +e.getAttribute('data-region') === r.i));
    regionDetail(r);
    document.getElementById('region-detail').scrollIntoView({ behavior: 'smooth', block: 'nearest' });
  }
  function regionDetail(r) {
    const box = document.getElementById('region-detail');
    box.hidden = false;
    const t = map.t, size = r.end - r.start, col = KIND_COLOR[r.kind];
    const o = r.os ? OS_BY_ID.get(r.os) : null, call = r.call ? CALLS.get(r.call) : null;
    let h = '<h3><span class="kind-tag" style="background:' + col + '">' + esc(r.label) + '</span><span class="mono">' + hex(r.start) +
      ' – ' + hex(r.end) + '</span> · ' + fmtBytes(size) + '</h3>';
    h += '<div>created by: <b>' + esc(regionCause(r)) + '</b>' + (o ? ' <span class="mono">' + esc(o.syscall + '(' + osArgs(o) + ') = ' + o.ret) + '</span>' : '') + '</div>';
    if (call && call.stack) h += stackHtml(call.stack).replace('class="stack mono"', 'class="mono"');
    h += '<div class="muted">mapped at ' + fmtTime(r.t0) + (r.t1 != null ? ', unmapped at ' + fmtTime(r.t1) : ', still mapped at the end') +
      ' · ' + fmtInt(r.n) + ' allocations made here (' + fmtBytes(r.bytes) + '), peak live ' + fmtBytes(r.peak) +
      ', live at end ' + fmtInt(r.live_n) + ' (' + fmtBytes(r.live_b) + ')' + '</div>';
    const dc = commitOf(r);
    if (dc) h += '<div class="commit" id="region-commit">' + esc(commitText(dc)) + ': ' + esc(commitExact(dc)) + '</div>';
    h += '<div class="zoom-info" id="zoom-info"></div>';
    box.innerHTML = h;
    const wrap = el('div');
    box.appendChild(wrap);
    const W = wrap.clientWidth || 1000, H = 90;
    const cv = canvasFor(wrap, W, H);
    cv.c.id = 'region-zoom';
    const draw = () => {
      const lo = r.start + map.z0 * size, hi = r.start + map.z1 * size;
      cv.g.fillStyle = col + '18'; cv.g.fillRect(0, 0, W, H);
      cv.g.clearRect(0, 0, 0, 0);
      const n = drawAllocs(cv.g, W, H, r, lo, hi, t, col, dc);
      cv.g.fillStyle = col + '18'; cv.g.globalCompositeOperation = 'destination-over'; cv.g.fillRect(0, 0, W, H); cv.g.globalCompositeOperation = 'source-over';
      document.getElementById('zoom-info').innerHTML = '<span class="mono">' + hex(Math.floor(lo)) + '</span> … <span class="mono">' + hex(Math.ceil(hi)) +
        '</span> · ' + fmtBytes(hi - lo) + ' in view (×' + (1 / (map.z1 - map.z0)).toFixed(1) + ') · ' + fmtInt(n) + ' allocations drawn at ' + fmtTime(t);
    };
    draw();
    cv.c.addEventListener('wheel', ev => {
      ev.preventDefault();
      const f = ev.deltaY > 0 ? 1.25 : 0.8, x = ev.offsetX / W, span = map.z1 - map.z0;
      const c = map.z0 + x * span, ns = Math.min(1, Math.max(1e-9, span * f));
      map.z0 = Math.max(0, c - x * ns); map.z1 = Math.min(1, map.z0 + ns); map.z0 = Math.max(0, map.z1 - ns);
      draw();
    }, { passive: false });
    let drag = null;
    cv.c.addEventListener('mousedown', ev => { drag = { x: ev.offsetX, z0: map.z0, z1: map.z1 }; });
    window.addEventListener('mouseup', () => { drag = null; });
    cv.c.addEventListener('mousemove', ev => {
      const span = map.z1 - map.z0;
      if (drag) {
        let d = -(ev.offsetX - drag.x) / W * span;
        d = Math.max(-drag.z0, Math.min(1 - drag.z1, d));
        map.z0 = drag.z0 + d; map.z1 = drag.z1 + d; draw(); return;
      }
      const addr = r.start + (map.z0 + ev.offsetX / W * span) * size, tol = span * size / W * 2;
      const hit = (ALLOCS_OF.get(r.i) || []).find(k => liveAt(k, t) && D.allocs[k * 8] - tol <= addr && addr <= D.allocs[k * 8] + D.allocs[k * 8 + 1] + tol);
      if (hit != null) {
        const a = A(hit);
        const ac = CALLS.get(a.call);
        showTip(ev, '<div class="t mono">' + esc(ac ? callText(ac) : a.fn + '(' + a.size + ') = ' + hex(a.addr)) + '</div><div class="r">call #' + a.call +
          ' · tid ' + a.tid + ' · allocated at ' + fmtTime(a.t0) + (a.t1 >= 0 ? ', freed at ' + fmtTime(a.t1) : ', live at the end') + '</div>');
      } else hideTip();
    });
    cv.c.addEventListener('mouseleave', hideTip);
    // what lives here at t
    const list = (ALLOCS_OF.get(r.i) || []).filter(k => liveAt(k, t)).sort((x, y) => D.allocs[x * 8] - D.allocs[y * 8]);
    box.appendChild(el('h3', null, fmtInt(list.length) + ' allocation' + (list.length === 1 ? '' : 's') + ' live here at ' + fmtTime(t) +
      (list.length > 200 ? ' (first 200 by address)' : '')));
    const tb = el('table', { class: 'data', id: 'region-allocs' });
    tb.innerHTML = '<tr><th>address</th><th class="num">size</th><th>call</th><th class="num">call #</th><th class="num">tid</th><th class="num">allocated at</th></tr>';
    for (const k of list.slice(0, 200)) {
      const a = A(k);
      const c = CALLS.get(a.call);
      const tr = el('tr');
      tr.innerHTML = '<td class="mono">' + hex(a.addr) + '</td><td class="num">' + fmtBytes(a.size) + '</td><td class="mono">' + esc(c ? callSig(c) : a.fn + '(' + a.size + ')') +
        (c && c.os && c.os.length ? ' <span class="muted">→ OS #' + c.os.join(', #') + '</span>' : '') + '</td><td class="num">' + a.call +
        '</td><td class="num">' + a.tid + '</td><td class="num">' + fmtTime(a.t0) + '</td>';
      tb.appendChild(tr);
    }
    box.appendChild(el('div', { class: 'table-wrap' })).appendChild(tb);
  }

  // ---------- threshold view ----------
  function rowLo(row) { const e = row >> 2, q = row & 3; return Math.pow(2, e) * (1 + q / 4); }
  function thresholdView() {
    const box = document.getElementById('threshold');
    box.innerHTML = '';
    const W = Math.max(600, box.clientWidth), H = 316, ML = 78, MR = 70, MT = 12, MB = 44, pw = W - ML - MR, ph = H - MT - MB;
    const cv = canvasFor(box, W, H), g = cv.g;
    const useGrid = D.counts.points > D.caps.points;
    let smin = Infinity, smax = 0;
    if (useGrid) for (let i = 0; i < D.grid.length; i += 4) { smin = Math.min(smin, rowLo(D.grid[i + 1])); smax = Math.max(smax, rowLo(D.grid[i + 1] + 1)); }
    else for (let i = 0; i < D.points.length; i += 3) { smin = Math.min(smin, Math.max(1, D.points[i + 1])); smax = Math.max(smax, D.points[i + 1]); }
    // each process has its own threshold: the line is the first traced process's
    const MOVES = D.threshold.moves.filter(m => m[4] === undefined || !D.pids.length || m[4] === D.pids[0]);
    const th = [D.threshold.start];
    for (const m of MOVES) th.push(m[2]);
    // unknown at the start (attached without glibc's debug info): drawn from the first move that made it known
    const haveTh = th.some(v => v > 0) && S && S.threshold !== null;
    if (haveTh) for (const v of th) if (v > 0) { smin = Math.min(smin, v); smax = Math.max(smax, v); }
    if (!isFinite(smin)) { smin = 16; smax = 1 << 20; }
    const l0 = Math.floor(Math.log2(smin)) - 0.5, l1 = Math.ceil(Math.log2(Math.max(smax, smin * 2))) + 0.5;
    const V0 = tl.v0, V1 = Math.max(tl.v1, V0 + 1);
    const X = t => ML + (t - V0) / (V1 - V0) * pw, Y = s => MT + ph - (Math.log2(Math.max(1, s)) - l0) / (l1 - l0) * ph;
    // axes
    g.font = '11.5px system-ui, sans-serif'; g.textAlign = 'right'; g.fillStyle = '#66707d'; g.strokeStyle = '#eef1f5';
    const every = (l1 - l0) > 24 ? 4 : (l1 - l0) > 12 ? 2 : 1;
    for (let e = Math.ceil(l0); e <= l1; e++) {
      if (e % every) continue;
      g.beginPath(); g.moveTo(ML, Y(2 ** e)); g.lineTo(W - MR, Y(2 ** e)); g.stroke();
      g.fillText(fmtBytes(2 ** e), ML - 8, Y(2 ** e) + 4);
    }
    g.textAlign = 'center';
    const xs = niceStep(V1 - V0, 8);
    for (let t = Math.ceil(V0 / xs) * xs; t <= V1; t += xs) g.fillText(fmtTime(t), X(t), H - 24);
    // axis titles (the canvas's own text: nothing from the trace)
    g.font = '600 11.5px system-ui, sans-serif';
    g.fillText('time since ' + (S && S.origin === 'attach' ? 'attach' : S && S.origin === 'exec' ? "the command's exec" : 'the first record'), ML + pw / 2, H - 4);
    g.save(); g.translate(14, MT + ph / 2); g.rotate(-Math.PI / 2); g.fillText('request size (log scale)', 0, 0); g.restore();
    g.font = '11.5px system-ui, sans-serif';
    g.strokeStyle = '#c9d0d9'; g.beginPath(); g.moveTo(ML, MT + ph); g.lineTo(W - MR, MT + ph); g.stroke();
    // data, clipped to the plot (the timeline's range)
    g.save(); g.beginPath(); g.rect(ML, 0, pw, H); g.clip();
    if (useGrid) {
      let maxc = 1;
      for (let i = 3; i < D.grid.length; i += 4) maxc = Math.max(maxc, D.grid[i]);
      for (let i = 0; i < D.grid.length; i += 4) {
        const col = D.grid[i], row = D.grid[i + 1], s = D.grid[i + 2], n = D.grid[i + 3];
        const x = X(col * D.grid_ns), x2 = X((col + 1) * D.grid_ns), y = Y(rowLo(row + 1)), y2 = Y(rowLo(row));
        g.globalAlpha = 0.25 + 0.75 * Math.log(1 + n) / Math.log(1 + maxc);
        g.fillStyle = SERVED[s].color;
        g.fillRect(x, y, Math.max(1, x2 - x), Math.max(1, y2 - y));
      }
      g.globalAlpha = 1;
    } else {
      g.globalAlpha = 0.7;
      for (let i = 0; i < D.points.length; i += 3) {
        g.fillStyle = SERVED[D.points[i + 2]].color;
        g.beginPath(); g.arc(X(D.points[i]), Y(D.points[i + 1]), 3.2, 0, 7); g.fill();
      }
      g.globalAlpha = 1;
    }
    if (haveTh) {
      g.strokeStyle = '#1c2430'; g.lineWidth = 1.5; g.setLineDash([6, 4]);
      g.beginPath();
      let v = D.threshold.start;
      if (v > 0) g.moveTo(ML, Y(v));
      for (const m of MOVES) {
        if (v > 0) { g.lineTo(X(m[0]), Y(v)); v = m[2]; g.lineTo(X(m[0]), Y(v)); }
        else { v = m[2]; g.moveTo(X(m[0]), Y(v)); }
      }
      g.lineTo(W - MR, Y(v));
      g.stroke(); g.restore(); g.setLineDash([6, 4]); g.beginPath();
      if (D.threshold.start === 0) { g.fillStyle = '#66707d'; g.textAlign = 'left'; g.fillText('mmap threshold unknown until its first move', ML + 4, MT + 14); }
      g.stroke(); g.setLineDash([]);
      g.fillStyle = '#1c2430'; g.textAlign = 'right';
      g.fillText('mmap threshold ' + fmtExact(v) + (S && S.threshold && S.threshold.fixed ? ' (fixed)' : D.pids.length > 1 ? ' (pid ' + D.pids[0] + ')' : ''), W - MR - 4, Y(v) - 6);
    } else {
      g.restore();
      g.fillStyle = '#66707d'; g.textAlign = 'right';
      g.fillText('no mmap threshold (neither glibc nor musl, or no allocating calls)', W - MR - 4, MT + 14);
    }
    cv.c.setAttribute('data-points', useGrid ? D.counts.points : D.points.length / 3);
    cv.c.setAttribute('data-mode', useGrid ? 'grid' : 'points');
    if (!useGrid) {
      cv.c.addEventListener('mousemove', ev => {
        let best = -1, bd = 64;
        for (let i = 0; i < D.points.length; i += 3) {
          const dx = X(D.points[i]) - ev.offsetX, dy = Y(D.points[i + 1]) - ev.offsetY, d = dx * dx + dy * dy;
          if (d < bd) { bd = d; best = i; }
        }
        if (best < 0) return hideTip();
        let thv = D.threshold.start;
        for (const m of MOVES) if (m[0] <= D.points[best]) thv = m[2];
        showTip(ev, '<div class="t">' + fmtBytes(D.points[best + 1]) + ' (' + fmtInt(D.points[best + 1]) + ' B) → ' + SERVED[D.points[best + 2]].name + '</div>' +
          '<div class="r">at ' + fmtTime(D.points[best]) + (haveTh ? ' · threshold then ' + (thv > 0 ? fmtExact(thv) : 'unknown') : '') + '</div>');
      });
      cv.c.addEventListener('mouseleave', hideTip);
    }
  }

  // ---------- flame graph of OS-requesting stacks ----------
  // D.flame is the frame tree report_model.c folded the OS requests' stacks
  // into (root first, the syscall as the innermost pseudo-frame): 8 numbers
  // per node, parents before children. Drawn as an icicle: the root on top.
  const FN_ALLOC = 1, FN_LINES = 2, FN_SYS = 4;
  const FG_ROW = 19;
  const fg = { mode: 'bytes', collapse: false, zoom: null, tree: null };
  function fgBuild() {
    const F = D.flame, S_ = F.strings, N = F.nodes, nodes = [];
    const str = i => i >= 0 ? S_[i] : null;
    for (let i = 0; i < N.length; i += 8) {
      const n = { name: str(N[i + 1]), obj: str(N[i + 2]), file: str(N[i + 3]), line: N[i + 4], flags: N[i + 5],
        bytes: N[i + 6], count: N[i + 7], children: [], parent: null, i: nodes.length };
      const p = N[i];
      if (p >= 0 && nodes[p]) { n.parent = nodes[p]; nodes[p].children.push(n); }
      nodes.push(n);
    }
    fg.nodes = nodes;
    return nodes[0] || null;
  }
  // The tree of the OS requests in the timeline's range: the same nodes,
  // weighed again from each folded request's end node, time and weight
  // (D.flame.ends); null when the range is the whole trace or the trace has
  // more requests than the page remembers times of (then the whole tree).
  function fgRangeTree() {
    const F = D.flame, E = Array.isArray(F.ends) ? F.ends : [];
    if (!ranged() || F.ends_over > 0 || !fg.nodes) return null;
    const key = tl.v0 + ',' + tl.v1;
    if (fg.rkey === key) return fg.rtree;
    const copy = fg.nodes.map(n => Object.assign({}, n, { bytes: 0, count: 0, children: [], parent: null }));
    fg.nodes.forEach((n, i) => { if (n.parent) { const p = copy[n.parent.i]; copy[i].parent = p; p.children.push(copy[i]); } });
    for (let i = 0; i + 2 < E.length; i += 3) {
      if (E[i + 1] < tl.v0 || E[i + 1] > tl.v1) continue;
      for (let n = copy[E[i]]; n; n = n.parent) { n.bytes += E[i + 2]; n.count++; }
    }
    fg.rkey = key; fg.rtree = copy[0] || null; fg.rctree = null;
    return fg.rtree;
  }
  // Allocator internals folded into their outermost frame (malloc, calloc):
  // what lies under it is the syscalls it made, merged by name.
  function fgCollapse(n, parent) {
    const c = Object.assign({}, n, { parent: parent, children: [] });
    if (n.flags & FN_ALLOC) {
      c.collapsed = true;
      const leaves = new Map(), walk = k => {
        for (const ch of k.children) {
          if (ch.flags & FN_ALLOC) { walk(ch); continue; }
          const key = ch.name + '\u0000' + ch.obj, have = leaves.get(key);
          if (have) { have.bytes += ch.bytes; have.count += ch.count; } else leaves.set(key, Object.assign({}, ch, { parent: c, children: [] }));
        }
      };
      walk(n);
      c.children = Array.from(leaves.values());
    } else c.children = n.children.map(ch => fgCollapse(ch, c));
    return c;
  }
  const fgVal = n => fg.mode === 'bytes' ? n.bytes : n.count;
  const fgFmt = v => fg.mode === 'bytes' ? fmtBytes(v) : fmtInt(v) + ' request' + (v === 1 ? '' : 's');
  function fgHash(s) { let h = 2166136261; for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619); return (h >>> 0) / 4294967296; }
  function fgKind(n) {
    if (n.flags & FN_SYS) return 'sys';
    if (n.flags & FN_ALLOC) return 'alloc';
    if (n.obj && /\.so(\.|$)/.test(n.obj)) return 'lib';
    return n.obj ? 'prog' : 'root';
  }
  const FG_KINDS = {
    prog: { name: 'program', color: h => 'hsl(' + (12 + h * 32).toFixed(0) + ',82%,' + (60 + h * 8).toFixed(0) + '%)' },
    lib: { name: 'shared libraries', color: h => 'hsl(' + (168 + h * 30).toFixed(0) + ',38%,' + (66 + h * 8).toFixed(0) + '%)' },
    alloc: { name: 'allocator internals (inside the malloc call)', color: h => 'hsl(' + (262 + h * 22).toFixed(0) + ',42%,' + (76 + h * 6).toFixed(0) + '%)' },
    sys: { name: 'the syscall', color: () => '#566173' },
    root: { name: 'all', color: () => '#c9d0d9' },
  };
  function fgColor(n) {
    const k = fgKind(n);
    if (k === 'sys') return sysColor(n.name);
    return FG_KINDS[k].color(fgHash(n.name));
  }
  function fgWhere(n) {
    if (!n.file) return '';
    return n.file.replace(/^.*\//, '') + (n.line ? ':' + n.line : '');
  }
  function fgTip(n, root) {
    const v = fgVal(n), tot = fgVal(root), z = fg.zoom && fg.zoom !== root ? fgVal(fg.zoom) : 0;
    const self = v - n.children.reduce((a, c) => a + fgVal(c), 0);
    let h = '<div class="t mono">' + esc(n.name) + '</div>';
    if (n.flags & FN_SYS) h += '<div class="r">the ' + esc(n.name) + ' syscall (the kernel)</div>';
    else if (n.obj) h += '<div class="r">in <span class="mono">' + esc(n.obj) + '</span></div>';
    if (n.file) h += '<div class="r mono">' + esc(n.file) + (n.line ? ':' + n.line : '') + (n.flags & FN_LINES ? ' <span class="r">(and other lines)</span>' : '') + '</div>';
    h += '<div class="r">bytes from the OS: <b>' + fmtBytes(n.bytes) + '</b> (' + fmtInt(n.bytes) + ' B) · OS requests: <b>' + fmtInt(n.count) + '</b></div>';
    h += '<div class="r">' + (tot ? (100 * v / tot).toFixed(1) + '% of all' : '') + (z ? ' · ' + (100 * v / z).toFixed(1) + '% of ' + esc(fg.zoom.name) : '') +
      (self > 0 && n.children.length ? ' · self ' + fgFmt(self) : '') + '</div>';
    if (n.collapsed) h += '<div class="r">allocator internals collapsed into this frame</div>';
    else if (n.flags & FN_ALLOC) h += '<div class="r">inside the allocator call that made the request</div>';
    return h + '<div class="r muted">click to zoom</div>';
  }
  function flameHint(F) {
    const h = document.getElementById('flame-hint');
    h.innerHTML = 'The stacks of the OS requests (' + fmtInt(F.stacks) + ' with a stack), root on top, the syscall at the bottom of each column. ' +
      'Width: <b>' + (fg.mode === 'bytes' ? 'bytes obtained from the OS</b> — anonymous mmap length, brk growth, mremap growth, writable mprotect of an allocator mapping (what <code>--folded</code> writes); munmap, madvise and file mappings weigh nothing'
        : 'number of OS requests</b> — every memory syscall counts once (munmap and madvise too)') +
      '. Frames are merged by function. Hover for details, click to zoom, click the path above to zoom out.';
  }
  function flame() {
    const box = document.getElementById('flame'), F = D.flame;
    box.innerHTML = '';
    if (!F || !F.stacks || !F.nodes.length) {
      for (const id of ['flame-hint', 'flame-crumbs', 'flame-legend']) document.getElementById(id).style.display = 'none';
      document.querySelector('#flame-panel .fg-controls').style.display = 'none';
      box.appendChild(el('div', { class: 'empty', id: 'flame-empty', style: 'margin-top:10px' },
        'This trace has no stacks, so there is no flame graph. Record one with <code>allocmap trace --stacks=os --html report.html -- CMD</code> ' +
        '(stacks of the OS requests and the calls that made them: cheap), or <code>--stacks</code> for every call and the leak report.'));
      return;
    }
    if (!fg.tree) fg.tree = fgBuild();
    const rt = fgRangeTree();
    const root = rt ? (fg.collapse ? (fg.rctree || (fg.rctree = fgCollapse(rt, null))) : rt) :
      fg.collapse ? (fg.ctree || (fg.ctree = fgCollapse(fg.tree, null))) : fg.tree;
    if (fg.zoom && fg.zoom.__root !== root) fg.zoom = null;
    const zoom = fg.zoom || root;
    flameHint(F);
    // ancestors of the zoomed frame, drawn full width above it
    const anc = [];
    for (let p = zoom.parent; p; p = p.parent) anc.unshift(p);
    const W = Math.max(600, box.clientWidth), zv = fgVal(zoom);
    const rows = [];   // [node, x, w, depth, isAncestor]
    anc.forEach((n, d) => rows.push([n, 0, W, d, true]));
    let maxDepth = anc.length;
    const lay = (n, x, d) => {
      const w = zv ? fgVal(n) / zv * W : 0;
      if (w < 0.4 || fgVal(n) <= 0) return;
      rows.push([n, x, w, d, false]);
      maxDepth = Math.max(maxDepth, d);
      let cx = x;
      const kids = n.children.filter(c => fgVal(c) > 0).sort((a, b) => fgVal(b) - fgVal(a) || (a.name < b.name ? -1 : 1));
      for (const c of kids) { lay(c, cx, d + 1); cx += fgVal(c) / zv * W; }
    };
    if (zv > 0) lay(zoom, 0, anc.length);
    const H = (maxDepth + 1) * FG_ROW + 2;
    const svg = sv('svg', { width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, id: 'flame-svg', 'data-mode': fg.mode,
      'data-total': fgVal(root), 'data-stacks': F.stacks, 'data-range': rt ? tl.v0 + ',' + tl.v1 : '' });
    box.appendChild(svg);
    const nodeOf = new Map();
    rows.forEach(([n, x, w, d, isAnc], i) => {
      n.__root = root;
      const k = fgKind(n);
      const g = sv('g', { class: 'fg-frame' + (isAnc ? ' anc' : '') + (k === 'sys' ? ' sysf' : '') + (k === 'alloc' ? ' alloc' : ''),
        'data-i': i, 'data-name': n.name, 'data-obj': n.obj || '', 'data-bytes': n.bytes, 'data-count': n.count, 'data-kind': k,
        transform: 'translate(' + x.toFixed(2) + ',' + (d * FG_ROW + 1) + ')' });
      g.appendChild(sv('rect', { width: Math.max(0.4, w - 0.5).toFixed(2), height: FG_ROW - 1, rx: 2, fill: fgColor(n) }));
      if (w > 34) {
        const t = sv('text', { x: 5, y: FG_ROW - 6 });
        const full = n.name === 'all' && !n.obj ? 'all · ' + fgFmt(fgVal(n)) : n.name, room = Math.floor((w - 10) / 6.3);
        t.textContent = full.length > room ? full.slice(0, Math.max(1, room - 1)) + '…' : full;
        g.appendChild(t);
      }
      nodeOf.set(String(i), n);
      svg.appendChild(g);
    });
    const hit = ev => { const g = ev.target.closest && ev.target.closest('.fg-frame'); return g ? nodeOf.get(g.getAttribute('data-i')) : null; };
    svg.addEventListener('mousemove', ev => { const n = hit(ev); if (n) showTip(ev, fgTip(n, root)); else hideTip(); });
    svg.addEventListener('mouseleave', hideTip);
    svg.addEventListener('click', ev => { const n = hit(ev); if (n) { fg.zoom = n === root ? null : n; hideTip(); flame(); } });
    // the zoom path
    const cr = document.getElementById('flame-crumbs');
    cr.innerHTML = '';
    const path = anc.concat([zoom]);
    path.forEach((n, i) => {
      if (i) cr.appendChild(el('span', { class: 'sep' }, '›'));
      const a = el('a', { 'data-i': i }, esc(n === root ? 'all (' + fgFmt(fgVal(root)) + ')' : n.name));
      a.addEventListener('click', () => { fg.zoom = n === root ? null : n; flame(); });
      cr.appendChild(a);
    });
    if (zoom !== root) cr.appendChild(el('span', { class: 'muted' }, ' — ' + fgFmt(zv) + ', ' + (100 * zv / Math.max(1, fgVal(root))).toFixed(1) + '% of all'));
    const notes = [];
    if (F.no_stack) notes.push(fmtInt(F.no_stack) + ' OS requests had no stack and are not in the graph');
    if (F.cut) notes.push(fmtInt(F.cut) + ' stacks were cut where the tree reached its ' + fmtInt(F.cap) + '-frame cap (their weight stays with the deepest frame kept)');
    if (rt) notes.push('the OS requests made in ' + fmtTime(tl.v0) + ' – ' + fmtTime(tl.v1) + ' (the timeline\'s range; every thread)');
    else if (ranged()) notes.push('the whole trace: its ' + fmtInt(F.stacks) + ' stacked OS requests are more than the ' + fmtInt(F.ends ? F.ends.length / 3 : 0) + ' whose times the page keeps, so the range does not filter it');
    if (notes.length) cr.appendChild(el('div', { class: 'muted' }, esc(notes.join('; ') + '.')));
  }
  function flameWire() {
    const set = mode => {
      fg.mode = mode;
      document.getElementById('fg-bytes').classList.toggle('on', mode === 'bytes');
      document.getElementById('fg-count').classList.toggle('on', mode === 'count');
      flame();
    };
    document.getElementById('fg-bytes').addEventListener('click', () => set('bytes'));
    document.getElementById('fg-count').addEventListener('click', () => set('count'));
    document.getElementById('fg-collapse').addEventListener('change', ev => { fg.collapse = ev.target.checked; fg.zoom = null; flame(); });
    document.getElementById('fg-reset').addEventListener('click', () => { fg.zoom = null; flame(); });
    legend('flame-legend', ['prog', 'lib', 'alloc'].map(k => ({ name: FG_KINDS[k].name, color: FG_KINDS[k].color(0.5) }))
      .concat(SYS.map(s => ({ name: s, color: SYS_COLOR[s] }))));
  }

  // ---------- leaks ----------
  function frameLine(f) {
    const name = f.sym || (f.obj ? f.obj + '+' + hex(f.off || 0) : hex(f.addr || 0));
    const where = f.file ? f.file.replace(/^.*\//, '') + (f.line ? ':' + f.line : '') : f.obj || '';
    return '<span class="fr"><b>' + esc(name) + '</b><span class="where">' + esc(where) + '</span></span>';
  }
  function leaksTable() {
    const box = document.getElementById('leaks'), L = D.leaks;
    const cnt = document.getElementById('leaks-count');
    if (!L) {
      box.appendChild(el('div', { class: 'empty', id: 'leaks-empty' },
        'No leak report in this trace. It comes with allocation stacks: <code>allocmap trace --stacks --html report.html -- CMD</code>.'));
      return;
    }
    cnt.textContent = fmtBytes(L.bytes) + ' in ' + fmtInt(L.count) + ' allocation' + (L.count === 1 ? '' : 's') + ', ' +
      fmtInt(L.groups_total) + ' stack' + (L.groups_total === 1 ? '' : 's') + (L.groups_total > L.groups.length ? ' (largest ' + L.groups.length + ' listed)' : '');
    if (!L.groups.length) { box.appendChild(el('div', { class: 'empty' }, 'Nothing was live at the end: no leaks.')); return; }
    const max = Math.max(1, ...L.groups.map(g => g.bytes));
    let h = '<thead><tr><th class="num">#</th><th class="num">bytes</th><th class="bar-cell"></th><th class="num">allocations</th><th>held in</th><th>allocated from</th></tr></thead><tbody>';
    L.groups.forEach((g, i) => {
      const st = Array.isArray(g.stack) ? g.stack : [];
      // frame 0 is the allocator function, frame 1 its caller (README)
      const callers = st.length > 1 ? st.slice(1) : st;
      const top = callers.length ? callers[0].sym || '' : '';
      let fr;
      if (!st.length) fr = '<span class="muted">stack unknown — with <code>--stacks=os</code> only allocations that made an OS request have one; use <code>--stacks</code></span>';
      else {
        fr = callers.slice(0, 3).map(frameLine).join(' <span class="muted">←</span> ') + (callers.length > 3 ? ' <span class="muted">← …</span>' : '');
        fr += '<details><summary>' + esc(st.length) + ' frames' + (st[0].sym ? ', via ' + esc(st[0].sym) : '') + '</summary>' + stackHtml(st).replace('stack mono', 'mono') + '</details>';
      }
      const regs = Object.keys(g.regions || {}).map(r => fmtInt(g.regions[r].count) + ' in ' + esc(r) + ' (' + fmtBytes(g.regions[r].bytes) + ')').join('<br>');
      h += '<tr class="leak-row" data-top="' + esc(top) + '" data-bytes="' + num(g.bytes) + '" data-count="' + num(g.count) + '"><td class="num">' + (i + 1) +
        '</td><td class="num" data-v="' + num(g.bytes) + '"><b>' + fmtBytes(g.bytes) + '</b><div class="muted">' + fmtInt(g.bytes) + ' B</div></td><td class="bar-cell"><div class="minibar" style="width:' +
        (Math.max(2, 100 * g.bytes / max) || 0).toFixed(1) + '%"></div></td><td class="num" data-v="' + num(g.count) + '">' + fmtInt(g.count) + '</td><td>' + regs + (g.pid ? '<div class="muted">pid ' + num(g.pid) + '</div>' : '') +
        '</td><td class="frames">' + fr + '</td></tr>';
    });
    const tb = el('table', { class: 'data leaks', id: 'leaks-table' }, h + '</tbody>');
    box.appendChild(el('div', { class: 'table-wrap' })).appendChild(tb);
    const q = document.getElementById('leaks-search');
    q.hidden = false;
    sortableTable(tb, q, document.getElementById('leaks-match'));
  }

  // ---------- tables ----------
  function highlightOsRow(id) {
    let tr = document.getElementById('os-row-' + id);
    if (!tr) {   // not drawn (past the first rows, or filtered out): all, unfiltered
      ost.q = ''; document.getElementById('os-search').value = '';
      const o = OS_BY_ID.get(id);
      if (o && isStartup(o) && st.folded) st.toggle();
      if (o && (!tidOk(o.tid) || o.t < tl.v0 || o.t > tl.v1)) {   // filtered out: show everything
        tl.v0 = 0; tl.v1 = DUR; tl.tid = null; document.getElementById('tid-filter').value = '';
        timeline(); rangeChanged();
      }
      renderOsTable(true); tr = document.getElementById('os-row-' + id);
    }
    document.querySelectorAll('#os-table tr.hl, .os-marker.hl').forEach(e => e.classList.remove('hl'));
    if (tr) { tr.classList.add('hl'); tr.scrollIntoView({ behavior: 'smooth', block: 'center' }); }
  }
  // the OS table's order and search (the Call sites table's way: click a
  // header to sort, again to reverse; the box filters by any cell's text)
  const ost = { sort: 'id', dir: 1, q: '', all: false };
  const OS_COLS = [
    { key: 'id', name: '#', num: true, v: o => o.id }, { key: 't', name: 'time', num: true, v: o => o.t },
    { key: 'tid', name: 'tid', num: true, v: o => o.tid }, { key: 'syscall', name: 'syscall', v: o => o.syscall },
    { key: 'args', name: 'arguments', v: osArgs }, { key: 'ret', name: 'result', v: o => o.error || String(o.ret != null ? o.ret : '') },
    { key: 'dur', name: 'took', num: true, v: o => o.dur_ns || 0 }, { key: 'cause', name: 'cause', v: o => o.cause && o.cause.kind === 'call' ? o.cause.fn : 'direct' },
    { key: 'region', name: 'region', v: o => o.region || '' },
  ];
  function osRowText(o) {
    return [o.id, fmtTime(o.t), o.tid, o.syscall, osArgs(o), o.error || o.ret, o.cause && o.cause.kind === 'call' ? causeSig(o.cause.call_id, o.cause.fn, o.cause.size) : 'direct', o.region]
      .join(' ').toLowerCase();
  }
  // the cause column: the call in the text's notation, its name in bold
  function causeCell(c) {
    const sig = causeSig(c.call_id, c.fn, c.size), fn = esc0(c.fn);
    return sig.startsWith(fn) ? '<b>' + esc(fn) + '</b>' + esc(sig.slice(fn.length)) : esc(sig);
  }
  function osRows() {
    const c = OS_COLS.find(x => x.key === ost.sort), d = ost.dir;
    const rows = OS.filter(o => o.t >= tl.v0 && o.t <= tl.v1 && tidOk(o.tid) && shownOs(o) && (!ost.q || osRowText(o).includes(ost.q)));
    return rows.sort((a, b) => {
      const x = c.v(a), y = c.v(b);
      const r = c.num ? (x || 0) - (y || 0) : String(x).localeCompare(String(y));
      return r * d || a.id - b.id;
    });
  }
  function renderOsTable(all) {
    if (all) ost.all = true;
    const tb = document.getElementById('os-table');
    const rows = osRows();
    const n = ost.all ? rows.length : Math.min(rows.length, OS_ROWS);
    let h = '<thead><tr>' + OS_COLS.map(c => '<th class="sortable' + (c.num ? ' num' : '') + '" data-sort="' + c.key + '" aria-sort="' +
      (ost.sort === c.key ? (ost.dir < 0 ? 'descending' : 'ascending') : 'none') + '" title="sort by ' + c.name + '">' + c.name +
      (ost.sort === c.key ? (ost.dir < 0 ? ' ▼' : ' ▲') : '') + '</th>').join('') + '</tr></thead><tbody>';
    // folded: a row per process for its startup requests (those the range and thread filters keep)
    const folded = st.folded ? startupGroups(OS.filter(o => o.t >= tl.v0 && o.t <= tl.v1 && tidOk(o.tid))) : [];
    for (const g of folded)
      h += '<tr class="startup-row" data-n="' + g.n + '"><td></td><td class="num">' + fmtTime(g.t0) + '</td><td class="num">' + num(g.tid) +
        '</td><td colspan="6"><button type="button" class="startup-show">▸ ' + esc(startupText(g)) + '</button></td></tr>';
    for (let i = 0; i < n; i++) {
      const o = rows[i], col = sysColor(o.syscall);
      h += '<tr id="os-row-' + num(o.id) + '" class="os-row"><td class="num">' + num(o.id) + '</td><td class="num">' + fmtTime(o.t) + '</td><td class="num">' + num(o.tid) +
        '</td><td><span class="sys" style="background:' + col + '">' + esc(o.syscall) + '</span></td><td class="mono"' + (typeof o.len === 'number' ? ' title="' + fmtBytes(o.len) + (o.syscall === 'mremap' ? ' → ' + fmtBytes(o.new_len) : '') + '"' : '') + '>' + esc(osArgs(o)) +
        '</td><td class="mono">' + osResult(o) + '</td><td class="num">' + fmtTime(o.dur_ns || 0) + '</td><td>' +
        (o.cause && o.cause.kind === 'call' ? causeCell(o.cause) + ' <span class="muted">#' + num(o.cause.call_id) + '</span>'
          : '<span class="muted">direct</span>') + '</td><td>' + esc(o.region || '') + '</td></tr>';
    }
    if (!n && !folded.length) h += '<tr><td colspan="9" class="muted">' + (OS.length ? 'no request matches the search' : 'no OS requests in this trace') + '</td></tr>';
    tb.innerHTML = h + '</tbody>';
    tb.querySelectorAll('.startup-show').forEach(b => b.addEventListener('click', () => st.toggle()));
    tb.querySelectorAll('th.sortable').forEach(th => th.addEventListener('click', () => {
      const k = th.getAttribute('data-sort'), c = OS_COLS.find(x => x.key === k);
      if (ost.sort === k) ost.dir = -ost.dir; else { ost.sort = k; ost.dir = c.num && k !== 'id' && k !== 't' ? -1 : 1; }
      renderOsTable(false);
    }));
    const more = document.getElementById('os-more');
    more.innerHTML = '';
    const nf = folded.reduce((a, g) => a + g.n, 0);
    document.getElementById('os-count').textContent = fmtInt(D.counts.os) + ' requests' + (D.counts.os > OS.length ? ' (' + fmtInt(OS.length) + ' listed)' : '') +
      (ost.q || ranged() || tl.tid !== null || nf ? ', ' + fmtInt(rows.length) + ' shown' + (nf ? ' (' + fmtInt(nf) + ' startup folded)' : '') +
        (ranged() ? ' (timeline range)' : '') + (tl.tid !== null ? ' (thread ' + tl.tid + ')' : '') : '');
    if (n < rows.length) {
      const b = el('button', { type: 'button' }, 'show all ' + fmtInt(rows.length) + ' rows');
      b.addEventListener('click', () => renderOsTable(true));
      more.appendChild(b);
    }
  }
  // A fully drawn small table made sortable: a click on a header sorts its
  // rows by that column (a cell's data-v when it has one: a number; else
  // its text), again reverses; the search box (optional) hides rows whose
  // text lacks what was typed.
  function sortableTable(table, search, countEl) {
    const head = table.tHead ? table.tHead.rows[0] : table.rows[0];
    if (!head) return;
    const body = () => Array.from(table.rows).filter(r => r !== head && r.parentNode !== table.tHead);
    const st = { col: -1, dir: 1 };
    const label = Array.from(head.cells).map(th => th.textContent);
    Array.from(head.cells).forEach((th, ci) => {
      if (!label[ci]) return;
      th.classList.add('sortable');
      th.title = 'sort by ' + label[ci];
      th.setAttribute('aria-sort', 'none');
      th.addEventListener('click', () => {
        const rows = body();
        const isNum = rows.some(r => r.cells[ci] && r.cells[ci].hasAttribute('data-v'));
        if (st.col === ci) st.dir = -st.dir; else { st.col = ci; st.dir = isNum ? -1 : 1; }
        const key = r => { const c = r.cells[ci]; return !c ? '' : isNum ? +(c.getAttribute('data-v') || 0) : c.textContent.toLowerCase(); };
        rows.sort((a, b) => { const x = key(a), y = key(b); return (isNum ? x - y : x < y ? -1 : x > y ? 1 : 0) * st.dir; });
        const parent = rows.length ? rows[0].parentNode : null;
        rows.forEach(r => parent.appendChild(r));
        Array.from(head.cells).forEach((h, i) => {
          if (!label[i]) return;
          h.textContent = label[i] + (i === ci ? (st.dir < 0 ? ' ▼' : ' ▲') : '');
          h.setAttribute('aria-sort', i === ci ? (st.dir < 0 ? 'descending' : 'ascending') : 'none');
        });
      });
    });
    if (!search) return;
    search.addEventListener('input', () => {
      const q = search.value.trim().toLowerCase(), rows = body();
      let shown = 0;
      rows.forEach(r => { const hit = !q || r.textContent.toLowerCase().includes(q); r.hidden = !hit; shown += hit; });
      if (countEl) countEl.textContent = q ? fmtInt(shown) + ' of ' + fmtInt(rows.length) + ' rows match' : '';
    });
  }
  // The function table's rows for the calls that began in the timeline's
  // range: the model's time columns (fn_cols, w ns wide) the range touches,
  // summed; {rows, f0, f1} with the columns' span, or null for the whole trace.
  function fnRangeRows() {
    const F = isRec(D.fn_cols) ? D.fn_cols : null;
    if (!ranged() || !F || !(F.w > 0) || !Array.isArray(F.cells)) return null;
    const names = strs(F.names), c0 = Math.floor(tl.v0 / F.w), c1 = Math.max(c0 + 1, Math.ceil(tl.v1 / F.w));
    const by = new Map();
    for (let i = 0; i + 8 < F.cells.length; i += 9) {
      const c = F.cells;
      if (c[i] < c0 || c[i] >= c1) continue;
      const fn = names[c[i + 1]] || 'other';
      const r = by.get(fn) || { fn: fn, calls: 0, bytes: 0, os_calls: 0, failed: 0, nested: 0, dur_ns: 0, mcalls: 0 };
      r.calls += c[i + 2]; r.bytes += c[i + 3]; r.os_calls += c[i + 4]; r.failed += c[i + 5]; r.nested += c[i + 6];
      r.dur_ns += c[i + 7]; r.mcalls += c[i + 8];
      by.set(fn, r);
    }
    return { rows: Array.from(by.values()), f0: c0 * F.w, f1: c1 * F.w };
  }
  function fnTables() {
    const mine = new Map(D.fns.map(f => [f.fn, f]));
    let rows = [];
    // the average is over the calls that have a duration (a free traced at
    // entry only has none: no return probe); none timed: '–'
    const timed = f => typeof f.timed === 'number' ? f.timed : f.calls;
    const rr = fnRangeRows(), note = document.getElementById('fn-range'), ft = document.getElementById('fn-table');
    note.textContent = rr ? 'calls that began in ' + fmtTime(rr.f0) + ' – ' + fmtTime(rr.f1) + ' (the range, to the table\'s ' + fmtTime(D.fn_cols.w) + ' steps), every thread' : '';
    if (rr) { ft.setAttribute('data-f0', rr.f0); ft.setAttribute('data-f1', rr.f1); } else { ft.removeAttribute('data-f0'); ft.removeAttribute('data-f1'); }
    if (rr) rows = rr.rows;
    else if (S && S.functions) for (const k in S.functions) rows.push(Object.assign({ fn: k }, S.functions[k], { dur_ns: (mine.get(k) || {}).dur_ns, mcalls: timed(mine.get(k) || {}) }));
    else for (const f of D.fns) rows.push(Object.assign({ mcalls: timed(f) }, f));
    rows.sort((a, b) => b.calls - a.calls);
    let h = '<tr><th>function</th><th class="num">calls</th><th class="num">bytes</th><th class="num">made OS requests</th><th class="num">failed</th><th class="num">nested</th><th class="num">avg time</th></tr>';
    // one unit for the whole bytes column (the largest value's), exact bytes on hover
    const bu = unitFor(Math.max(0, ...rows.map(r => r.bytes || 0)));
    const nv = v => ' data-v="' + (typeof v === 'number' ? v : -1) + '"';
    for (const r of rows) {
      const avg = r.dur_ns != null && r.mcalls ? r.dur_ns / r.mcalls : null;
      h += '<tr class="fn-row"><td><b>' + esc(r.fn) + '</b></td><td class="num"' + nv(r.calls) + '>' + fmtInt(r.calls) + '</td><td class="num"' + nv(r.bytes) +
        ' title="' + fmtInt(r.bytes) + ' bytes">' + fmtBytesIn(r.bytes, bu) + '</td><td class="num"' + nv(r.os_calls) + '>' + fmtInt(r.os_calls) + '</td><td class="num' + (r.failed ? ' warn' : '') + '"' + nv(r.failed) + '>' +
        fmtInt(r.failed) + '</td><td class="num"' + nv(r.nested) + '>' + fmtInt(r.nested) + '</td><td class="num"' + nv(avg) + '>' + (avg != null ? fmtTime(avg) : '–') + '</td></tr>';
    }
    if (!rows.length) h += '<tr><td colspan="7" class="muted">no allocator call began in this range</td></tr>';
    document.getElementById('fn-table').innerHTML = h;
    sortableTable(document.getElementById('fn-table'));
    h = '<tr><th>syscall</th><th class="num">count</th><th class="num">failed</th><th>by cause</th></tr>';
    if (S && S.syscalls) {
      for (const k in S.syscalls) {
        const s = S.syscalls[k];
        const by = Object.keys(s.by_cause || {}).map(c => esc(c) + ' ' + fmtInt(s.by_cause[c])).join(', ');
        h += '<tr class="sys-row"><td><span class="sys" style="background:' + sysColor(k) + '">' + esc(k) + '</span></td><td class="num" data-v="' + num(s.count) + '">' + fmtInt(s.count) +
          '</td><td class="num' + (s.failed ? ' warn' : '') + '" data-v="' + num(s.failed) + '">' + fmtInt(s.failed) + '</td><td>' + by + '</td></tr>';
      }
    } else {
      for (const s of D.sys)
        h += '<tr class="sys-row"><td><span class="sys" style="background:' + sysColor(s.sys) + '">' + esc(s.sys) + '</span></td><td class="num" data-v="' + num(s.count) + '">' + fmtInt(s.count) +
          '</td><td class="num" data-v="' + num(s.failed) + '">' + fmtInt(s.failed) + '</td><td>allocator calls ' + fmtInt(s.by_call) + ', direct ' + fmtInt(s.count - s.by_call) + '</td></tr>';
    }
    document.getElementById('sys-table').innerHTML = h;
    sortableTable(document.getElementById('sys-table'));
  }
  function countersTable() {
    const tb = document.getElementById('counters-table');
    if (!S) { tb.innerHTML = '<tr><td class="warn">no summary record in this trace</td></tr>'; return; }
    let h = '<tr><th>counter</th><th class="num">value</th></tr>';
    const c = S.counters || {};
    for (const k in c) {
      const bad = /^lost|missed|unattached|overflow|full|orphan/.test(k) && c[k] > 0;
      h += '<tr class="counter-row"><td>' + esc(k.replace(/_/g, ' ')) + '</td><td class="num' + (bad ? ' warn' : '') + '" data-v="' + (typeof c[k] === 'number' ? c[k] : -1) + '">' +
        (typeof c[k] === 'boolean' ? String(c[k]) : fmtInt(c[k])) + '</td></tr>';
    }
    const b = S.bytes || {};
    for (const k in b) h += '<tr><td>bytes: ' + esc(k.replace(/_/g, ' ')) + '</td><td class="num" data-v="' + num(b[k]) + '" title="' + fmtInt(b[k]) + ' bytes">' + fmtBytes(b[k]) + '</td></tr>';
    for (const k in (S.live_at_end || {}))
      h += '<tr><td>live at end in ' + esc(k) + '</td><td class="num">' + fmtInt(S.live_at_end[k].count) + ' · ' + fmtBytes(S.live_at_end[k].bytes) + '</td></tr>';
    if (S.threshold) h += '<tr><td>mmap threshold</td><td class="num">' + thrText(S.threshold, 'start') + ' → ' + thrText(S.threshold, 'end') + '</td></tr>';
    h += '<tr><td>trace duration</td><td class="num">' + fmtTime(S.duration_ns) + '</td></tr>';
    tb.innerHTML = h;
    sortableTable(tb, document.getElementById('counters-search'), document.getElementById('counters-match'));
  }

  // ---------- wiring ----------
  function init() {
    header(); cards(); notes();
    startupWire();
    legend('timeline-legend', SERIES.map(s => ({ name: s.name, color: s.color })).concat([
      NRSS ? { name: 'RSS (resident, sampled every 50 ms)', color: RSS_COLOR } : { name: 'RSS unknown (not sampled in this trace)', color: RSS_COLOR, hollow: true },
      { name: 'by an allocator call', color: '#566173', dot: true }, { name: 'direct', color: '#566173', dot: true, hollow: true }])
      .concat(D.threshold.moves.length ? [{ name: 'mmap threshold moved', dash: true }] : []));
    legend('map-legend', [{ name: 'brk heap', color: KIND_COLOR.heap }, { name: 'mmap chunk', color: KIND_COLOR.mmap },
      { name: 'arena', color: KIND_COLOR.arena }, { name: 'other', color: KIND_COLOR.other },
      { name: 'reserved, not committed (PROT_NONE) at the end', hatch: true }]);
    legend('threshold-legend', SERVED.map(s => ({ name: s.name, color: s.color, dot: true })).concat([{ name: 'mmap threshold', dash: true }]));
    timeline();
    addressMap();
    thresholdView();
    flameWire();
    flame();
    leaksTable();
    renderOsTable(false);
    const osq = document.getElementById('os-search');
    osq.addEventListener('input', () => { ost.q = osq.value.trim().toLowerCase(); renderOsTable(false); });
    fnTables();
    countersTable();
    if (typeof window.amSites === 'function')
      window.amSites({ D, hooks, map, fmtBytes, fmtTime, fmtInt, hex, el, sv, showTip, hideTip, osArgs, osRet, causeSig, sysColor,
        OS_BY_ID, REG_BY_I, KIND_COLOR, addressMap, selectRegion, highlightOsRow, range: () => ranged() ? [tl.v0, tl.v1] : null });
    const slider = document.getElementById('map-time');
    slider.addEventListener('input', () => { map.t = tl.v0 + slider.value / 1000 * (tl.v1 - tl.v0); addressMap(); });
    tidFilter();
    document.getElementById('map-peak').addEventListener('click', () => { map.t = D.counts.live_peak_t; addressMap(); });
    document.getElementById('map-end').addEventListener('click', () => { map.t = DUR; addressMap(); });
    let rt = null;
    window.addEventListener('resize', () => { clearTimeout(rt); rt = setTimeout(() => { timeline(); addressMap(); thresholdView(); flame(); }, 150); });
    document.body.setAttribute('data-ready', '1');
    // time from navigation start to a fully drawn page (the test reads it)
    document.body.setAttribute('data-render-ms', Math.round(performance.now()));
  }
  init();
})();
