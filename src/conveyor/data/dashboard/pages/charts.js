// Small inline SVG line charts for the deployment page (no chart library: nothing to fetch, and
// the few shapes needed — lines, a step line, a threshold — are a page of code). Each chart is
// an <svg role="img"> named by its <title> and described by its <desc>; the page puts the same
// facts in words next to it, and the series differ by dash pattern as well as colour.

const NS = {__svg: true};

// lineChart(h, {title, desc, x0, x1, yMax, yUnit, series: [{name, points: [[t, v]], cls, step}],
//               threshold: {value, label}, marks: [[t, v]]})
export function lineChart(h, opts) {
  const s = (tag, attrs, ...kids) => h(tag, {...NS, ...attrs}, ...kids);
  const W = 640, H = 200, L = 46, R = 10, T = 10, B = 26;
  const x0 = opts.x0, x1 = Math.max(opts.x1, opts.x0 + 1);
  const values = opts.series.flatMap((se) => se.points.map((p) => p[1])).filter((v) => v !== null && v !== undefined);
  if (opts.threshold) values.push(opts.threshold.value);
  let yMax = opts.yMax ?? Math.max(...values, 0);
  if (!(yMax > 0)) yMax = 1;
  if (opts.yMax === undefined) yMax = nice(yMax * 1.1);
  const X = (t) => L + ((t - x0) / (x1 - x0)) * (W - L - R);
  const Y = (v) => T + (1 - Math.min(v, yMax) / yMax) * (H - T - B);
  const id = `c${Math.random().toString(36).slice(2, 9)}`;

  const grid = [0, 0.5, 1].map((f) => {
    const v = yMax * f;
    return s("g", {class: "chart-grid"},
      s("line", {x1: L, x2: W - R, y1: Y(v), y2: Y(v)}),
      s("text", {x: L - 6, y: Y(v) + 4, "text-anchor": "end"}, `${label(v)}${opts.yUnit || ""}`));
  });
  const xTicks = [x0, (x0 + x1) / 2, x1].map((t, i) => s("text", {x: X(t), y: H - 8,
    "text-anchor": i === 0 ? "start" : i === 2 ? "end" : "middle", class: "chart-axis"}, `${Math.round(t - x0)} s`));

  const lines = opts.series.map((se) => {
    const pts = se.points.filter((p) => p[1] !== null && p[1] !== undefined && p[0] >= x0 - 1 && p[0] <= x1 + 1);
    if (!pts.length) return null;
    let d = "";
    pts.forEach((p, i) => {
      if (i === 0) d += `M${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`;
      else if (se.step) d += `H${X(p[0]).toFixed(1)}V${Y(p[1]).toFixed(1)}`;
      else d += `L${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`;
    });
    return s("path", {d, class: `chart-line ${se.cls || ""}`, fill: "none"},
      s("title", {}, se.name));
  });
  const threshold = opts.threshold ? s("g", {class: "chart-threshold"},
    s("line", {x1: L, x2: W - R, y1: Y(opts.threshold.value), y2: Y(opts.threshold.value)}),
    s("text", {x: W - R - 4, y: Y(opts.threshold.value) - 4, "text-anchor": "end"}, opts.threshold.label)) : null;
  const marks = (opts.marks || []).filter((p) => p[1] !== null && p[1] !== undefined).map((p) =>
    s("circle", {cx: X(p[0]), cy: Y(p[1]), r: 3.5, class: "chart-mark"}));

  return s("svg", {viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": `${id}-t ${id}-d`,
    class: "chart"},
  s("title", {id: `${id}-t`}, opts.title), s("desc", {id: `${id}-d`}, opts.desc || ""),
  grid, xTicks, threshold, lines, marks);
}

// The legend under a chart: each series' name next to a sample of its line (colour and dash).
export function legend(h, series) {
  return h("ul", {class: "chart-legend"}, series.map((se) => h("li", {},
    h("svg", {width: 28, height: 10, "aria-hidden": "true"},
      h("line", {__svg: true, x1: 1, x2: 27, y1: 5, y2: 5, class: `chart-line ${se.cls || ""}`})), " ", se.name)));
}

function nice(v) {
  const p = 10 ** Math.floor(Math.log10(v));
  const m = v / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

function label(v) {
  if (v === 0) return "0";
  if (Math.abs(v) >= 100) return String(Math.round(v));
  if (Math.abs(v) >= 1) return String(Math.round(v * 10) / 10);
  return String(Math.round(v * 1000) / 1000);
}
