/* 시흥 데이터거래소 — the provider's sales and downloads charts (Chart.js 4, global `Chart`).
 *
 * Markup: templates/transactions/statements/sales.html and _chart.html
 *   <script type="application/json" id="sales-charts-data">  {key: {unit, months: ["2026-01", …],
 *                                                             series: [{label, values: [per month]}]}}
 *   <canvas data-sales-chart="key">                          one stacked bar chart per key
 * Every canvas has role="img" and an aria-label; the same numbers are in the table under it (the text
 * alternative). No inline styles: Chart.js sizes the canvas through the CSSOM, which the CSP allows.
 */
(function () {
  "use strict";

  var lang = document.documentElement.lang || undefined;
  var numberFormat = new Intl.NumberFormat(lang, { maximumFractionDigits: 0 });

  function cssVar(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name);
    return (value && value.trim()) || fallback;
  }

  // KRDS-like colours, distinguishable side by side; more series than colours reuse them.
  var PALETTE = ["#256ef4", "#063a74", "#ffb114", "#228738", "#de3412", "#6a4ed8", "#0b8a8a", "#8a5a00", "#9e3a8c", "#58616a"];

  function draw(canvas, all) {
    var chart = all[canvas.getAttribute("data-sales-chart")];
    if (!chart || !chart.series || !chart.series.length) return;
    var grid = cssVar("--krds-light-color-border-gray-light", "#cdd1d5");
    var text = cssVar("--krds-light-color-text-basic", "#1e2124");
    var won = chart.unit === "won";
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: chart.months,
        datasets: chart.series.map(function (s, i) {
          return { label: s.label, data: s.values, backgroundColor: PALETTE[i % PALETTE.length], borderWidth: 0 };
        })
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: {
          legend: { position: "bottom", labels: { color: text, boxWidth: 14 } },
          tooltip: {
            callbacks: {
              label: function (item) {
                return item.dataset.label + ": " + numberFormat.format(item.raw) + (won ? " ₩" : "");
              }
            }
          }
        },
        scales: {
          x: { stacked: true, grid: { display: false }, ticks: { color: text, autoSkip: true, maxRotation: 0 } },
          y: {
            stacked: true,
            beginAtZero: true,
            grid: { color: grid },
            ticks: { color: text, precision: 0, callback: function (v) { return numberFormat.format(v); } }
          }
        }
      }
    });
    canvas.setAttribute("data-drawn", "true");
  }

  function drawAll() {
    var el = document.getElementById("sales-charts-data");
    if (!window.Chart || !el) return;
    var all;
    try {
      all = JSON.parse(el.textContent);
    } catch (e) {
      return;  // the tables under the charts hold the same numbers
    }
    window.Chart.defaults.font.family = cssVar("--krds-font-family-base", "sans-serif");
    document.querySelectorAll("canvas[data-sales-chart]:not([data-drawn])").forEach(function (canvas) {
      try {
        draw(canvas, all);
      } catch (e) {
        if (window.console) window.console.warn("sales chart", e);
      }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", drawAll);
  else drawAll();
})();
