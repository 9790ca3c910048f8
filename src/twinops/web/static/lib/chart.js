// Time-series charts on uPlot (installed from npm into vendor/ by scripts/setup.sh).

import uPlot from "../vendor/uPlot.esm.js";
import { el } from "./dom.js";

export const COLORS = ["#1d4ed8", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#be185d"];

function fade(hex, alpha) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

// series: [{label, color, dash, width, points, band: true (a fill-only bound)}]
// bands: [[upperIndex, lowerIndex, color]] (indexes into `series`, counting from 1)
// xRange: [min, max] in epoch seconds to show whatever the data covers (a history window).
export function timeChart(container, { title, series, data, height = 260, bands = [], onZoom, yLabel, xRange }) {
  const box = el("figure", { class: "chart" });
  if (title) box.append(el("figcaption", {}, title));
  const holder = el("div", { class: "chart-plot", role: "img", "aria-label": title || "chart" });
  box.append(holder);
  container.append(box);
  const width = () => Math.max(240, Math.floor(holder.clientWidth || container.clientWidth || 600));
  let zooming = false;
  const options = {
    width: width(),
    height,
    cursor: { drag: { x: true, y: false, setScale: !onZoom } },
    legend: { live: true },
    scales: { x: xRange ? { time: true, range: () => xRange } : { time: true } },
    axes: [{}, { label: yLabel, size: 60 }],
    series: [
      {},
      ...series.map((s, index) => {
        const color = s.color || COLORS[index % COLORS.length];
        return {
          label: s.label,
          stroke: s.band ? fade(color, 0.35) : color,
          width: s.band ? 1 : s.width || 2,
          dash: s.dash,
          points: s.points ? { show: true, size: 6, fill: color } : { show: false },
          spanGaps: true,
          value: (u, v) => (v === null || v === undefined ? "—" : Number(v.toPrecision(5)).toString()),
        };
      }),
    ],
    bands: bands.map(([upper, lower, color]) => ({ series: [upper, lower], fill: fade(color, 0.18) })),
    hooks: {
      setSelect: [
        (u) => {
          if (!onZoom || u.select.width < 5) return;
          const min = u.posToVal(u.select.left, "x");
          const max = u.posToVal(u.select.left + u.select.width, "x");
          zooming = true;
          onZoom(min, max);
        },
      ],
    },
  };
  const plot = new uPlot(options, data, holder);
  const observer = new ResizeObserver(() => {
    const w = width();
    if (Math.abs(w - plot.width) > 2) plot.setSize({ width: w, height });
  });
  observer.observe(holder);
  return {
    plot,
    element: box,
    setData(next, resetScales = true) {
      plot.setData(next, resetScales);
      if (zooming) {
        plot.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
        zooming = false;
      }
    },
    destroy() {
      observer.disconnect();
      plot.destroy();
      box.remove();
    },
  };
}

export const toSeconds = (time) => Date.parse(time) / 1000;

// Align several [{t, v}] lists on the union of their times, for one uPlot data array.
export function align(lists) {
  const times = [...new Set(lists.flatMap((list) => list.map((p) => p.t)))].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const columns = lists.map((list) => {
    const column = new Array(times.length).fill(null);
    for (const p of list) column[index.get(p.t)] = p.v;
    return column;
  });
  return [times, ...columns];
}
