(function () {
  'use strict';
  var node = document.getElementById('kvmtax-data');
  var data = node ? JSON.parse(node.textContent) : {};

  // ---- sortable tables: numbers (with ns/us/ms/s/cyc/% units) by value, the rest as text ----
  var UNIT = { ns: 1, us: 1e3, ms: 1e6, s: 1e9, cyc: 1, '%': 1 };
  function key(s) {
    s = s.trim();
    var m = /^(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)\s*(ns|us|ms|s|cyc|%)?$/.exec(s);
    if (m) return parseFloat(m[1]) * (m[2] ? UNIT[m[2]] : 1);
    return s === '-' || s === '?' || s === '' ? null : s.toLowerCase();
  }
  function compare(a, b) {
    if (a === b) return 0;
    if (a === null) return 1;
    if (b === null) return -1;
    if (typeof a === 'number' && typeof b === 'number') return a - b;
    if (typeof a === 'number') return -1;
    if (typeof b === 'number') return 1;
    return a < b ? -1 : 1;
  }
  function sortBy(table, col, th) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows).map(function (tr, i) {
      return { tr: tr, i: i, k: key(tr.cells[col] ? tr.cells[col].textContent : '') };
    });
    var numeric = rows.some(function (r) { return typeof r.k === 'number'; });
    var cur = th.getAttribute('aria-sort');
    var dir = cur ? (cur === 'ascending' ? -1 : 1) : (numeric ? -1 : 1);
    rows.sort(function (a, b) {
      if (a.k === null || b.k === null) return compare(a.k, b.k) || a.i - b.i;
      return dir * compare(a.k, b.k) || a.i - b.i;
    });
    Array.prototype.forEach.call(th.parentNode.cells, function (h) { h.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', dir === 1 ? 'ascending' : 'descending');
    rows.forEach(function (r) { body.appendChild(r.tr); });
  }
  Array.prototype.forEach.call(document.querySelectorAll('table.sortable'), function (table) {
    if (!table.tHead) return;
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.tabIndex = 0;
      th.addEventListener('click', function () { sortBy(table, col, th); });
      th.addEventListener('keydown', function (e) {
        if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); sortBy(table, col, th); }
      });
    });
  });

  // ---- highlight the slow-exit row a histogram mark points to ----
  function highlight() {
    Array.prototype.forEach.call(document.querySelectorAll('tr.hl'), function (tr) { tr.classList.remove('hl'); });
    var m = /^#slow-(\d+)$/.exec(location.hash);
    var el = m && document.getElementById('slow-' + m[1]);
    if (el && el.closest('tr')) el.closest('tr').classList.add('hl');
  }
  window.addEventListener('hashchange', highlight);
  highlight();

  // ---- exits/s over time per vCPU (uPlot), when the report has a timeline ----
  var tl = data.timeline, host = document.getElementById('timeline-chart');
  if (!tl || !host || typeof window.uPlot !== 'function') return;
  var ns = data.unit === 'ns', scale = ns ? 1e9 : 1, bucket = tl.bucket_ns;
  var names = {};
  (data.vms || []).forEach(function (vm) {
    (vm.vcpus || []).forEach(function (c) { names[vm.pid + ':' + c.tid] = vm.name; });
  });
  var multi = (data.vms || []).length > 1;
  var ts = {};
  tl.vcpus.forEach(function (v) { v.buckets.forEach(function (b) { ts[b[0]] = true; }); });
  var xs = Object.keys(ts).map(Number).sort(function (a, b) { return a - b; });
  var at = {};
  xs.forEach(function (t, i) { at[t] = i; });
  var COLORS = ['#d9480f', '#1c7ed6', '#2f9e44', '#ae3ec9', '#f59f00', '#0c8599', '#e64980', '#5c940d', '#495057', '#7048e8'];
  var series = [{ label: ns ? 'time (s)' : 'time' }], cols = [xs.map(function (t) { return t / scale; })];
  tl.vcpus.forEach(function (v, i) {
    var y = xs.map(function () { return 0; });
    v.buckets.forEach(function (b) { y[at[b[0]]] += ns ? b[1] / (bucket / 1e9) : b[1]; });
    var vm = names[v.pid + ':' + v.tid];
    series.push({
      label: (multi && vm ? vm + ' ' : '') + 'vcpu ' + (v.vcpu === null ? '?' : v.vcpu) + ' (tid ' + v.tid + ')',
      stroke: COLORS[i % COLORS.length], width: 1.5, points: { show: false },
      value: function (u, val) { return val === null ? '-' : val.toFixed(0); },
    });
    cols.push(y);
  });
  var slow = (data.top || []).map(function (t) { return t.ts_ns / scale; });
  var picked = null;
  function marks(u) {
    var ctx = u.ctx;
    ctx.save();
    slow.forEach(function (t) {
      var x = u.valToPos(t, 'x', true);
      if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
      ctx.strokeStyle = t === picked ? '#c92a2a' : 'rgba(201,42,42,0.35)';
      ctx.lineWidth = t === picked ? 2 * devicePixelRatio : devicePixelRatio;
      ctx.beginPath();
      ctx.moveTo(x, u.bbox.top);
      ctx.lineTo(x, u.bbox.top + u.bbox.height);
      ctx.stroke();
    });
    ctx.restore();
  }
  function width() { return Math.max(320, Math.min(host.clientWidth || 900, 1360)); }
  // the legend shows each vCPU's rate at the busiest bucket whenever the cursor is off the chart
  // (uPlot shows "--" there), so the values are readable before any hover
  var peak = 0, best = -1;
  xs.forEach(function (_, i) {
    var s = 0;
    for (var k = 1; k < cols.length; k++) s += cols[k][i];
    if (s > best) { best = s; peak = i; }
  });
  function keepLegend(u) { if (u.cursor.idx == null && xs.length) u.setLegend({ idx: peak }); }
  var plot = new window.uPlot({
    width: width(), height: 300,
    scales: { x: { time: false } },
    axes: [{ label: ns ? 'time (s, trace clock)' : 'time (trace clock)' }, { label: ns ? 'exits/s' : 'exits per bucket', size: 70 }],
    series: series,
    hooks: { draw: [marks], setCursor: [keepLegend] },
  }, cols, host);
  if (xs.length) plot.setLegend({ idx: peak });
  window.addEventListener('resize', function () { plot.setSize({ width: width(), height: 300 }); });
  Array.prototype.forEach.call(document.querySelectorAll('a.tl-link'), function (a) {
    a.addEventListener('click', function (e) {
      e.preventDefault();
      picked = Number(a.getAttribute('data-t')) / scale;
      var w = 50 * bucket / scale;
      plot.setScale('x', { min: picked - w, max: picked + w });
      host.scrollIntoView({ block: 'center' });
    });
  });
})();
