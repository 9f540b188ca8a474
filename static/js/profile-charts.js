/* 시흥 데이터거래소 — charts of a data file's column profile (Chart.js 4, global `Chart`).
 *
 * Markup: templates/catalog/datafile_detail.html (one file), templates/catalog/dataset_detail.html (several)
 *   <script type="application/json" id="profile-data">   the profile: a list of per-column dicts
 *       (name, type, count, nulls, null_ratio, distinct, min, max, mean, top_values, histogram …)
 *   <canvas data-chart="nulls">                          share of empty values, every column
 *   <canvas data-chart="histogram" data-column="i">      histogram of numeric column i
 *   <canvas data-chart="top" data-column="i">            most frequent values of column i
 *   <canvas data-chart="timeline" data-column="i">       values per hour/day/month/year of date column i
 *       (profile "timeline": {"unit", "step", "bins": [{"from": "2024-01", "count"}]}, every period)
 *   data-profile="<id>" on a canvas names the JSON element of its file (default "profile-data"),
 *   so a page with several files has one JSON element per file.
 *
 * Every canvas has role="img" and an aria-label; the numbers are also in tables next to it, which
 * is the text alternative. Charts are drawn when they scroll into view. The page swaps its body
 * (htmx) when the checks finish; charts are drawn again after that swap. No inline styles: Chart.js
 * sizes the canvas through the CSSOM, which the Content Security Policy allows.
 */
(function () {
  "use strict";

  var lang = document.documentElement.lang || undefined;
  var numberFormat = new Intl.NumberFormat(lang, { maximumFractionDigits: 2 });
  var percentFormat = new Intl.NumberFormat(lang, { style: "percent", maximumFractionDigits: 1 });

  function onReady(fn) {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", fn);
    else fn();
  }

  function cssVar(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name);
    return (value && value.trim()) || fallback;
  }

  var profiles = {};

  function readProfile(id) {
    if (Object.prototype.hasOwnProperty.call(profiles, id)) return profiles[id];
    var el = document.getElementById(id);
    var result = null;
    if (el) {
      try {
        var data = JSON.parse(el.textContent);
        result = Array.isArray(data) ? data : (data && Array.isArray(data.columns) ? data.columns : null);
      } catch (e) {
        result = null;
      }
    }
    profiles[id] = result;
    return result;
  }

  function profileOf(canvas) {
    return readProfile(canvas.getAttribute("data-profile") || "profile-data");
  }

  function formatValue(value) {
    if (value === null || value === undefined) return "—";
    if (typeof value === "number") return numberFormat.format(value);
    return String(value);
  }

  function truncate(text, max) {
    text = String(text);
    return text.length > max ? text.slice(0, max - 1) + "…" : text;
  }

  function colours() {
    return {
      bar: cssVar("--krds-light-color-element-primary", "#256ef4"),
      barAlt: cssVar("--krds-light-color-element-secondary", "#063a74"),
      warn: cssVar("--krds-light-color-element-warning", "#ffb114"),
      grid: cssVar("--krds-light-color-border-gray-light", "#cdd1d5"),
      text: cssVar("--krds-light-color-text-basic", "#1e2124"),
      font: cssVar("--krds-font-family-base", "sans-serif")
    };
  }

  function baseOptions(c, horizontal) {
    return {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      indexAxis: horizontal ? "y" : "x",
      plugins: {
        legend: { display: false },
        tooltip: { enabled: true }
      },
      scales: {
        x: { grid: { color: c.grid }, ticks: { color: c.text, font: { family: c.font } } },
        y: { grid: { color: c.grid }, ticks: { color: c.text, font: { family: c.font } }, beginAtZero: true }
      }
    };
  }

  function nullsChart(canvas, profile, c) {
    var labels = profile.map(function (col) { return truncate(col.name, 24); });
    var values = profile.map(function (col) {
      var ratio = typeof col.null_ratio === "number" ? col.null_ratio : null;
      if (ratio === null) {
        var total = (col.count || 0) + (col.nulls || 0);
        ratio = total ? (col.nulls || 0) / total : 0;
      }
      return ratio;
    });
    // One bar per column: make the box tall enough to read every name.
    var box = canvas.parentElement;
    box.style.height = Math.max(160, profile.length * 26 + 60) + "px";
    var options = baseOptions(c, true);
    options.scales.x.min = 0;
    options.scales.x.max = 1;
    options.scales.x.ticks.callback = function (value) { return percentFormat.format(value); };
    options.plugins.tooltip.callbacks = {
      title: function (items) { return profile[items[0].dataIndex].name; },
      label: function (item) { return percentFormat.format(item.raw); }
    };
    return new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: labels,
        datasets: [{
          data: values,
          backgroundColor: values.map(function (v) { return v > 0.5 ? c.warn : c.bar; }),
          borderWidth: 0,
          barPercentage: 0.8
        }]
      },
      options: options
    });
  }

  function histogramChart(canvas, column, c) {
    var bins = column.histogram || [];
    var labels = bins.map(function (bin) {
      var from = bin.from;
      var to = bin.to;
      if (from === to || to === undefined) return formatValue(from);
      return formatValue(from) + " – " + formatValue(to);
    });
    var options = baseOptions(c, false);
    options.scales.x.grid.display = false;
    options.scales.y.ticks.precision = 0;
    options.plugins.tooltip.callbacks = {
      label: function (item) { return numberFormat.format(item.raw); }
    };
    return new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: labels,
        datasets: [{
          data: bins.map(function (bin) { return bin.count || 0; }),
          backgroundColor: c.bar,
          borderWidth: 0,
          barPercentage: 1,
          categoryPercentage: 0.96
        }]
      },
      options: options
    });
  }

  function topValuesChart(canvas, column, c) {
    var items = (column.top_values || []).filter(function (item) { return item && item.count !== null; });
    var emptyWord = canvas.getAttribute("data-empty-word") || "(empty)";
    var labels = items.map(function (item) {
      return item.value === null || item.value === undefined ? emptyWord : truncate(formatValue(item.value), 30);
    });
    var options = baseOptions(c, true);
    options.scales.x.ticks.precision = 0;
    options.scales.y.grid.display = false;
    options.plugins.tooltip.callbacks = {
      title: function (tooltipItems) { return formatValue(items[tooltipItems[0].dataIndex].value); },
      label: function (item) { return numberFormat.format(item.raw); }
    };
    var box = canvas.parentElement;
    box.style.height = Math.max(140, items.length * 30 + 50) + "px";
    return new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: labels,
        datasets: [{
          data: items.map(function (item) { return item.count || 0; }),
          backgroundColor: c.barAlt,
          borderWidth: 0,
          barPercentage: 0.8
        }]
      },
      options: options
    });
  }

  function timelineChart(canvas, column, c) {
    var bins = column.timeline.bins;
    var options = baseOptions(c, false);
    options.scales.x.grid.display = false;
    options.scales.x.ticks.autoSkip = true;
    options.scales.x.ticks.maxRotation = 0;
    options.scales.y.ticks.precision = 0;
    options.plugins.tooltip.callbacks = {
      label: function (item) { return numberFormat.format(item.raw); }
    };
    return new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: bins.map(function (bin) { return bin.from; }),
        datasets: [{
          data: bins.map(function (bin) { return bin.count || 0; }),
          backgroundColor: c.bar,
          borderWidth: 0,
          barPercentage: 1,
          categoryPercentage: 0.9
        }]
      },
      options: options
    });
  }

  function draw(canvas, c) {
    if (canvas.getAttribute("data-drawn") === "true") return;
    var profile = profileOf(canvas);
    if (!profile || !profile.length) return;
    var kind = canvas.getAttribute("data-chart");
    var index = parseInt(canvas.getAttribute("data-column"), 10);
    var column = isNaN(index) ? null : profile[index];
    try {
      if (kind === "nulls") nullsChart(canvas, profile, c);
      else if (kind === "histogram" && column && column.histogram && column.histogram.length) histogramChart(canvas, column, c);
      else if (kind === "top" && column && column.top_values && column.top_values.length) topValuesChart(canvas, column, c);
      else if (kind === "timeline" && column && column.timeline && column.timeline.bins && column.timeline.bins.length) timelineChart(canvas, column, c);
      else return;
      canvas.setAttribute("data-drawn", "true");
    } catch (e) {
      // A chart that cannot be drawn leaves its table, which holds the same numbers.
      if (window.console) window.console.warn("profile chart", kind, e);
    }
  }

  function drawAll() {
    if (!window.Chart) return;
    profiles = {};  // an htmx swap may have replaced the JSON
    var canvases = document.querySelectorAll("canvas[data-chart]:not([data-drawn])");
    if (!canvases.length) return;
    var c = colours();
    window.Chart.defaults.font.family = c.font;
    if (!("IntersectionObserver" in window)) {
      canvases.forEach(function (canvas) { draw(canvas, c); });
      return;
    }
    var observer = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (!entry.isIntersecting) return;
        observer.unobserve(entry.target);
        draw(entry.target, c);
      });
    }, { rootMargin: "200px 0px" });
    canvases.forEach(function (canvas) { observer.observe(canvas); });
  }

  onReady(function () {
    drawAll();
    // The page replaces its body when the checks finish (htmx): draw the new charts.
    document.body.addEventListener("htmx:afterSettle", drawAll);
  });
})();
