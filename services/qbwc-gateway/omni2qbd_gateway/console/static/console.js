/* Omni2QBD console: the little behaviour the pages need beyond htmx.
   - "select all" check boxes and the live count on the Import button;
   - reconciliation charts (uPlot), drawn from JSON the page carries in a data element. */
(function () {
  "use strict";

  function updateCount(form) {
    var boxes = form.querySelectorAll('input[type=checkbox][name=entry_ids]');
    var checked = 0;
    boxes.forEach(function (b) { if (b.checked) { checked += 1; } });
    form.querySelectorAll('[data-selected-count]').forEach(function (el) { el.textContent = String(checked); });
    form.querySelectorAll('[data-needs-selection]').forEach(function (el) { el.disabled = checked === 0; });
  }

  function initSelection(root) {
    root.querySelectorAll('form[data-selection]').forEach(function (form) {
      if (form.dataset.ready) { return; }
      form.dataset.ready = "1";
      form.addEventListener('change', function (event) {
        var target = event.target;
        if (target.matches('[data-select-all]')) {
          form.querySelectorAll('input[type=checkbox][name=entry_ids]').forEach(function (b) { b.checked = target.checked; });
        }
        updateCount(form);
      });
      updateCount(form);
    });
  }

  function money(v) {
    if (v === null || v === undefined) { return ""; }
    var s = Math.abs(v).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    return v < 0 ? "(" + s + ")" : s;
  }

  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

  /* "2025-03" -> "Mar" over "2025": narrow enough for twelve labels under one chart. */
  function monthLabel(text) {
    var parts = String(text || "").split("-");
    if (parts.length !== 2) { return String(text || ""); }
    return MONTHS[parseInt(parts[1], 10) - 1] + "\n" + parts[0];
  }

  function drawChart(el) {
    if (el.dataset.drawn === "true" || typeof uPlot === "undefined") { return; }
    var source = document.getElementById(el.dataset.chart);
    if (!source) { return; }
    var data = JSON.parse(source.textContent);
    var xs = data.months.map(function (_m, i) { return i; });
    var width = Math.max(320, Math.min(el.clientWidth || 640, 900));
    var opts = {
      title: data.title,
      width: width,
      height: 240,
      // A key of the two colours; the figures themselves are in the table under the charts.
      legend: { live: false },
      scales: { x: { time: false, range: [-0.6, xs.length - 0.4] } },
      axes: [
        { values: function (_u, ticks) { return ticks.map(function (t) { return monthLabel(data.months[t]); }); },
          splits: function () { return xs; }, size: 48, font: "11px system-ui, sans-serif" },
        { values: function (_u, ticks) { return ticks.map(money); }, size: 80 }
      ],
      series: [
        { label: "Month", value: function (_u, v) { return v === null || v === undefined ? "" : data.months[v] || ""; } },
        { label: "Cin7 Omni", stroke: "#1f5fa8", fill: "rgba(31,95,168,0.55)", paths: uPlot.paths.bars({ size: [0.3, 50], align: -1 }), points: { show: false },
          value: function (_u, v) { return money(v); } },
        { label: "QuickBooks", stroke: "#1e7a46", fill: "rgba(30,122,70,0.55)", paths: uPlot.paths.bars({ size: [0.3, 50], align: 1 }), points: { show: false },
          value: function (_u, v) { return money(v); } }
      ]
    };
    el.innerHTML = "";
    new uPlot(opts, [xs, data.cin7, data.quickbooks], el);
    el.dataset.drawn = "true";
  }

  function initCharts(root) {
    root.querySelectorAll('[data-chart]').forEach(drawChart);
  }

  function init(root) {
    initSelection(root);
    initCharts(root);
  }

  /* A message shown after a form travels in the address; take it out once shown, so a
     reload later does not show it again. */
  function forgetFlash() {
    var url = new URL(window.location.href);
    if (!url.searchParams.has("flash")) { return; }
    ["flash", "flash_kind", "flash_sig"].forEach(function (k) { url.searchParams.delete(k); });
    window.history.replaceState(null, "", url.pathname + (url.search || "") + url.hash);
  }

  document.addEventListener("DOMContentLoaded", function () {
    forgetFlash();
    init(document);
    document.body.addEventListener("htmx:afterSettle", function (event) { init(event.target); });
  });
})();
