// The dashboard's charts: one plotly chart per currency (or one comparison chart), drawn from the JSON the
// page carries in #fx-data. A file of its own because the Content-Security-Policy forbids inline scripts.
"use strict";

(function () {
  const source = document.getElementById("fx-data");
  if (!source || !window.Plotly) {
    return;
  }
  const data = JSON.parse(source.textContent);
  const COLORS = ["#2458b3", "#c0392b", "#1a7f37", "#8e44ad", "#d68910", "#16a085", "#7f8c8d"];
  const state = { direction: "usd_per_unit", view: "each", range: null };
  const config = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["lasso2d", "select2d"] };
  const inverse = (v) => (v === null ? null : 1 / v);
  let syncing = false;

  function color(i, alpha) {
    const hex = COLORS[i % COLORS.length];
    if (alpha === undefined) {
      return hex;
    }
    const n = parseInt(hex.slice(1), 16);
    return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
  }

  function unit(c) {
    return state.direction === "per_usd" ? `${c.code} per USD` : `USD per ${c.code}`;
  }

  function xaxis() {
    const axis = {
      type: "date",
      rangeselector: {
        x: 0, y: 1.02, yanchor: "bottom",
        buttons: [
          { count: 1, label: "1m", step: "month", stepmode: "backward" },
          { count: 6, label: "6m", step: "month", stepmode: "backward" },
          { count: 1, label: "YTD", step: "year", stepmode: "todate" },
          { count: 1, label: "1y", step: "year", stepmode: "backward" },
          { label: "all", step: "all" },
        ],
      },
      rangeslider: { visible: true, thickness: 0.1 },
      // plotly pads an autorange by about 5% for markers: eight months past ten years of data, so "1y"
      // would show four months of it. One bucket either side keeps the end points' rings whole.
      autorangeoptions: {
        clipmin: addDays(data.start, -data.bucket_days), clipmax: addDays(data.end, data.bucket_days),
      },
    };
    if (state.range) {
      axis.range = state.range.slice();
    } else {
      axis.autorange = true;
    }
    return axis;
  }

  function layout(title, yTitle) {
    return {
      title: { text: title, x: 0.01, xanchor: "left", y: 0.985, yanchor: "top", font: { size: 15 } },
      margin: { l: 80, r: 20, t: 72, b: 20 },
      showlegend: state.view === "compare",
      legend: { orientation: "h", x: 0.3, y: 1.02, yanchor: "bottom" },
      hovermode: "closest",
      xaxis: xaxis(),
      yaxis: { title: { text: yTitle }, exponentformat: "none", separatethousands: true },
    };
  }

  function eachTraces(c, i) {
    const perUsd = state.direction === "per_usd";
    // The band's edges swap under inversion: the highest USD rate gives the fewest units per USD.
    const low = perUsd ? c.hi.map(inverse) : c.lo;
    const high = perUsd ? c.lo.map(inverse) : c.hi;
    const band = polygon(c.x, low, high);
    return [
      { x: band.x, y: band.y, mode: "lines", line: { width: 0 }, fill: "toself", fillcolor: color(i, 0.18),
        hoverinfo: "skip", name: "precision range" },
      // A bucketed chart has points a pixel or two apart: markers would not show, yet cost a third of
      // the drawing (twice, with the range slider's copy).
      { x: c.x, y: perUsd ? c.yi : c.y, mode: data.bucket_days > 1 ? "lines" : "lines+markers",
        connectgaps: false, name: c.name,
        line: { color: color(i), width: 2 }, marker: { size: 4, color: color(i) },
        hovertemplate: `%{x|%Y-%m-%d}: %{y:,.6~g} ${unit(c)}<extra>${c.name}</extra>` },
      { x: c.rev.i.map((k) => c.x[k]), y: c.rev.i.map((k) => (perUsd ? c.yi : c.y)[k]), mode: "markers",
        name: "revised days", marker: { symbol: "circle-open", size: 12, color: "#8a5a00", line: { width: 2 } },
        text: c.rev.i.map((k, m) => revisionHover(c, k, m)), hoverinfo: "text" },
      ...officialTraces(c),
    ];
  }

  // The central bank's rate as a second line (it comes in units per USD), and the days the check flags.
  function officialTraces(c) {
    const off = c.official;
    if (!off || (!off.ox.length && !off.i.length)) {
      return [];
    }
    const perUsd = state.direction === "per_usd";
    const flagged = off.i.map((k, m) => ({ k, m, suspect: off.suspect[m] > 0 }));
    const marks = (suspect) => flagged.filter((f) => f.suspect === suspect);
    const markTrace = (suspect, name, colour) => ({
      x: marks(suspect).map((f) => c.x[f.k]), y: marks(suspect).map((f) => (perUsd ? c.yi : c.y)[f.k]),
      mode: "markers", name, marker: { symbol: "x-thin-open", size: 11, color: colour, line: { width: 2 } },
      text: marks(suspect).map((f) => flagHover(c, f.k, f.m)), hoverinfo: "text",
    });
    return [
      { x: off.ox, y: perUsd ? off.oy : off.oy.map(inverse), mode: "lines", connectgaps: false,
        name: "official rate", line: { color: "#444", width: 1.5, dash: "dot" },
        hovertemplate: `%{x|%Y-%m-%d}: %{y:,.6~g} ${unit(c)}<extra>official</extra>` },
      markTrace(false, "differs from official", "#d68910"),
      markTrace(true, "suspect", "#c0392b"),
    ];
  }

  function flagHover(c, k, m) {
    const off = c.official;
    const what = [];
    if (off.suspect[m]) {
      what.push(plural(off.suspect[m], "suspect day"));
    }
    if (off.differs[m]) {
      what.push(`${plural(off.differs[m], "day")} differing`);
    }
    return `<b>${c.x[k]}</b>: ${what.join(", ")} from the official rate<br>` +
      `largest deviation ${off.worst[m]}%`;
  }

  // plotly reads hover text as a little HTML: quoted rates and sources (URLs, paths) must stay plain text.
  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
  }

  function addDays(day, count) {
    return new Date(Date.parse(day) + count * 86400000).toISOString().slice(0, 10);
  }

  function plural(count, word) {
    return `${count} ${word}${count === 1 ? "" : "s"}`;
  }

  // The hover of the m-th ringed point (point k of the series): on a daily chart each revision of the day,
  // latest first, with when and where it was seen; on a bucketed chart a summary of the bucket's revised
  // days, since listing thousands of revisions would make the page heavy.
  function revisionHover(c, k, m) {
    const rev = c.rev;
    const shorter = `choose ${data.detail_days} days or fewer to see each revision`;
    if (data.bucket_days === 1) {
      const head = `<b>${c.x[k]}: ${plural(rev.n[m], "revision")}</b>`;
      const list = rev.list[m];
      if (!list) {
        return `${head}<br>too many revisions in this range to list: ${shorter}`;
      }
      const lines = list.map(([rate, change, seen, source]) =>
        `${escapeHtml(rate)} (${escapeHtml(change)}), seen ${escapeHtml(seen)} UTC` +
        `<br>   from ${escapeHtml(data.sources[source])}`);
      return `${head}, latest first<br>${lines.join("<br>")}`;
    }
    const last = addDays(c.x[k], rev.last[m]);
    const bucketEnd = addDays(c.x[k], data.bucket_days - 1);
    return `<b>${c.x[k]} to ${bucketEnd < data.end ? bucketEnd : data.end}: ` +
      `${plural(rev.days[m], "revised day")}</b><br>` +
      `latest ${last}, ${plural(rev.n[m], "revision")}<br>${shorter}`;
  }

  // The band as one closed shape per run of days with data: "toself" closes each segment between
  // nulls on its own, where "tonexty" would fill across a gap.
  function polygon(x, low, high) {
    const out = { x: [], y: [] };
    let start = 0;
    for (let k = 0; k <= x.length; k++) {
      if (k === x.length || low[k] === null) {
        if (k > start) {
          if (out.x.length) {
            out.x.push(null);
            out.y.push(null);
          }
          const xs = x.slice(start, k);
          out.x.push(...xs, ...xs.slice().reverse());
          out.y.push(...high.slice(start, k), ...low.slice(start, k).reverse());
        }
        start = k + 1;
      }
    }
    return out;
  }

  // Each currency divided by its first value inside the visible range, times 100.
  function indexed(c) {
    const y = state.direction === "per_usd" ? c.yi : c.y;
    const start = state.range ? state.range[0].slice(0, 10) : null;
    let base = null;
    for (let k = 0; k < c.x.length; k++) {
      if (y[k] !== null && (start === null || c.x[k] >= start)) {
        base = y[k];
        break;
      }
    }
    return y.map((v) => (v === null || base === null ? null : (100 * v) / base));
  }

  function compareTraces() {
    return data.currencies.map((c, i) => ({
      x: c.x, y: indexed(c), mode: "lines", connectgaps: false, name: c.name,
      line: { color: color(i), width: 2 },
      hovertemplate: `%{x|%Y-%m-%d}: %{y:.2f}<extra>${c.name}</extra>`,
    }));
  }

  function compareTitle() {
    const what = state.direction === "per_usd" ? "units per USD" : "USD per unit";
    return `All currencies, ${what}, indexed to 100 at the start of the range`;
  }

  function charts() {
    return Array.from(document.querySelectorAll(".chart"));
  }

  function render() {
    const compare = document.getElementById("chart-compare");
    const each = state.view === "each";
    compare.hidden = each;
    const drawn = [];
    data.currencies.forEach((c, i) => {
      const div = document.getElementById(`chart-${c.code}`);
      div.hidden = !each;
      if (each) {
        drawn.push(Plotly.react(div, eachTraces(c, i), layout(`${c.name} (${c.code})`, unit(c)), config));
      }
    });
    if (!each) {
      drawn.push(Plotly.react(compare, compareTraces(), layout(compareTitle(), "index"), config));
    }
    document.body.dataset.rendered = "";
    return Promise.all(drawn).then(() => {
      charts().forEach((div) => {
        if (div.on && !div.dataset.listening) {
          div.dataset.listening = "1";
          div.on("plotly_relayout", onRelayout);
        }
      });
      document.body.dataset.rendered = `${state.view}:${state.direction}`;
      updateDownload();
    });
  }

  // The CSV link and, on a bucketed chart, the link that reloads the page with the visible dates, so that a
  // zoom to a short range can be shown day by day with each revision.
  function updateDownload() {
    setRange(document.getElementById("download-csv"), { direction: state.direction });
    const detail = document.getElementById("daily-detail");
    if (detail) {
      setRange(detail, {});
    }
  }

  function setRange(link, extra) {
    const url = new URL(link.href, window.location.href);
    Object.entries(extra).forEach(([name, value]) => url.searchParams.set(name, value));
    url.searchParams.set("from", state.range ? clampDay(state.range[0]) : data.start);
    url.searchParams.set("to", state.range ? clampDay(state.range[1]) : data.end);
    link.href = url.pathname + url.search;
  }

  function clampDay(value) {
    const day = String(value).slice(0, 10);
    return day < data.start ? data.start : day > data.end ? data.end : day;
  }

  // Zooming one chart (buttons, slider or drag) moves the others to the same dates.
  function onRelayout(event) {
    if (syncing) {
      return;
    }
    let range = null;
    if (event["xaxis.range[0]"] !== undefined) {
      range = [event["xaxis.range[0]"], event["xaxis.range[1]"]];
    } else if (Array.isArray(event["xaxis.range"])) {
      range = event["xaxis.range"].slice();
    } else if (!event["xaxis.autorange"]) {
      return;
    }
    state.range = range;
    syncing = true;
    const updates = [];
    charts().forEach((div) => {
      if (div.data && !div.hidden) {
        const update = range ? { "xaxis.range": range.slice() } : { "xaxis.autorange": true };
        updates.push(Plotly.relayout(div, update));
      }
    });
    if (state.view === "compare") {
      const compare = document.getElementById("chart-compare");
      updates.push(Plotly.restyle(compare, { y: data.currencies.map(indexed) }));
    }
    Promise.all(updates).finally(() => {
      syncing = false;
      updateDownload();
    });
  }

  document.querySelectorAll('input[name="direction"]').forEach((input) => {
    input.addEventListener("change", () => {
      state.direction = input.value;
      render();
    });
  });
  document.querySelectorAll('input[name="view"]').forEach((input) => {
    input.addEventListener("change", () => {
      state.view = input.value;
      render();
    });
  });
  render();
})();
