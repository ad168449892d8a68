// SPDX-License-Identifier: GPL-2.0
// live.js - the live page of `allocmap serve` (live.html): polls
// /live.json?pid=N every 2 s, shows the figures (text only: every string
// from the target goes through textContent), and when records arrived
// loads /report?pid=N into the hidden frame, then swaps the frames keeping
// the scroll position, so the report's views follow the process. The
// report is rebuilt from the whole history (up to seconds for a full one):
// the next reload waits at least five times as long as the last one took,
// so an open page costs the daemon at most a fifth of a core.
'use strict';
(function () {
  const pid = new URLSearchParams(location.search).get('pid') || '';
  const $ = (id) => document.getElementById(id);
  let shown = -1, loading = false, front = $('report-a'), back = $('report-b');
  let nextAt = 0;    // Date.now() before which no reload starts

  function size(v) {
    if (v === null || v === undefined) return 'unknown';
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0, x = v;
    while (x >= 1024 && i < u.length - 1) { x /= 1024; i++; }
    return (i ? x.toPrecision(3) : String(x)) + ' ' + u[i];
  }

  function reload() {
    const t0 = Date.now();
    loading = true;
    back.onload = function () {
      nextAt = Date.now() + Math.max(2000, 5 * (Date.now() - t0));
      const y = front.contentWindow ? front.contentWindow.scrollY : 0;
      back.hidden = false; front.hidden = true;
      try { back.contentWindow.scrollTo(0, y); } catch (e) { /* not loaded */ }
      const t = front; front = back; back = t;
      loading = false;
    };
    back.src = '/report?pid=' + encodeURIComponent(pid) + '&t=' + Date.now();
  }

  function show(j) {
    $('pid').textContent = String(j.pid);
    $('comm').textContent = j.comm;
    $('allocator').textContent = j.allocator === null ? 'unknown' : j.allocator;
    $('mode').textContent = j.mode;
    $('state').textContent = j.alive ? 'running' : 'exited';
    $('live_bytes').textContent = j.live_bytes === null ? 'unknown (os mode)' : size(j.live_bytes);
    $('live_bytes').title = j.live_bytes === null ? '' : j.live_bytes + ' B';
    for (const k of ['heap_bytes', 'mmapped_bytes', 'committed_bytes']) {
      $(k).textContent = size(j[k]);
      $(k).title = j[k] + ' B';
    }
    $('os_requests').textContent = String(j.os_requests);
    $('records').textContent = String(j.records);
    $('dropped').textContent = j.history_dropped
      ? j.history_dropped + ' older records were dropped from the bounded history: the report starts after them.'
      : 'No record dropped: the report covers the whole trace.';
    $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
    document.body.dataset.records = String(j.records);
    if (j.records !== shown && $('follow').checked && !loading && j.records > 0 && Date.now() >= nextAt) {
      shown = j.records;
      reload();
    }
  }

  async function tick() {
    try {
      const r = await fetch('/live.json?pid=' + encodeURIComponent(pid), { cache: 'no-store' });
      if (!r.ok) { $('state').textContent = 'HTTP ' + r.status + ': ' + (await r.text()); return; }
      show(await r.json());
    } catch (e) {
      $('state').textContent = 'daemon unreachable';
    }
  }
  tick();
  setInterval(tick, 2000);
})();
