/* Draws the dashboards' charts with the vendored Chart.js (static/js/vendor/chart-4.4.9.umd.min.js).
 * Strict CSP: no inline script; each <canvas data-chart="ID"> reads its description from the JSON in
 * <script type="application/json" id="ID"> written by Django's json_script. The description holds data only
 * ({kind, money, labels, datasets}); formatting lives here. A drawn canvas gets data-chart-drawn="true". */
(function () {
  "use strict";
  var PALETTE = ["#4263eb", "#adb5bd", "#12b886", "#f59f00", "#e64980", "#7950f2", "#15aabf", "#fa5252"];
  // The page's language (<html lang>, set by Django from the reader's choice) formats amounts and counts.
  var locale = document.documentElement.lang || "en";
  var usd = new Intl.NumberFormat(locale, { style: "currency", currency: "USD" });
  var count = new Intl.NumberFormat(locale);

  function toNumber(value) {
    return value === null || value === undefined ? null : Number(value);
  }

  function build(spec) {
    var fmt = spec.money ? function (v) { return usd.format(v); } : function (v) { return count.format(v); };
    var round = spec.kind === "doughnut";
    var datasets = spec.datasets.map(function (ds, i) {
      var color = round ? PALETTE : PALETTE[i % PALETTE.length];
      return {
        label: ds.label,
        data: ds.data.map(toNumber),
        backgroundColor: spec.kind === "line" ? PALETTE[i % PALETTE.length] + "33" : color,
        borderColor: round ? "#ffffff" : PALETTE[i % PALETTE.length],
        borderWidth: spec.kind === "line" ? 2 : 1,
        pointRadius: spec.kind === "line" ? 2 : undefined,
        spanGaps: false,
        fill: false,
        borderDash: spec.kind === "line" && i > 0 ? [5, 4] : undefined
      };
    });
    var options = {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      plugins: {
        legend: { display: round || datasets.length > 1, position: round ? "right" : "top" },
        tooltip: {
          callbacks: {
            label: function (ctx) {
              var v = round ? ctx.parsed : (spec.kind === "bar" && ctx.chart.options.indexAxis === "y" ? ctx.parsed.x : ctx.parsed.y);
              return (ctx.dataset.label ? ctx.dataset.label + ": " : "") + fmt(v);
            }
          }
        }
      }
    };
    if (!round) {
      options.scales = { y: { beginAtZero: true, ticks: { callback: function (v) { return fmt(v); } } } };
    }
    return { type: spec.kind, data: { labels: spec.labels, datasets: datasets }, options: options };
  }

  function draw() {
    if (typeof window.Chart === "undefined") { return; }
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var source = document.getElementById(canvas.getAttribute("data-chart"));
      if (!source || canvas.getAttribute("data-chart-drawn") === "true") { return; }
      try {
        new window.Chart(canvas, build(JSON.parse(source.textContent)));
        canvas.setAttribute("data-chart-drawn", "true");
      } catch (err) {
        canvas.setAttribute("data-chart-drawn", "error");
        if (window.console) { window.console.error("chart " + canvas.id + ": " + err); }
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
