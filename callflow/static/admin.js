/* callflow admin page script (no inline scripts: the pages send a strict Content-Security-Policy).
 * Draws the calls-per-day bar chart from the JSON in <script type="application/json" id="volume-data">. */
(function () {
  "use strict";

  function cssVar(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function drawVolumeChart() {
    var canvas = document.getElementById("volume-chart");
    var source = document.getElementById("volume-data");
    if (!canvas || !source || typeof window.Chart === "undefined") {
      return;
    }
    var rows = JSON.parse(source.textContent || "[]");
    var color = cssVar("--pico-primary-background", "#0172ad");
    var text = cssVar("--pico-muted-color", "#646b79");
    var grid = cssVar("--pico-muted-border-color", "#e7eaf0");
    var chart = new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: rows.map(function (r) { return r.date; }),
        datasets: [{
          label: "Calls",
          data: rows.map(function (r) { return r.calls; }),
          backgroundColor: color,
          borderRadius: 3,
          maxBarThickness: 28
        }]
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { display: false } },
        scales: {
          x: { ticks: { color: text, maxRotation: 0, autoSkipPadding: 12 }, grid: { display: false } },
          y: { beginAtZero: true, ticks: { color: text, precision: 0 }, grid: { color: grid } }
        }
      }
    });
    canvas.setAttribute("data-chart-ready", String(rows.length));
    window.callflowCharts = window.callflowCharts || {};
    window.callflowCharts.volume = chart;
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawVolumeChart);
  } else {
    drawVolumeChart();
  }
})();
