// DORA metrics (GET /api/v1/dora; definitions in docs/dora.md): the four key metrics of production
// deployments over a window of 7, 30 or 90 days, for all of them, per pipeline and per service,
// each with a small trend line drawn from the daily series. Every chart is an inline SVG with an
// aria-label that reads its values, and the number it summarises is always written next to it.
// The page refetches when a deployment event arrives on the shared stream (no polling).

const WINDOWS = [7, 30, 90];
const METRICS = [
  {key: "frequency", name: "Deployment frequency", unit: "successful deployments a day",
    value: (m) => `${m.deploymentFrequency.perDay.toFixed(2)} / day`,
    detail: (m) => `${m.deploymentFrequency.perWeek.toFixed(1)} a week · ${m.deployments.succeeded} in all`,
    series: (d) => d.deployments, band: "deploymentFrequency"},
  {key: "lead", name: "Lead time for changes", unit: "median lead time of the day",
    value: (m, fmt) => fmt.duration(m.leadTime.medianSeconds),
    detail: (m, fmt) => `p90 ${fmt.duration(m.leadTime.p90Seconds)} · ${m.leadTime.count} measured`,
    series: (d) => d.leadTimeSeconds, band: "leadTime", seconds: true},
  {key: "cfr", name: "Change failure rate", unit: "share of the day's finished deployments that failed",
    value: (m) => (m.changeFailureRate.rate === null ? "—" : `${Math.round(m.changeFailureRate.rate * 100)}%`),
    detail: (m) => `${m.changeFailureRate.failures} of ${m.changeFailureRate.deployments} deployments`,
    series: (d) => (d.finished ? d.failures / d.finished : null), band: "changeFailureRate", percent: true},
  {key: "ttr", name: "Time to restore", unit: "median time to restore of the day",
    value: (m, fmt) => fmt.duration(m.timeToRestore.medianSeconds),
    detail: (m) => `${m.timeToRestore.restored} restored` +
      (m.timeToRestore.unrestored ? ` · ${m.timeToRestore.unrestored} not restored` : ""),
    series: (d) => d.restoreSeconds, band: "timeToRestore", seconds: true},
];

function said(v, metric, fmt) {
  if (v === null || v === undefined) return "none";
  if (metric.seconds) return fmt.duration(v);
  if (metric.percent) return `${Math.round(v * 100)}%`;
  return String(v);
}

// A sparkline of `values` (null: no value that day, a gap in the line), labelled for screen readers.
export function sparkline(h, values, label) {
  const w = 120, ht = 28, pad = 2;
  const known = values.filter((v) => v !== null && v !== undefined);
  const max = Math.max(1e-9, ...known);
  const x = (i) => pad + (values.length > 1 ? (i * (w - 2 * pad)) / (values.length - 1) : (w - 2 * pad) / 2);
  const y = (v) => ht - pad - (v / max) * (ht - 2 * pad);
  const runs = [];
  let run = [];
  values.forEach((v, i) => {
    if (v === null || v === undefined) { if (run.length) runs.push(run); run = []; return; }
    run.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`);
  });
  if (run.length) runs.push(run);
  return h("svg", {class: "spark", width: w, height: ht, viewBox: `0 0 ${w} ${ht}`, role: "img", "aria-label": label},
    h("line", {__svg: true, x1: pad, x2: w - pad, y1: ht - pad, y2: ht - pad, class: "spark-base"}),
    runs.map((r) => (r.length === 1
      ? h("circle", {__svg: true, cx: r[0].split(",")[0], cy: r[0].split(",")[1], r: 1.8, class: "spark-dot"})
      : h("polyline", {__svg: true, points: r.join(" "), class: "spark-line"}))));
}

function band(h, name) {
  return h("span", {class: `band band-${name || "none"}`}, name || "no data");
}

function trend(h, fmt, metric, daily, days) {
  const values = daily.map(metric.series);
  const label = `${metric.name}, ${metric.unit}, last ${days} days, oldest first: ` +
    values.map((v) => said(v, metric, fmt)).join(", ");
  return sparkline(h, values, label);
}

function cards(h, fmt, m, days) {
  return h("div", {class: "cards dora-cards"}, METRICS.map((metric) =>
    h("section", {class: "card dora-card", "aria-labelledby": `dora-${metric.key}`},
      h("h2", {id: `dora-${metric.key}`}, metric.name),
      h("p", {class: "dora-value"}, metric.value(m, fmt), " ", band(h, m.band[metric.band])),
      h("p", {class: "muted dora-detail"}, metric.detail(m, fmt)),
      trend(h, fmt, metric, m.daily, days))));
}

function table(h, fmt, caption, rows, days) {
  if (!rows.length) return null;
  return h("div", {class: "table-wrap"}, h("table", {class: "dora-table"},
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, h("th", {scope: "col"}, "Scope"),
      METRICS.map((metric) => h("th", {scope: "col"}, metric.name)), h("th", {scope: "col"}, "Band"))),
    h("tbody", {}, rows.map(({name, m}) => h("tr", {},
      h("th", {scope: "row"}, name),
      METRICS.map((metric) => h("td", {}, h("span", {class: "dora-cell"}, metric.value(m, fmt)),
        trend(h, fmt, metric, m.daily, days))),
      h("td", {}, band(h, m.band.overall)))))));
}

export default {
  path: /^\/dora\/?$/,
  title: "DORA metrics",
  async render(main, params, ctx) {
    const {h, api, fmt, subscribe} = ctx;
    const asked = Number(new URLSearchParams(location.search).get("days"));
    let days = WINDOWS.includes(asked) ? asked : 30;
    const select = h("select", {id: "dora-window"},
      WINDOWS.map((d) => h("option", {value: d, selected: d === days}, `Last ${d} days`)));
    const body = h("div", {"aria-live": "polite", "aria-busy": "true"});
    main.append(h("h1", {}, "DORA metrics"),
      h("p", {class: "muted"}, "Production deployments, as the daemon recorded them. Definitions, sources and the " +
        "DORA 2021 performance bands: docs/dora.md."),
      h("div", {class: "dora-controls"}, h("label", {for: "dora-window"}, "Window"), select),
      body);

    let seq = 0;
    async function load() {
      const mine = ++seq;
      body.setAttribute("aria-busy", "true");
      const r = await api.get(`/api/v1/dora?days=${days}`);
      if (mine !== seq) return;
      const s = r.summary;
      const none = !s.deployments.finished && !s.deployments.succeeded;
      body.replaceChildren(...[
        h("p", {class: "dora-overall"}, "Overall: ", band(h, s.band.overall),
          h("span", {class: "muted"}, ` (${s.band.source})`)),
        none ? h("p", {class: "hint"}, "No production deployment finished in this window. Production: environments " +
          "named production or prod, or marked production: true in conveyor.yml.") : null,
        cards(h, fmt, s, days),
        table(h, fmt, "Per pipeline", r.pipelines.map((g) => ({name: g.pipeline, m: g.metrics})), days),
        table(h, fmt, "Per service", r.services.map((g) => ({name: `${g.environment}/${g.service}`, m: g.metrics})),
          days)].filter(Boolean));
      body.setAttribute("aria-busy", "false");
    }
    select.addEventListener("change", () => {
      days = Number(select.value);
      history.replaceState(null, "", `/ui/dora?days=${days}`);
      load().catch((e) => ctx.toast(e.message, "error"));
    });
    let timer = null;
    const off = subscribe((ev) => ev.type.startsWith("deployment-") || ev.type.startsWith("service-"), () => {
      clearTimeout(timer);
      timer = setTimeout(() => load().catch(() => {}), 500);  // a burst of events: one refetch
    });
    await load();
    return () => { off(); clearTimeout(timer); };
  },
};
