// Hydrant delivery dashboard: polls /v1/pipelines every second and updates
// the page in place. Every string from the server goes into the DOM through
// textContent or setAttribute, never parsed as markup. Rates come from the
// difference of successive counter samples.
'use strict';

(function () {
  const POLL_MS = 1000;
  const WINDOW_MS = 120 * 1000; // sparkline span: two minutes
  const MB = 1e6;
  const MAX_HASH = (1n << 128n) - 1n;

  const views = new Map(); // pipeline name -> pipeline view
  const $ = (root, sel) => root.querySelector(sel);

  // ---- formatting ----
  const nf0 = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
  const nf1 = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
  const nf2 = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
  function fmtCount(n) { return nf0.format(n); }
  function fmtRate(n) { return n == null ? '–' : (n >= 100 ? nf0 : n >= 1 ? nf1 : nf2).format(n); }
  function fmtBytes(n) {
    const u = ['B', 'kB', 'MB', 'GB', 'TB'];
    let i = 0;
    while (Math.abs(n) >= 1000 && i < u.length - 1) { n /= 1000; i++; }
    return (i === 0 ? nf0 : nf1).format(n) + ' ' + u[i];
  }
  function fmtSeconds(s) {
    if (s < 1) return nf2.format(s) + ' s';
    if (s < 120) return nf1.format(s) + ' s';
    if (s < 7200) return nf1.format(s / 60) + ' min';
    return nf1.format(s / 3600) + ' h';
  }
  // Go encodes the zero time.Time as year 1.
  function parseTime(v) {
    if (typeof v !== 'string' || v.startsWith('0001-')) return null;
    const d = new Date(v);
    return isNaN(d) ? null : d;
  }
  function fmtAge(d, now) {
    if (!d) return '–';
    return fmtSeconds(Math.max(0, (now - d) / 1000)) + ' ago';
  }

  // setMetric shows a formatted value and keeps the raw one in data-value,
  // so a test can compare the page with /v1/pipelines exactly.
  function setMetric(el, raw, text) {
    if (!el) return;
    const r = raw == null ? '' : String(raw);
    if (el.dataset.value !== r) el.dataset.value = r;
    if (el.textContent !== text) el.textContent = text;
  }
  function cell(tag, text, cls) {
    const e = document.createElement(tag);
    e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  function emptyRow(cols, text) {
    const tr = document.createElement('tr');
    const td = cell('td', text, 'empty');
    td.colSpan = cols;
    tr.append(td);
    return tr;
  }

  // ---- rolling series and sparklines ----
  class Series {
    constructor() { this.pts = []; }
    push(t, v) {
      this.pts.push([t, v]);
      while (this.pts.length && this.pts[0][0] < t - WINDOW_MS) this.pts.shift();
    }
  }

  function drawSpark(canvas, series, color, now) {
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth, h = canvas.clientHeight;
    if (!w || !h) return;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const pts = series.pts.filter(p => p[1] != null);
    let max = 0;
    for (const p of pts) max = Math.max(max, p[1]);
    const top = max > 0 ? max * 1.15 : 1;
    const muted = getComputedStyle(canvas).getPropertyValue('--muted') || '#888';
    ctx.strokeStyle = muted;
    ctx.globalAlpha = 0.25;
    ctx.beginPath(); ctx.moveTo(0, h - 0.5); ctx.lineTo(w, h - 0.5); ctx.stroke();
    ctx.globalAlpha = 1;
    if (pts.length >= 2) {
      const x = t => w - ((now - t) / WINDOW_MS) * w;
      const y = v => h - 1 - (v / top) * (h - 14);
      ctx.beginPath();
      ctx.moveTo(x(pts[0][0]), y(pts[0][1]));
      for (const p of pts) ctx.lineTo(x(p[0]), y(p[1]));
      ctx.strokeStyle = color; ctx.lineWidth = 1.5; ctx.stroke();
      ctx.lineTo(x(pts[pts.length - 1][0]), h); ctx.lineTo(x(pts[0][0]), h); ctx.closePath();
      ctx.globalAlpha = 0.15; ctx.fillStyle = color; ctx.fill(); ctx.globalAlpha = 1;
    }
    ctx.fillStyle = muted;
    ctx.font = '10px system-ui, sans-serif';
    ctx.textBaseline = 'top';
    ctx.fillText('max ' + fmtRate(max), 2, 1);
  }
  function cssColor(el, name) { return getComputedStyle(el).getPropertyValue(name).trim() || '#2563eb'; }

  // ---- pipeline view ----
  function newPipelineView(name) {
    const node = document.getElementById('tpl-pipeline').content.firstElementChild.cloneNode(true);
    node.dataset.pipeline = name;
    $(node, '.pname').textContent = name;
    const v = {
      node, dests: new Map(), incoming: new Series(),
      prevSeq: null, prevIn: null,
      m: metric => $(node, '[data-metric="' + metric + '"]'),
    };
    return v;
  }

  // incomingDelta sums per-shard sequence growth since the last sample;
  // shards first seen in this sample count from sequence zero.
  function incomingDelta(prev, shards) {
    let d = 0;
    for (const s of shards) {
      const before = prev.get(s.id);
      d += before == null ? s.next_seq : Math.max(0, s.next_seq - before);
    }
    return d;
  }

  function updatePipeline(v, p, now, dt) {
    const shards = p.shards || [];
    const seq = new Map(shards.map(s => [s.id, s.next_seq]));
    let written = 0, open = 0;
    for (const s of shards) { written += s.next_seq; if (!s.closed) open++; }

    let recRate = null, mbRate = null;
    // Optional counters, should the server expose them: {records, bytes}.
    const inc = p.incoming && typeof p.incoming.records === 'number' ? p.incoming : null;
    if (v.prevSeq && dt > 0) {
      recRate = inc && v.prevIn ? Math.max(0, inc.records - v.prevIn.records) / dt : incomingDelta(v.prevSeq, shards) / dt;
      if (inc && v.prevIn && typeof inc.bytes === 'number') mbRate = Math.max(0, inc.bytes - v.prevIn.bytes) / dt / MB;
    }
    v.prevSeq = seq; v.prevIn = inc;
    v.incoming.push(now, recRate);

    setMetric(v.m('incoming-records-per-sec'), recRate == null ? '' : recRate.toFixed(3), fmtRate(recRate));
    setMetric(v.m('incoming-mb-per-sec'), mbRate == null ? '' : mbRate.toFixed(6), mbRate == null ? 'n/a' : fmtRate(mbRate));
    v.m('incoming-mb-per-sec').title = mbRate == null ? 'incoming byte counters are not in /v1/pipelines' : '';
    setMetric(v.m('incoming-records'), inc ? inc.records : written, fmtCount(inc ? inc.records : written));
    setMetric(v.m('shards'), shards.length, String(shards.length));
    setMetric(v.m('open-shards'), open, String(open));
    renderShards($(v.node, '[data-list="shards"]'), shards);
    drawSpark($(v.node, 'canvas[data-chart="incoming"]'), v.incoming, cssColor(v.node, '--accent'), now);

    // On the JetStream backend each node delivers the shards it leases:
    // the page names the node it talks to and what that node holds.
    const ne = v.m('node');
    ne.hidden = !p.node;
    setMetric(ne, p.node || '', p.node ? 'on node ' + p.node : '');

    const seen = new Set();
    for (const d of p.destinations || []) {
      seen.add(d.name);
      let dv = v.dests.get(d.name);
      if (!dv) {
        dv = newDestView(d.name);
        v.dests.set(d.name, dv);
        $(v.node, '.dests').append(dv.node);
      }
      updateDest(dv, d, now, dt, !!p.node);
    }
    for (const [name, dv] of v.dests) if (!seen.has(name)) { dv.node.remove(); v.dests.delete(name); }
  }

  function hashFrac(dec) {
    try { return Number((BigInt(dec) * 1000000n) / MAX_HASH) / 1e6; } catch (e) { return 0; }
  }

  function renderShards(list, shards) {
    const rows = [];
    const sorted = shards.slice().sort((a, b) => (a.closed - b.closed) || (a.index - b.index));
    for (const s of sorted) {
      const row = document.createElement('div');
      row.className = 'shard' + (s.closed ? ' closed' : '');
      row.dataset.shard = s.id;
      row.dataset.state = s.drained ? 'drained' : s.closed ? 'closed' : 'open';
      const id = cell('span', s.id, 'sid');
      id.title = s.id + ' · ' + row.dataset.state + ' · hash ' + s.starting_hash_key + '–' + s.ending_hash_key;
      const track = document.createElement('div');
      track.className = 'track';
      const seg = document.createElement('div');
      seg.className = 'seg';
      const a = hashFrac(s.starting_hash_key), b = hashFrac(s.ending_hash_key);
      seg.style.left = (a * 100).toFixed(3) + '%';
      seg.style.width = (Math.max(0, b - a) * 100).toFixed(3) + '%';
      track.append(seg);
      const seq = cell('span', row.dataset.state + ' · ' + fmtCount(s.next_seq - s.first_seq) + ' rec · ' + fmtBytes(s.bytes || 0), 'seq');
      row.append(id, track, seq);
      rows.push(row);
    }
    if (!rows.length) rows.push(cell('div', 'no shards', 'empty'));
    list.replaceChildren(...rows);
  }

  // ---- destination view ----
  function newDestView(name) {
    const node = document.getElementById('tpl-destination').content.firstElementChild.cloneNode(true);
    node.dataset.destination = name;
    $(node, '.dname').textContent = name;
    return {
      node, delivered: new Series(), freshness: new Series(), prev: null,
      m: metric => $(node, '[data-metric="' + metric + '"]'),
    };
  }

  function updateDest(v, d, now, dt, clustered) {
    const st = d.stats || {};
    $(v.node, '.dtype').textContent = d.type || '';
    // Degraded (the stream log skipped damaged records): a badge and the reason.
    const degraded = d.state === 'degraded';
    const se = v.m('state'), re0 = v.m('state-reason');
    se.hidden = re0.hidden = !degraded;
    se.classList.toggle('down', degraded);
    setMetric(se, d.state || '', d.state || '');
    setMetric(re0, d.state_reason || '', d.state_reason || '');
    const recs = st.delivered_records || 0, bytes = st.delivered_bytes || 0;
    let recRate = null, mbRate = null;
    if (v.prev && dt > 0 && recs >= v.prev.recs) {
      recRate = (recs - v.prev.recs) / dt;
      mbRate = (bytes - v.prev.bytes) / dt / MB;
    }
    v.prev = { recs, bytes };
    const fresh = d.data_freshness_seconds || 0;
    v.delivered.push(now, recRate);
    v.freshness.push(now, fresh);

    setMetric(v.m('delivered-records-per-sec'), recRate == null ? '' : recRate.toFixed(3), fmtRate(recRate));
    setMetric(v.m('delivered-mb-per-sec'), mbRate == null ? '' : mbRate.toFixed(6), fmtRate(mbRate));
    setMetric(v.m('delivered-records'), recs, fmtCount(recs));
    setMetric(v.m('delivered-bytes'), bytes, fmtBytes(bytes));
    const fe = v.m('freshness-seconds');
    setMetric(fe, fresh, fmtSeconds(fresh));
    fe.classList.toggle('warn', fresh >= 60 && fresh < 900);
    fe.classList.toggle('bad', fresh >= 900);

    const ok = st.succeeded_attempts || 0, failed = st.failed_attempts || 0;
    const ratio = ok + failed > 0 ? ok / (ok + failed) : null;
    const re = v.m('success-ratio');
    setMetric(re, ratio == null ? '' : ratio.toFixed(6), ratio == null ? '–' : nf2.format(ratio * 100) + ' %');
    re.classList.toggle('bad', ratio != null && ratio < 0.99);
    setMetric(v.m('succeeded-attempts'), ok, fmtCount(ok));
    setMetric(v.m('failed-attempts'), failed, fmtCount(failed));
    setMetric(v.m('dropped-records'), st.dropped_records || 0, fmtCount(st.dropped_records || 0));
    setMetric(v.m('active-partitions'), d.active_partitions || 0, fmtCount(d.active_partitions || 0));
    for (const el of v.node.querySelectorAll('[data-when="clustered"]')) el.hidden = !clustered;
    const held = d.leases || [];
    setMetric(v.m('leases'), held.length, held.length ? held.map(s => String(Number(s.replace('shardId-', '')))).join(', ') : 'none');
    const last = parseTime(st.last_delivery);
    setMetric(v.m('last-delivery'), st.last_delivery || '', fmtAge(last, Date.now()));

    // Backlog, total and per shard.
    const backlog = d.backlog || [];
    let bRecs = 0, bBytes = 0;
    const brows = [];
    for (const b of backlog) {
      bRecs += b.records || 0; bBytes += b.bytes || 0;
      const tr = document.createElement('tr');
      tr.dataset.shard = b.shard;
      const rc = cell('td', fmtCount(b.records || 0)); rc.dataset.metric = 'shard-backlog-records'; rc.dataset.value = String(b.records || 0);
      const bc = cell('td', fmtBytes(b.bytes || 0)); bc.dataset.metric = 'shard-backlog-bytes'; bc.dataset.value = String(b.bytes || 0);
      tr.append(cell('td', b.shard), rc, bc, cell('td', fmtAge(parseTime(b.oldest), Date.now())));
      brows.push(tr);
    }
    if (!brows.length) brows.push(emptyRow(4, 'empty'));
    $(v.node, '[data-list="backlog"]').replaceChildren(...brows);
    setMetric(v.m('backlog-records'), bRecs, fmtCount(bRecs));
    setMetric(v.m('backlog-bytes'), bBytes, fmtBytes(bBytes));

    // Backed-up records by error output type.
    const bu = st.backed_up_records || {};
    const types = Object.keys(bu).sort();
    let buTotal = 0;
    const urows = types.map(t => {
      buTotal += bu[t];
      const tr = document.createElement('tr');
      tr.dataset.errorType = t;
      const n = cell('td', fmtCount(bu[t])); n.dataset.metric = 'backed-up-by-type'; n.dataset.value = String(bu[t]);
      tr.append(cell('td', t), n);
      return tr;
    });
    if (!urows.length) urows.push(emptyRow(2, 'none'));
    $(v.node, '[data-list="backed-up"]').replaceChildren(...urows);
    setMetric(v.m('backed-up-records'), buTotal, fmtCount(buTotal));

    // Recent failures, newest first.
    const fails = (st.recent_failures || []).slice().reverse();
    const frows = fails.map(f => {
      const li = document.createElement('li');
      const at = parseTime(f.at);
      const time = cell('time', at ? at.toLocaleTimeString() : '–', 'muted');
      if (at) time.dateTime = at.toISOString();
      li.append(time, cell('span', f.type || '', 'type'), cell('span', f.error || '', 'msg'));
      return li;
    });
    if (!frows.length) frows.push(cell('li', 'no failures', 'empty'));
    $(v.node, '[data-list="failures"]').replaceChildren(...frows);
    setMetric(v.m('failure-count'), fails.length, String(fails.length));

    drawSpark($(v.node, 'canvas[data-chart="delivered"]'), v.delivered, cssColor(v.node, '--accent'), now);
    drawSpark($(v.node, 'canvas[data-chart="freshness"]'), v.freshness, cssColor(v.node, '--accent2'), now);
  }

  // ---- polling ----
  let prevT = 0;
  function render(data) {
    const now = performance.now();
    const dt = prevT ? (now - prevT) / 1000 : 0;
    prevT = now;
    const root = document.getElementById('pipelines');
    const empty = document.getElementById('empty');
    const pipes = (data && data.pipelines) || [];
    empty.hidden = pipes.length > 0;
    empty.textContent = 'No pipelines configured.';
    const seen = new Set();
    for (const p of pipes) {
      seen.add(p.name);
      let v = views.get(p.name);
      if (!v) { v = newPipelineView(p.name); views.set(p.name, v); root.append(v.node); }
      updatePipeline(v, p, now, dt);
    }
    for (const [name, v] of views) if (!seen.has(name)) { v.node.remove(); views.delete(name); }
  }

  function setConn(ok, text) {
    const c = document.getElementById('conn-state');
    c.textContent = text;
    c.dataset.value = ok ? 'live' : 'down';
    c.classList.toggle('live', ok);
    c.classList.toggle('down', !ok);
  }

  // ---- API key ----
  // With server.auth set, /v1/pipelines needs a key. A page load cannot
  // carry a header, so the page takes the key from a "#key=..." fragment
  // (never sent to the server, removed from the address bar at once) or
  // from the form shown on a 401, keeps it in sessionStorage (this tab
  // only) and sends it as a bearer token.
  const KEY_ITEM = 'hydrant.apiKey';
  function takeKeyFromFragment() {
    const m = /^#key=(.+)$/.exec(location.hash);
    if (!m) return;
    sessionStorage.setItem(KEY_ITEM, decodeURIComponent(m[1]));
    history.replaceState(null, '', location.pathname + location.search);
  }
  let pollTimer = 0;
  function askForKey(rejected) {
    const form = document.getElementById('auth');
    form.hidden = false;
    document.getElementById('auth-error').textContent = rejected ? 'the key was not accepted' : '';
    setConn(false, 'key needed');
  }
  function setupKeyForm() {
    const form = document.getElementById('auth');
    form.addEventListener('submit', e => {
      e.preventDefault(); // no navigation: the key never goes into a URL
      const input = document.getElementById('auth-key');
      if (!input.value) return;
      sessionStorage.setItem(KEY_ITEM, input.value);
      input.value = '';
      form.hidden = true;
      clearTimeout(pollTimer);
      poll();
    });
  }

  async function poll() {
    const started = performance.now();
    try {
      const ctl = new AbortController();
      const timer = setTimeout(() => ctl.abort(), 5000);
      const key = sessionStorage.getItem(KEY_ITEM);
      const headers = key ? { 'Authorization': 'Bearer ' + key } : {};
      const res = await fetch('/v1/pipelines', { cache: 'no-store', signal: ctl.signal, headers });
      clearTimeout(timer);
      if (res.status === 401) {
        // Stop polling until a key is entered: retrying cannot help.
        if (key) sessionStorage.removeItem(KEY_ITEM);
        askForKey(!!key);
        return;
      }
      if (!res.ok) throw new Error('HTTP ' + res.status);
      render(await res.json());
      setConn(true, 'live');
      const lu = document.getElementById('last-update');
      const t = new Date();
      lu.textContent = t.toLocaleTimeString();
      lu.dataset.value = t.toISOString();
    } catch (e) {
      setConn(false, 'disconnected');
    }
    pollTimer = setTimeout(poll, Math.max(0, POLL_MS - (performance.now() - started)));
  }

  function start() {
    takeKeyFromFragment();
    setupKeyForm();
    poll();
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start, { once: true });
  else start();
})();
