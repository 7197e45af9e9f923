// The dashboard's chart of each currency's deviation from its central bank, from the JSON of #fx-data
// (its "quality" part, built by fxticker/web/quality.py). A file of its own: the CSP forbids inline scripts.
"use strict";

(function () {
  const source = document.getElementById("fx-data");
  const div = document.getElementById("chart-quality");
  if (!source || !div || !window.Plotly) {
    return;
  }
  const chart = JSON.parse(source.textContent).quality.chart;
  // The colours of dashboard.js's charts, so that a currency looks the same in every chart.
  const COLORS = ["#2458b3", "#c0392b", "#1a7f37", "#8e44ad", "#d68910", "#16a085", "#7f8c8d"];
  // Wide enough for the 5% line and what goes past it; a unit slip (-99% or +9,900%) would flatten the rest.
  const CLIP = 12;

  function rgba(hex, alpha) {
    const n = parseInt(hex.slice(1), 16);
    return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
  }

  function nextDay(day) {
    return new Date(Date.parse(day) + 86400000).toISOString().slice(0, 10);
  }

  const traces = chart.currencies.map((c, i) => ({
    x: c.x, y: c.y, mode: chart.bucket_days > 1 ? "lines" : "lines+markers", name: c.name,
    line: { color: COLORS[i % COLORS.length], width: 1.5 }, marker: { size: 4 },
    hovertemplate: `%{x|%Y-%m-%d}: %{y:+.3f}%<extra>${c.code}</extra>`,
  }));
  const lines = chart.lines.flatMap((pct) => [pct, -pct]).map((y) => ({
    type: "line", xref: "paper", x0: 0, x1: 1, y0: y, y1: y,
    line: { color: Math.abs(y) > chart.lines[0] ? "#c0392b" : "#d68910", width: 1, dash: "dash" },
  }));
  const stale = chart.currencies.flatMap((c, i) => c.stale.map(([first, last]) => ({
    type: "rect", xref: "x", yref: "paper", x0: first, x1: nextDay(last), y0: 0, y1: 1,
    fillcolor: rgba(COLORS[i % COLORS.length], 0.15), line: { width: 0 }, layer: "below",
  })));
  const layout = {
    title: { text: "Deviation from the central bank", x: 0.01, xanchor: "left", font: { size: 15 } },
    margin: { l: 60, r: 20, t: 60, b: 40 },
    legend: { orientation: "h", x: 0, y: 1.0, yanchor: "bottom" },
    hovermode: "closest",
    xaxis: { type: "date" },
    yaxis: { title: { text: "%" }, zeroline: true, autorangeoptions: { clipmin: -CLIP, clipmax: CLIP } },
    shapes: [...stale, ...lines],
  };
  const config = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["lasso2d", "select2d"] };
  Plotly.react(div, traces, layout, config).then(() => {
    document.body.dataset.quality = "rendered";
  });
})();
