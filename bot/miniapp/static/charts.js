// Charts drawn in the page as SVG from the numbers the API returns: the same numbers the chat's
// PNG charts are drawn from (bot/charts/). No library: three simple shapes.

import { s } from "./dom.js";
import { number } from "./i18n.js";

// Ten colours that stay apart on light and dark backgrounds (matplotlib's tab10, as the PNGs).
export const PALETTE = [
  "#1f77b4",
  "#ff7f0e",
  "#2ca02c",
  "#d62728",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#7f7f7f",
  "#bcbd22",
  "#17becf",
];

/** Lines on a fixed 0..100 % scale: one per manager (the quality trend).
 * series: [{name, points: [{label, value: "25.0" | null}]}] */
export function lineChart(series, { title }) {
  const labels = [];
  for (const line of series) {
    for (const point of line.points) {
      if (!labels.includes(point.label)) labels.push(point.label);
    }
  }
  const width = 340;
  const height = 200;
  const left = 34;
  const right = 14;
  const top = 10;
  const bottom = 26;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const x = (i) => left + (labels.length > 1 ? (i * plotW) / (labels.length - 1) : plotW / 2);
  const y = (v) => top + plotH - (v / 100) * plotH;
  const parts = [];
  for (const tick of [0, 20, 40, 60, 80, 100]) {
    parts.push(s("line", { class: "axis", x1: left, x2: width - right, y1: y(tick), y2: y(tick) }));
    parts.push(s("text", { x: left - 4, y: y(tick) + 4, "text-anchor": "end" }, `${tick}`));
  }
  labels.forEach((text, i) => {
    // The first and last labels lean inwards: centred on the frame's edge they would be cut.
    const anchor =
      labels.length > 1 && i === 0
        ? "start"
        : labels.length > 1 && i === labels.length - 1
          ? "end"
          : "middle";
    const dx = anchor === "start" ? -6 : anchor === "end" ? 6 : 0;
    parts.push(s("text", { x: x(i) + dx, y: height - 8, "text-anchor": anchor }, text));
  });
  series.forEach((line, index) => {
    const colour = PALETTE[index % PALETTE.length];
    const points = line.points
      .map((p) => [labels.indexOf(p.label), p.value === null ? null : Number(p.value)])
      .filter(([, v]) => v !== null);
    if (points.length > 1) {
      parts.push(
        s("polyline", {
          fill: "none",
          stroke: colour,
          "stroke-width": 2.5,
          points: points.map(([i, v]) => `${x(i)},${y(v)}`).join(" "),
        }),
      );
    }
    for (const [i, v] of points) {
      parts.push(
        s(
          "circle",
          { cx: x(i), cy: y(v), r: 4, fill: colour },
          s("title", {}, `${line.name}: ${number(v)} %`),
        ),
      );
    }
  });
  return svg(width, height, title, parts);
}

/** Grouped bars per category (weeks): kinds side by side. values: {kind: [n, …]}. */
export function barChart(categories, values, kinds, { title, colourOf }) {
  const width = 340;
  const height = 190;
  const left = 30;
  const right = 8;
  const top = 10;
  const bottom = 26;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const max = Math.max(1, ...kinds.flatMap((k) => values[k] || []));
  const step = niceStep(max);
  const ceiling = Math.ceil(max / step) * step;
  const y = (v) => top + plotH - (v / ceiling) * plotH;
  const group = plotW / Math.max(1, categories.length);
  const bar = Math.max(2, (group - 6) / kinds.length);
  const parts = [];
  for (let tick = 0; tick <= ceiling; tick += step) {
    parts.push(s("line", { class: "axis", x1: left, x2: width - right, y1: y(tick), y2: y(tick) }));
    parts.push(s("text", { x: left - 4, y: y(tick) + 4, "text-anchor": "end" }, number(tick)));
  }
  categories.forEach((text, i) => {
    const gx = left + i * group + 3;
    kinds.forEach((kind, k) => {
      const v = (values[kind] || [])[i] || 0;
      parts.push(
        s(
          "rect",
          {
            x: gx + k * bar,
            y: y(v),
            width: bar - 1,
            height: Math.max(0, y(0) - y(v)),
            fill: colourOf(kind),
          },
          s("title", {}, `${text}: ${number(v)}`),
        ),
      );
    });
    if (categories.length <= 8 || i % Math.ceil(categories.length / 8) === 0) {
      parts.push(
        s("text", { x: gx + (group - 6) / 2, y: height - 8, "text-anchor": "middle" }, text),
      );
    }
  });
  return svg(width, height, title, parts);
}

/** One horizontal bar per row (base health): rows [{label, value}]. */
export function hbarChart(rows, { title, colour }) {
  const width = 340;
  const rowH = 26;
  const left = 120;
  const right = 40;
  const height = rows.length * rowH + 8;
  const max = Math.max(1, ...rows.map((r) => r.value));
  const parts = [];
  rows.forEach((row, i) => {
    const y = 4 + i * rowH;
    const w = ((width - left - right) * row.value) / max;
    parts.push(s("text", { x: left - 6, y: y + 16, "text-anchor": "end" }, row.label));
    parts.push(
      s("rect", {
        x: left,
        y: y + 4,
        width: Math.max(0, w),
        height: rowH - 8,
        rx: 3,
        fill: colour,
      }),
    );
    parts.push(s("text", { x: left + w + 4, y: y + 16 }, number(row.value)));
  });
  return svg(width, height, title, parts);
}

function niceStep(max) {
  const rough = max / 4;
  const power = 10 ** Math.floor(Math.log10(rough));
  for (const m of [1, 2, 5, 10]) {
    if (m * power >= rough) return Math.max(1, m * power);
  }
  return Math.max(1, 10 * power);
}

function svg(width, height, title, parts) {
  return s(
    "svg",
    {
      viewBox: `0 0 ${width} ${height}`,
      role: "img",
      "aria-label": title,
      preserveAspectRatio: "xMidYMid meet",
    },
    s("title", {}, title),
    parts,
  );
}
