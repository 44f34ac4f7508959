/* DataFlix dashboard: draws every chart as inline SVG from the JSON in #dataflix-data. No libraries,
   no network. Filters (month, device) re-render the page from the embedded data. */
(function () {
  "use strict";

  var DATA = JSON.parse(document.getElementById("dataflix-data").textContent);
  var ALL = "all";
  var NS = "http://www.w3.org/2000/svg";
  var PALETTE = ["#2563eb", "#e50914", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d",
                 "#475569", "#ea580c"];
  var state = { month: ALL, device: ALL };

  // --- formatting ----------------------------------------------------------------------------

  var integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  var money = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

  function isNum(v) { return typeof v === "number" && isFinite(v); }
  function fmtInt(v) { return isNum(v) ? integer.format(v) : "–"; }
  function fmtMoney(v) { return isNum(v) ? "$" + money.format(v) : "–"; }
  function fmtPct(v) { return isNum(v) ? (v * 100).toFixed(Math.abs(v) < 0.1 ? 2 : 1) + "%" : "–"; }
  function fmtMs(v) { return isNum(v) ? (v >= 1000 ? (v / 1000).toFixed(2) + " s" : Math.round(v) + " ms") : "–"; }
  function fmtHours(h) { return isNum(h) ? (h >= 100 ? integer.format(h) : h.toFixed(1)) + " h" : "–"; }
  function compact(v) {
    var a = Math.abs(v), units = [[1e9, "B"], [1e6, "M"], [1e3, "k"]];
    for (var i = 0; i < units.length; i++) {
      if (a >= units[i][0]) return String(+(v / units[i][0]).toFixed(1)) + units[i][1];
    }
    return String(+v.toFixed(2));
  }
  function compactMoney(v) { return "$" + compact(v); }
  function axisPct(v) { return String(+(v * 100).toFixed(2)) + "%"; }
  function axisMs(v) { return v >= 1000 ? String(+(v / 1000).toFixed(1)) + "s" : v + "ms"; }
  function axisHours(h) { return integer.format(h) + " h"; }

  // --- data helpers --------------------------------------------------------------------------

  function inMonth(row) { return state.month === ALL || row.month === state.month; }
  function onDevice(row) { return state.device === ALL || row.device_type === state.device; }
  function total(rows, key) {
    return rows.reduce(function (s, r) { return s + (isNum(r[key]) ? r[key] : 0); }, 0);
  }
  function distinct(rows, key) {
    var seen = {}, out = [];
    rows.forEach(function (r) { if (r[key] != null && !seen[r[key]]) { seen[r[key]] = true; out.push(r[key]); } });
    return out.sort();
  }
  function sumBy(rows, groupKey, valueKey) {
    var out = {};
    rows.forEach(function (r) { out[r[groupKey]] = (out[r[groupKey]] || 0) + (r[valueKey] || 0); });
    return out;
  }
  function colorOf(list, name) {
    var i = list.indexOf(name);
    return PALETTE[(i < 0 ? list.length : i) % PALETTE.length];
  }
  var lastMonth = DATA.months.length ? DATA.months[DATA.months.length - 1] : null;

  // --- SVG building blocks -------------------------------------------------------------------

  function svgEl(tag, attrs, parent) {
    var node = document.createElementNS(NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (parent) parent.appendChild(node);
    return node;
  }
  function label(parent, x, y, text, attrs) {
    var node = svgEl("text", Object.assign({ x: x, y: y }, attrs || {}), parent);
    node.textContent = text;
    return node;
  }
  function tip(node, text) { svgEl("title", {}, node).textContent = text; }
  function reset(box) { while (box.firstChild) box.removeChild(box.firstChild); }
  function empty(box, message) {
    reset(box);
    var p = document.createElement("p");
    p.className = "empty";
    p.textContent = message || "No data for this selection";
    box.appendChild(p);
  }
  function legend(box, items) {
    var div = document.createElement("div");
    div.className = "legend";
    items.forEach(function (item) {
      var span = document.createElement("span"), swatch = document.createElement("i");
      swatch.style.background = item.color;
      span.appendChild(swatch);
      span.appendChild(document.createTextNode(item.name));
      div.appendChild(span);
    });
    box.appendChild(div);
  }
  // The axis maximum and its number of divisions, chosen so that every tick is a round number.
  var NICE = [[1, 4], [2, 4], [2.5, 5], [4, 4], [5, 5], [8, 4], [10, 5]];
  function niceScale(v) {
    if (!(v > 0)) return { max: 1, divisions: 4 };
    var p = Math.pow(10, Math.floor(Math.log10(v)));
    for (var i = 0; i < NICE.length; i++) {
      if (NICE[i][0] * p >= v * (1 - 1e-9)) return { max: NICE[i][0] * p, divisions: NICE[i][1] };
    }
    return { max: 10 * p, divisions: 5 };
  }
  function newSvg(box, width, height, name) {
    return svgEl("svg", { viewBox: "0 0 " + width + " " + height, role: "img", "aria-label": name }, null);
  }
  // A y axis with grid lines from 0 to a round maximum above `top`; returns the value → pixel function.
  function yAxis(svg, m, width, height, top, fmt) {
    var scale = niceScale(top);
    var y = function (v) { return height - m.b - (v / scale.max) * (height - m.t - m.b); };
    var g = svgEl("g", { class: "axis" }, svg);
    for (var i = 0; i <= scale.divisions; i++) {
      var v = (scale.max * i) / scale.divisions;
      svgEl("line", { class: "gridline", x1: m.l, x2: width - m.r, y1: y(v), y2: y(v) }, g);
      label(g, m.l - 6, y(v) + 4, fmt(v), { "text-anchor": "end" });
    }
    return y;
  }
  function xLabels(svg, labels, xs, y, shorten) {
    var every = Math.max(1, Math.ceil(labels.length / 10));
    labels.forEach(function (text, i) {
      if (i % every === 0) label(svg, xs[i], y, shorten ? shorten(text) : text, { "text-anchor": "middle" });
    });
  }
  function hasValues(series) {
    return series.some(function (s) { return s.values.some(isNum); });
  }

  // Vertical bars: categories × series, grouped or stacked.
  function barChart(box, o) {
    reset(box);
    if (!o.categories.length || !hasValues(o.series)) return empty(box);
    var W = 560, H = 250, m = { l: 56, r: 10, t: 18, b: 40 };
    var heights = o.categories.map(function (_, i) {
      var vals = o.series.map(function (s) { return isNum(s.values[i]) ? s.values[i] : 0; });
      return o.stacked ? vals.reduce(function (a, b) { return a + b; }, 0) : Math.max.apply(null, vals);
    });
    var svg = newSvg(box, W, H, o.name);
    var y = yAxis(svg, m, W, H, Math.max.apply(null, heights), o.axis);
    var band = (W - m.l - m.r) / o.categories.length, pad = Math.min(band * 0.25, 24);
    var centers = [];
    o.categories.forEach(function (cat, i) {
      var x = m.l + i * band + pad / 2, w = band - pad, base = 0;
      centers.push(m.l + (i + 0.5) * band);
      o.series.forEach(function (s, j) {
        var v = s.values[i];
        if (!isNum(v)) return;
        var bw = o.stacked ? w : w / o.series.length, bx = o.stacked ? x : x + j * bw;
        var top = y(base + v), bottom = y(base);
        var rect = svgEl("rect", {
          class: "mark", x: bx, y: top, width: Math.max(bw - 1, 1), height: Math.max(bottom - top, 0),
          fill: s.color, "data-value": v, "data-series": s.name, "data-category": cat,
        }, svg);
        if (o.highlight && o.highlight !== cat) rect.classList.add("dim");
        tip(rect, o.tip ? o.tip(s, i, v) : (o.series.length > 1 ? s.name + " · " : "") + cat + ": " + o.fmt(v));
        if (o.stacked) base += v;
      });
      if (o.valueLabel) label(svg, m.l + (i + 0.5) * band, y(heights[i]) - 4, o.valueLabel(i, heights[i]),
                              { "text-anchor": "middle", class: "value-label" });
    });
    xLabels(svg, o.categories, centers, H - m.b + 16, o.shorten);
    box.appendChild(svg);
    if (o.series.length > 1) legend(box, o.series);
  }

  // Lines over ordered x labels; a null value breaks the line.
  function lineChart(box, o) {
    reset(box);
    if (!o.x.length || !hasValues(o.series)) return empty(box);
    var W = 560, H = 250, m = { l: 56, r: 14, t: 14, b: 40 };
    var max = 0;
    o.series.forEach(function (s) { s.values.forEach(function (v) { if (isNum(v) && v > max) max = v; }); });
    var svg = newSvg(box, W, H, o.name);
    var y = yAxis(svg, m, W, H, max, o.axis);
    var n = o.x.length, step = n > 1 ? (W - m.l - m.r) / (n - 1) : 0;
    var xs = o.x.map(function (_, i) { return n > 1 ? m.l + i * step : (m.l + W - m.r) / 2; });
    if (o.highlight && o.x.indexOf(o.highlight) >= 0) {
      var hx = xs[o.x.indexOf(o.highlight)];
      svgEl("line", { x1: hx, x2: hx, y1: m.t, y2: H - m.b, stroke: "#9ca3af", "stroke-dasharray": "3 3" }, svg);
    }
    o.series.forEach(function (s) {
      var d = "", pen = "M";
      s.values.forEach(function (v, i) {
        if (!isNum(v)) { pen = "M"; return; }
        d += pen + xs[i].toFixed(1) + " " + y(v).toFixed(1) + " ";
        pen = "L";
      });
      svgEl("path", { class: "line", d: d, stroke: s.color }, svg);
      s.values.forEach(function (v, i) {
        if (!isNum(v)) return;
        var dot = svgEl("circle", {
          class: "mark", cx: xs[i], cy: y(v), r: n > 40 ? 2 : 3, fill: s.color,
          "data-value": v, "data-series": s.name, "data-category": o.x[i],
        }, svg);
        tip(dot, (o.series.length > 1 ? s.name + " · " : "") + o.x[i] + ": " + o.fmt(v));
      });
    });
    xLabels(svg, o.x, xs, H - m.b + 16, o.shorten);
    box.appendChild(svg);
    if (o.series.length > 1) legend(box, o.series);
  }

  // A donut of shares with a legend that gives each item's value and share.
  function donutChart(box, o) {
    reset(box);
    var sum = total(o.items, "value");
    if (!(sum > 0)) return empty(box);
    var W = 560, H = 250, cx = 125, cy = 125, R = 100, r = 62, angle = -Math.PI / 2;
    var svg = newSvg(box, W, H, o.name);
    function point(rad, a) { return (cx + rad * Math.cos(a)).toFixed(2) + " " + (cy + rad * Math.sin(a)).toFixed(2); }
    o.items.forEach(function (item, i) {
      if (!(item.value > 0)) return;
      // A full ring cannot be one arc: stop just short of it.
      var sweep = Math.min((item.value / sum) * 2 * Math.PI, 2 * Math.PI - 1e-4), end = angle + sweep;
      var large = sweep > Math.PI ? 1 : 0;
      var d = "M" + point(R, angle) + " A" + R + " " + R + " 0 " + large + " 1 " + point(R, end) +
              " L" + point(r, end) + " A" + r + " " + r + " 0 " + large + " 0 " + point(r, angle) + " Z";
      var arc = svgEl("path", { class: "mark", d: d, fill: item.color, "data-value": item.value,
                                "data-category": item.name }, svg);
      tip(arc, item.name + ": " + o.fmt(item.value) + " (" + fmtPct(item.value / sum) + ")");
      angle = end;
    });
    label(svg, cx, cy - 2, o.fmt(sum), { "text-anchor": "middle", style: "font-size:20px;font-weight:600" });
    label(svg, cx, cy + 16, o.centerNote, { "text-anchor": "middle" });
    o.items.forEach(function (item, i) {
      var ly = 60 + i * 26;
      svgEl("rect", { x: 270, y: ly - 10, width: 12, height: 12, rx: 2, fill: item.color }, svg);
      label(svg, 290, ly, item.name + "  " + o.fmt(item.value) + "  (" + fmtPct(sum ? item.value / sum : 0) + ")",
            { style: "font-size:13px" });
      if (item.note) label(svg, 290, ly + 13, item.note, {});
    });
    box.appendChild(svg);
  }

  // Horizontal bars, one row per item, with a label on the left and a note after the bar.
  function hbarChart(box, o) {
    reset(box);
    if (!o.rows.length) return empty(box);
    var W = 1100, row = 24, m = { l: 260, r: 230, t: 6, b: 26 }, H = m.t + o.rows.length * row + m.b;
    var scale = niceScale(Math.max.apply(null, o.rows.map(function (r) { return r.value; })));
    var x = function (v) { return m.l + (v / scale.max) * (W - m.l - m.r); };
    var svg = newSvg(box, W, H, o.name);
    for (var t = 0; t <= scale.divisions; t++) {
      var v = (scale.max * t) / scale.divisions;
      svgEl("line", { class: "gridline", x1: x(v), x2: x(v), y1: m.t, y2: H - m.b }, svg);
      label(svg, x(v), H - m.b + 16, o.axis(v), { "text-anchor": "middle" });
    }
    o.rows.forEach(function (r, i) {
      var top = m.t + i * row, name = r.label.length > 38 ? r.label.slice(0, 37) + "…" : r.label;
      label(svg, m.l - 8, top + row / 2 + 4, name, { "text-anchor": "end", style: "font-size:12px" });
      var bar = svgEl("rect", { class: "mark", x: m.l, y: top + 4, width: Math.max(x(r.value) - m.l, 1),
                                height: row - 8, fill: o.color, "data-value": r.value, "data-category": r.label }, svg);
      tip(bar, r.label + ": " + o.fmt(r.value) + " · " + r.note);
      label(svg, x(r.value) + 6, top + row / 2 + 4, o.fmt(r.value) + " · " + r.note, { class: "value-label" });
    });
    box.appendChild(svg);
  }

  // --- the page ------------------------------------------------------------------------------

  var KPIS = [
    { key: "revenue", label: "Revenue", fmt: fmtMoney },
    { key: "content", label: "Content (titles)", fmt: fmtInt },
    { key: "subscribers", label: "Subscribers", fmt: fmtInt },
    { key: "new_subscribers", label: "New subscribers", fmt: fmtInt },
    { key: "cancellations", label: "Cancellations", fmt: fmtInt },
    { key: "buffer_events", label: "Buffers", fmt: fmtInt },
  ];

  function renderKpis() {
    var row = state.month === ALL ? DATA.kpis.all
      : DATA.kpis.monthly.filter(function (r) { return r.month === state.month; })[0] || {};
    var values = {};
    KPIS.forEach(function (k) { values[k.key] = isNum(row[k.key]) ? row[k.key] : 0; });
    if (state.device !== ALL) {
      values.buffer_events = total(DATA.buffers.filter(function (r) { return inMonth(r) && onDevice(r); }),
                                   "buffer_events");
    }
    var period = state.month === ALL ? "all months" : state.month;
    var notes = {
      revenue: period, content: "catalogue", new_subscribers: period, cancellations: period,
      subscribers: "at the end of " + (state.month === ALL ? lastMonth : state.month),
      buffer_events: period + " · " + (state.device === ALL ? "all devices" : state.device),
    };
    var host = document.getElementById("kpis");
    reset(host);
    KPIS.forEach(function (k) {
      var card = document.createElement("div"), name = document.createElement("div");
      var value = document.createElement("div"), note = document.createElement("div");
      card.className = "kpi"; card.setAttribute("data-kpi", k.key);
      name.className = "label"; name.textContent = k.label;
      value.className = "value"; value.setAttribute("data-value", values[k.key]);
      value.textContent = k.fmt(values[k.key]);
      note.className = "note"; note.textContent = notes[k.key];
      [name, value, note].forEach(function (n) { card.appendChild(n); });
      host.appendChild(card);
    });
  }

  function deviceSeries() {
    return DATA.devices.filter(function (d) { return state.device === ALL || d === state.device; })
      .map(function (d) { return { name: d, color: colorOf(DATA.devices, d) }; });
  }

  function renderErrors() {
    var rows = DATA.errors.filter(function (r) { return inMonth(r) && onDevice(r); });
    var byCode = sumBy(rows, "error_code", "error_events");
    var codes = Object.keys(byCode).sort(function (a, b) { return byCode[b] - byCode[a] || (a < b ? -1 : 1); });
    var series = deviceSeries().map(function (s) {
      s.values = codes.map(function (code) {
        return total(rows.filter(function (r) { return r.error_code === code && r.device_type === s.name; }),
                     "error_events");
      });
      return s;
    });
    barChart(document.getElementById("chart-errors"), {
      name: "Errors by code and device", categories: codes, series: series, stacked: true,
      fmt: function (v) { return fmtInt(v) + " errors"; }, axis: compact,
      valueLabel: function (i, v) { return fmtInt(v); },
    });
  }

  function renderDevices() {
    var rows = DATA.qoe.filter(inMonth);
    var sessions = sumBy(rows, "device_type", "sessions"), sum = total(rows, "sessions");
    var devices = DATA.devices.filter(function (d) { return sessions[d] > 0; });
    barChart(document.getElementById("chart-devices"), {
      name: "Device type distribution", categories: devices,
      series: [{ name: "Player sessions", color: "#2563eb",
                 values: devices.map(function (d) { return sessions[d]; }) }],
      highlight: state.device === ALL ? null : state.device,
      fmt: function (v) { return fmtInt(v) + " sessions (" + fmtPct(v / sum) + ")"; }, axis: compact,
      valueLabel: function (i, v) { return fmtPct(v / sum); },
    });
  }

  // One line per device over the days of a per-(date, device) dataset, following both filters.
  function dailyLines(id, name, dataset, key, fmt, axis) {
    var rows = dataset.filter(function (r) { return inMonth(r) && onDevice(r); });
    var dates = distinct(rows, "date");
    var series = deviceSeries().map(function (s) {
      var byDate = {};
      rows.forEach(function (r) { if (r.device_type === s.name) byDate[r.date] = r[key]; });
      s.values = dates.map(function (d) { return isNum(byDate[d]) ? byDate[d] : null; });
      return s;
    }).filter(function (s) { return s.values.some(isNum); });
    lineChart(document.getElementById(id), {
      name: name, x: dates, series: series, fmt: fmt, axis: axis,
      shorten: function (d) { return d.slice(5); },
    });
  }

  function renderPlans() {
    var month = state.month === ALL ? lastMonth : state.month;
    var plans = distinct(DATA.plans, "plan");
    var rows = DATA.plans.filter(function (r) { return r.month === month; });
    donutChart(document.getElementById("chart-plans"), {
      name: "Subscription plan mix", fmt: fmtInt, centerNote: "subscribers · " + month,
      items: rows.map(function (r) {
        return { name: r.plan, value: r.subscribers_end, color: colorOf(plans, r.plan),
                 note: "MRR " + fmtMoney(r.mrr) + " · " + fmtInt(r.new_subscribers) + " new" };
      }),
    });
  }

  function renderMonthly(id, name, key, kind, fmt, axis, color) {
    var months = DATA.subscriptions.map(function (r) { return r.month; });
    var values = DATA.subscriptions.map(function (r) { return r[key]; });
    var o = { name: name, fmt: fmt, axis: axis, highlight: state.month === ALL ? null : state.month,
              series: [{ name: name, color: color, values: values }] };
    if (kind === "line") {
      // The as-of month's churn is null (not known yet): the line ends at the month before.
      o.x = months;
      lineChart(document.getElementById(id), o);
    } else {
      o.categories = months;
      barChart(document.getElementById(id), o);
    }
  }

  function renderTitles() {
    var rows = DATA.titles.filter(function (r) { return r.month === state.month && r.device_type === state.device; })
      .sort(function (a, b) { return a.rank - b.rank; });
    hbarChart(document.getElementById("chart-titles"), {
      name: "Top titles by watch time", color: "#e50914", fmt: fmtHours, axis: axisHours,
      rows: rows.map(function (r) {
        return { label: r.title, value: r.watch_time_ms / 3600000,
                 note: fmtPct(r.completion_rate) + " completed of " + fmtInt(r.sessions) + " sessions" };
      }),
    });
  }

  function renderRecAlgorithms() {
    var rows = DATA.recommendations.filter(inMonth);
    var impressions = sumBy(rows, "algorithm", "impressions"), conversions = sumBy(rows, "algorithm", "conversions");
    var algorithms = Object.keys(impressions).filter(function (a) { return impressions[a] > 0; }).sort();
    var rates = algorithms.map(function (a) { return conversions[a] / impressions[a]; });
    barChart(document.getElementById("chart-rec-algorithm"), {
      name: "Recommendation conversion by algorithm", categories: algorithms,
      series: [{ name: "Conversion rate", color: "#059669", values: rates }],
      fmt: function (v) { return fmtPct(v); }, axis: axisPct,
      valueLabel: function (i, v) {
        return fmtPct(v) + " (" + fmtInt(conversions[algorithms[i]]) + "/" + fmtInt(impressions[algorithms[i]]) + ")";
      },
    });
  }

  function renderRecRank() {
    var rows = DATA.recommendation_rank, algorithms = distinct(rows, "algorithm");
    var ranks = distinct(rows, "rank").sort(function (a, b) { return a - b; });
    lineChart(document.getElementById("chart-rec-rank"), {
      name: "Recommendation conversion by rank", x: ranks.map(String), fmt: fmtPct, axis: axisPct,
      series: algorithms.map(function (a) {
        var byRank = {};
        rows.forEach(function (r) { if (r.algorithm === a) byRank[r.rank] = r.conversion_rate; });
        return { name: a, color: colorOf(algorithms, a),
                 values: ranks.map(function (k) { return isNum(byRank[k]) ? byRank[k] : null; }) };
      }),
    });
  }

  // docs/metrics-extra.md: a viewer's month goes in the first bucket that applies.
  var BUCKETS = ["fatal_failure", "high_rebuffering", "slow_startup", "good", "no_playback"];

  function renderQoeChurn() {
    // The as-of month's churn is not observable yet (null): it counts in neither sum.
    var rows = DATA.qoe_churn.filter(function (r) { return inMonth(r) && isNum(r.churned); });
    var subscribers = sumBy(rows, "qoe_bucket", "subscribers"), churned = sumBy(rows, "qoe_bucket", "churned");
    var buckets = BUCKETS.filter(function (b) { return subscribers[b] > 0; });
    barChart(document.getElementById("chart-qoe-churn"), {
      name: "Churn rate by QoE bucket", categories: buckets,
      series: [{ name: "Churn rate", color: "#e50914",
                 values: buckets.map(function (b) { return churned[b] / subscribers[b]; }) }],
      fmt: fmtPct, axis: axisPct,
      valueLabel: function (i, v) {
        return fmtPct(v) + " (" + fmtInt(churned[buckets[i]]) + "/" + fmtInt(subscribers[buckets[i]]) + ")";
      },
    });
  }

  function renderRecQoe() {
    var rows = DATA.recommendation_qoe.filter(function (r) { return inMonth(r) && onDevice(r); });
    var devices = deviceSeries().map(function (s) { return s.name; })
      .filter(function (d) { return rows.some(function (r) { return r.device_type === d; }); });
    var sources = [["recommended", "#059669"], ["other", "#94a3b8"]];
    function pick(device, source) {
      return rows.filter(function (r) { return r.device_type === device && r.play_source === source; });
    }
    barChart(document.getElementById("chart-rec-qoe"), {
      name: "Completion rate by play source", categories: devices, fmt: fmtPct, axis: axisPct,
      series: sources.map(function (pair) {
        return { name: pair[0], color: pair[1], values: devices.map(function (d) {
          var chosen = pick(d, pair[0]), sessions = total(chosen, "sessions");
          return sessions > 0 ? total(chosen, "completions") / sessions : null;
        }) };
      }),
      tip: function (s, i, v) {
        var chosen = pick(devices[i], s.name);
        var played = total(chosen, "watch_time_ms") + total(chosen, "rebuffer_ms");
        var started = total(chosen, "sessions_with_startup");
        var rebuffer = played > 0 ? total(chosen, "rebuffer_ms") / played : null;
        return s.name + " plays on " + devices[i] + ": " + fmtPct(v) + " completed · rebuffer " + fmtPct(rebuffer)
          + " · startup " + fmtMs(started > 0 ? total(chosen, "total_startup_ms") / started : null)
          + " · " + fmtInt(total(chosen, "sessions")) + " sessions";
      },
    });
  }

  function render() {
    renderKpis();
    renderErrors();
    renderDevices();
    dailyLines("chart-startup", "Startup time p90", DATA.qoe, "startup_p90_ms", fmtMs, axisMs);
    dailyLines("chart-rebuffer", "Rebuffer ratio", DATA.qoe, "rebuffer_ratio", fmtPct, axisPct);
    renderPlans();
    renderMonthly("chart-subscribers", "Subscribers", "subscribers", "bar", fmtInt, compact, "#2563eb");
    renderMonthly("chart-churn", "Churn rate", "churn_rate", "line", fmtPct, axisPct, "#e50914");
    renderMonthly("chart-mrr", "MRR", "mrr", "bar", fmtMoney, compactMoney, "#059669");
    renderTitles();
    renderRecAlgorithms();
    renderRecRank();
    renderQoeChurn();
    dailyLines("chart-revenue-risk", "MRR at risk", DATA.revenue_at_risk, "mrr_at_risk", fmtMoney, compactMoney);
    renderRecQoe();
    document.body.setAttribute("data-rendered", state.month + "|" + state.device);
  }

  function fillSelect(id, allLabel, values, key) {
    var select = document.getElementById(id);
    [[ALL, allLabel]].concat(values.map(function (v) { return [v, v]; })).forEach(function (pair) {
      var option = document.createElement("option");
      option.value = pair[0];
      option.textContent = pair[1];
      select.appendChild(option);
    });
    select.addEventListener("change", function () { state[key] = select.value; render(); });
  }

  fillSelect("filter-month", "All months", DATA.months.slice().reverse(), "month");
  fillSelect("filter-device", "All devices", DATA.devices, "device");
  document.getElementById("period").textContent = DATA.months.length
    ? "Gold tables, " + DATA.months[0] + " to " + lastMonth + " · " + DATA.devices.length + " device types"
    : "No gold data yet";
  render();
})();
