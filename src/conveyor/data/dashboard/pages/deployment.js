// A deployment: its lifecycle phases with their timings, production's traffic split over time
// (the weight on green, and each target group's requests per second), the alarms' datapoints
// against their thresholds, the lifecycle hooks with their output, and the buttons that act on
// it (continue, promote, stop, roll back: the same routes as the CLI; the server records who).
//
// Live: every event of this deployment (or of its service's deployments) re-reads it. The
// metrics series are re-read when traffic shifts and, while it runs, on other events of the
// deployment at most once every METRICS_EVERY seconds — the event stream drives the page, there
// is no timer polling the API.
import {badge} from "./deploy_status.js";
import {legend, lineChart} from "./charts.js";
import {comparison, round, table} from "./service.js";

const METRICS_EVERY = 3;
const PROMOTABLE = ["Install", "AfterInstall", "AllowTestTraffic", "AfterAllowTestTraffic", "ReadyWait",
  "BeforeAllowTraffic", "AllowTraffic"];
const WAITS = ["ReadyWait", "TerminationWait"];
const SHIFTS = "deployment-traffic-shifted,deployment-rolled-back,deployment-started";

export default {
  path: /^\/deployments\/([^/]+)$/,
  title: (params) => `Deployment ${params[0]}`,
  async render(main, params, ctx) {
    const [id] = params;
    const {api, h, subscribe} = ctx;
    const state = {dep: null, status: null, alarms: [], metrics: null, shifts: [], metricsAt: 0, busy: false};

    // Subscribed before the first read, so what happens while the page loads is not missed: the
    // events that arrive meanwhile are handled once it has loaded.
    const early = [];
    let onEvent = (ev) => early.push(ev);
    const unsubscribe = subscribe((ev) => ev.subject && /^(deployment|service)-/.test(ev.type) && (state.dep
      ? ev.subject.environment === state.dep.environment && ev.subject.service === state.dep.service
      : ev.subject.deployment_id === id), (ev) => onEvent(ev));
    try {
      state.dep = await api.get(`/api/v1/deployments/${encodeURIComponent(id)}`);
    } catch (e) { unsubscribe(); throw e; }
    const svcPath = `/api/v1/services/${encodeURIComponent(state.dep.environment)}/${encodeURIComponent(state.dep.service)}`;

    const heading = h("h1", {});
    const facts = h("div", {});
    const actions = h("section", {"aria-labelledby": "dep-actions-h", class: "dep-actions"});
    const traffic = h("section", {"aria-labelledby": "dep-traffic-h"});
    const alarms = h("section", {"aria-labelledby": "dep-alarms-h"});
    const phases = h("section", {"aria-labelledby": "dep-phases-h"});
    const hooks = h("section", {"aria-labelledby": "dep-hooks-h"});
    const history = h("section", {"aria-labelledby": "dep-history-h"});
    main.append(heading, facts, actions, traffic, alarms, phases, hooks, history);

    // the reason field and the buttons are built once, so a re-render keeps what was typed
    const reason = h("input", {id: "dep-reason", type: "text", maxlength: 500, autocomplete: "off",
      placeholder: "why (recorded with your name)"});
    const buttons = {
      continue: h("button", {type: "button", class: "primary", onclick: () => act("continue")}, "Continue"),
      promote: h("button", {type: "button", onclick: () => act("promote")}, "Promote"),
      stop: h("button", {type: "button", class: "danger", onclick: () => act("stop")}, "Stop"),
      rollback: h("button", {type: "button", class: "danger", onclick: () => act("rollback")}, "Roll back"),
    };
    const actionNote = h("p", {class: "muted", id: "dep-actions-note"});
    actions.append(h("h2", {id: "dep-actions-h"}, "Actions"),
      h("div", {class: "dep-reason"}, h("label", {for: "dep-reason"}, "Reason"), reason),
      h("div", {class: "actions", role: "group", "aria-label": "Act on this deployment"}, Object.values(buttons)),
      actionNote);

    async function act(kind) {
      const body = {reason: reason.value.trim()};
      const path = {continue: `${svcPath}/deployment/continue`, promote: `${svcPath}/deployment/promote`,
        stop: `${svcPath}/deployment/stop`, rollback: `${svcPath}/rollback`}[kind];
      Object.values(buttons).forEach((b) => { b.disabled = true; });
      try {
        await api.post(path, body);
        ctx.toast({continue: "Continued", promote: "Promoted: all traffic shifts now", stop: "Stopped",
          rollback: "Rolled back"}[kind]);
        reason.value = "";
      } catch (e) {
        ctx.toast(`${kind} failed: ${e.message}${e.hint ? ` (${e.hint})` : ""}`, "error");
      }
      await refresh(true);
    }

    async function loadAround() {
      const [status, alarmList] = await Promise.all([
        api.get(`${svcPath}/deployment`).catch(() => null), api.get(`${svcPath}/alarms`).catch(() => [])]);
      state.status = status;
      state.alarms = alarmList || [];
    }

    async function loadShifts() {
      const q = `tail=1000&type=${SHIFTS}&environment=${encodeURIComponent(state.dep.environment)}`
        + `&service=${encodeURIComponent(state.dep.service)}`;
      try {
        const page = await api.get(`/api/v1/events?${q}`);
        const known = (page.events || []).filter((ev) => ev.subject && ev.subject.deployment_id === id)
          .map(shiftPoint).filter(Boolean);
        state.shifts = [...known, ...state.shifts.filter((p) => !known.some((q) => q[0] === p[0]))];
      } catch (_) { state.shifts = []; }
    }

    async function loadMetrics() {
      const d = state.dep;
      if (d.kind !== "codedeploy") return;
      const created = d.created_at || Date.now() / 1000;
      const seconds = Math.min(86400, Math.max(60, Math.ceil(Date.now() / 1000 - created) + 15));
      state.metricsAt = Date.now() / 1000;
      try { state.metrics = await api.get(`${svcPath}/metrics?seconds=${seconds}`); } catch (_) { state.metrics = null; }
    }

    function draw() {
      const d = state.dep;
      const current = state.status && state.status.deployment && state.status.deployment.id === d.id;
      heading.replaceChildren(`Deployment ${d.id} `, badge(h, d.kind === "codedeploy" ? d.status : d.outcome));
      facts.replaceChildren(summary(ctx, d));
      drawActions(d, current);
      if (d.kind === "codedeploy") {
        traffic.replaceChildren(...trafficView(ctx, d, state.shifts, state.metrics));
        alarms.replaceChildren(...alarmView(ctx, d, state.alarms, state.metrics));
        phases.replaceChildren(...phaseView(ctx, d));
        hooks.replaceChildren(...hookView(ctx, d));
      } else {
        traffic.replaceChildren();
        alarms.replaceChildren();
        phases.replaceChildren(...rollingView(ctx, d));
        hooks.replaceChildren();
      }
      history.replaceChildren(...historyView(ctx, d));
    }

    function drawActions(d, current) {
      const bg = d.kind === "codedeploy";
      const show = {
        continue: bg && current && !d.done && WAITS.includes(d.phase),
        promote: bg && current && !d.done && PROMOTABLE.includes(d.phase),
        stop: bg && current && !d.done,
        rollback: current && (!d.done || d.outcome === "Succeeded"),
      };
      for (const [k, b] of Object.entries(buttons)) { b.hidden = !show[k]; b.disabled = false; }
      const any = Object.values(show).some(Boolean);
      actions.hidden = !any;
      actionNote.textContent = !any ? "" : show.continue ? `Waiting: ${d.waiting || d.phase}. Continue ends the wait.`
        : d.done ? "Roll back puts production back on the previous revision."
          : "Stop rolls production back to the original task set; Roll back does so at once.";
    }

    draw();
    try {
      await Promise.all([loadAround(), loadShifts(), loadMetrics()]);
    } catch (e) { unsubscribe(); throw e; }
    draw();

    // Re-reads: one at a time; what arrives meanwhile makes one more pass after it.
    let again = false, metricsDue = false;
    async function refresh(withMetrics) {
      metricsDue = metricsDue || withMetrics;
      if (state.busy) { again = true; return; }
      state.busy = true;
      try {
        const fetchMetrics = metricsDue;
        metricsDue = false;
        const [dep] = await Promise.all([api.get(`/api/v1/deployments/${encodeURIComponent(id)}`), loadAround(),
          fetchMetrics ? loadMetrics() : null]);
        state.dep = dep;
        draw();
      } catch (e) {
        ctx.toast(`Could not refresh the deployment: ${e.message}`, "error");
      } finally {
        state.busy = false;
        if (again) { again = false; refresh(false); }
      }
    }

    onEvent = (ev) => {
      const mine = ev.subject.deployment_id === id;
      if (mine) {
        const p = shiftPoint(ev);
        if (p && !state.shifts.some((q) => q[0] === p[0])) state.shifts.push(p);
      }
      const stale = Date.now() / 1000 - state.metricsAt >= METRICS_EVERY;
      const running = !state.dep.done;
      refresh(mine && (ev.type === "deployment-traffic-shifted" || ev.type === "deployment-rolled-back"
        || (running && stale)));
    };
    early.forEach(onEvent);
    return unsubscribe;
  },
};

// An event that moved production traffic: [at, percent on green].
function shiftPoint(ev) {
  if (ev.type === "deployment-traffic-shifted") return [ev.at, Number(ev.detail.percent)];
  if (ev.type === "deployment-rolled-back") return [ev.at, 0];
  if (ev.type === "deployment-started") return [ev.at, 0];
  return null;
}

function summary(ctx, d) {
  const {h, link, fmt} = ctx;
  const svc = `/services/${encodeURIComponent(d.environment)}/${encodeURIComponent(d.service)}`;
  const by = d.origin && (d.origin.by || d.origin.pipeline) ? `${d.origin.by || ""}${d.origin.via ? ` via ${d.origin.via}` : ""}`
    : d.creator || "";
  const fact = (t, v) => (v === null || v === undefined || v === "" ? null : h("div", {}, h("dt", {}, t), h("dd", {}, v)));
  const error = d.kind === "codedeploy" ? (d.error_code ? `${d.error_code}: ${d.error_message || ""}` : "") : d.reason;
  return h("dl", {class: "facts"},
    fact("Service", link(svc, `${d.service} in ${d.environment}`)),
    fact("Revision", h("span", {class: "mono"}, d.taskDefinition || d.taskdef)),
    fact("Kind", d.kind === "codedeploy" ? "blue/green" : "rolling"),
    d.kind === "codedeploy" ? fact("Phase", d.phase) : fact("Rollout", d.rolloutState),
    d.kind === "codedeploy" ? fact("Production traffic on green", `${d.traffic}%`) : null,
    fact("Waiting for", d.done ? "" : d.waitingFor),
    fact("Created", fmt.time(d.created_at ?? d.createdAt)),
    fact("Duration", d.done ? fmt.duration(d.duration) : `running for ${fmt.duration(Date.now() / 1000 - (d.created_at ?? d.createdAt))}`),
    fact("Created by", by),
    fact("Error", error),
    d.rollbackInfo && d.rollbackInfo.rollbackDeploymentId ? fact("Rolled back by",
      link(`/deployments/${encodeURIComponent(d.rollbackInfo.rollbackDeploymentId)}`, d.rollbackInfo.rollbackDeploymentId),
    ) : null,
    d.origin && d.origin.rollbackOf ? fact("Rolls back", link(`/deployments/${encodeURIComponent(d.origin.rollbackOf)}`,
      d.origin.rollbackOf)) : null,
    d.origin && d.origin.execution ? fact("Pipeline execution", link(`/executions/${encodeURIComponent(d.origin.execution)}`,
      d.origin.execution)) : null);
}

function trafficView(ctx, d, shifts, metrics) {
  const {h, fmt} = ctx;
  const out = [h("h2", {id: "dep-traffic-h"}, "Traffic")];
  const now = Date.now() / 1000;
  const x0 = d.created_at;
  const x1 = d.completed_at || now;
  const blue = d.original_tg || "blue", green = d.replacement_tg || "green";
  const greenRev = (d.taskSets && d.taskSets.replacement && d.taskSets.replacement.taskDefinition) || d.taskDefinition;
  const blueRev = d.taskSets && d.taskSets.original && d.taskSets.original.taskDefinition;
  out.push(h("p", {id: "traffic-now", class: "traffic-now", "aria-live": "polite"},
    `Production traffic now: ${d.traffic}% on green (${green}, ${greenRev}), ${100 - d.traffic}% on blue (${blue}`
    + (blueRev ? `, ${blueRev}` : "") + ")."));

  // the weight on green over time: a step line from the recorded shifts
  const pts = [[x0, 0], ...shifts.filter((p) => p[0] >= x0 - 1).sort((a, b) => a[0] - b[0])];
  pts.push([x1, d.done ? pts[pts.length - 1][1] : d.traffic]);
  const weight = [{name: `weight on green (${green})`, points: pts, cls: "green", step: true}];
  const shiftsText = shifts.filter((p) => p[0] > x0 + 0.5 || p[1] > 0).map((p) => `${p[1]}% at ${Math.round(p[0] - x0)} s`).join(", ");
  out.push(h("h3", {}, "Weight on green"));
  out.push(lineChart(h, {title: "Production weight on the green target group over time", x0, x1, yMax: 100, yUnit: "%",
    series: weight, desc: shiftsText ? `Shifts since the start: ${shiftsText}.` : "No traffic shift yet."}));
  out.push(h("p", {class: "muted"}, shiftsText ? `Shifts: ${shiftsText}.` : "No traffic shift yet."));

  // each target group's requests per second (what the load balancer counted)
  const scopes = (metrics && metrics.scopes) || {};
  const rc = (tg) => ((scopes[`tg:${tg}`] || {}).RequestCount || []).filter((p) => p[0] >= x0 - 1 && p[0] <= x1 + 1);
  const series = [
    {name: `blue ${blue} requests/s`, points: rc(blue), cls: "blue"},
    {name: `green ${green} requests/s`, points: rc(green), cls: "green"},
  ];
  out.push(h("h3", {}, "Requests per target group"));
  if (!metrics) {
    out.push(h("p", {class: "muted"}, "No metrics for this service."));
    return out;
  }
  const recent = (pts2) => {
    const last = pts2.filter((p) => p[0] >= x1 - 10);
    return last.length ? last.reduce((a, p) => a + p[1], 0) / last.length : 0;
  };
  const text = `Last 10 s: blue ${round(recent(series[0].points))} requests/s, green ${round(recent(series[1].points))}`
    + " requests/s.";
  out.push(lineChart(h, {title: "Requests per second on each target group", desc: text, x0, x1, yUnit: "", series}));
  out.push(legend(h, series));
  out.push(h("p", {class: "muted"}, text, ` (as of ${fmt.time(metrics ? now : null)})`));
  return out;
}

function alarmView(ctx, d, alarms, metrics) {
  const {h, fmt} = ctx;
  const out = [h("h2", {id: "dep-alarms-h"}, "Alarms")];
  if (!alarms.length) {
    out.push(h("p", {class: "muted"}, "No alarms watch this service."));
    return out;
  }
  const now = Date.now() / 1000;
  const x0 = d.created_at, x1 = d.completed_at || now;
  for (const a of alarms) {
    const scopes = (metrics && metrics.scopes) || {};
    const series = (((a.watching && scopes[a.watching]) || {})[a.metric] || []).filter((p) => p[0] >= x0 - 1 && p[0] <= x1 + 1);
    const op = comparison(a.comparisonOperator);
    const breaching = series.filter((p) => breaches(a.comparisonOperator, p[1], a.threshold)).length;
    const last = [...(a.datapoints || [])].reverse().find((p) => p[1] !== null && p[1] !== undefined);
    const text = `${a.name} is ${a.state}: ${a.statistic} of ${a.metric} on ${a.watching || a.scope}, `
      + `alarm when ${op} ${a.threshold} for ${a.datapointsToAlarm} of ${a.evaluationPeriods} periods of ${a.period} s. `
      + `Last datapoint ${last ? round(last[1]) : "none"}; ${breaching} of ${series.length} points in this deployment `
      + `${op} the threshold.`;
    out.push(h("h3", {}, a.name, " ", badge(h, a.state)));
    out.push(lineChart(h, {title: `${a.metric} against the ${a.name} threshold`, desc: text, x0, x1,
      series: [{name: `${a.statistic} ${a.metric}`, points: series, cls: "metric"}],
      marks: (a.datapoints || []).filter((p) => p[0] >= x0 - 1),
      threshold: {value: a.threshold, label: `threshold ${op} ${a.threshold}`}}));
    out.push(legend(h, [{name: `${a.statistic} ${a.metric}`, cls: "metric"}, {name: "threshold", cls: "threshold"}]));
    out.push(h("p", {class: "muted"}, text));
    if (a.reason) out.push(h("p", {class: "muted"}, a.reason));
    const hist = (a.history || []).slice(0, 5);
    if (hist.length) out.push(h("ul", {class: "alarm-history"}, hist.map((x) => h("li", {}, fmt.time(x.at), " ",
      badge(h, x.state), " ", x.reason))));
  }
  return out;
}

function breaches(op, v, t) {
  if (v === null || v === undefined) return false;
  return {GreaterThanThreshold: v > t, GreaterThanOrEqualToThreshold: v >= t, LessThanThreshold: v < t,
    LessThanOrEqualToThreshold: v <= t}[op] || false;
}

function phaseView(ctx, d) {
  const {h, fmt} = ctx;
  const rows = (d.lifecycleEvents || []).map((e) => [e.lifecycleEventName, badge(h, e.status),
    fmt.time(e.startTime), fmt.time(e.endTime),
    e.startTime ? fmt.duration((e.endTime || Date.now() / 1000) - e.startTime) + (e.endTime ? "" : " so far") : "—",
    e.hook || "—"]);
  const out = [h("h2", {id: "dep-phases-h"}, "Lifecycle"),
    table(h, "dep-phases-h", ["Lifecycle event", "Status", "Started", "Ended", "Took", "Hook"], rows, "No lifecycle events yet.")];
  const named = Object.entries(d.timings || {}).filter(([k]) => !(d.lifecycleEvents || []).some((e) => e.lifecycleEventName === k));
  if (named.length) {
    out.push(h("h3", {id: "dep-timings-h"}, "Timings"));
    out.push(table(h, "dep-timings-h", ["Measure", "Seconds"], named.map(([k, v]) => [k, fmt.duration(v)])));
  }
  return out;
}

function hookView(ctx, d) {
  const {h} = ctx;
  const withHooks = (d.lifecycleEvents || []).filter((e) => e.hook);
  const out = [h("h2", {id: "dep-hooks-h"}, "Hooks")];
  if (!withHooks.length) {
    out.push(h("p", {class: "muted"}, "No lifecycle hooks in this deployment's AppSpec."));
    return out;
  }
  for (const e of withHooks) {
    out.push(h("div", {class: "card hook"},
      h("h3", {}, `${e.lifecycleEventName}: ${e.hook} `, badge(h, e.status)),
      h("p", {class: "muted"}, `${e.attempts} attempt${e.attempts === 1 ? "" : "s"}`, e.message ? ` · ${e.message}` : ""),
      e.logTail ? h("pre", {class: "log", tabindex: "0", "aria-label": `Output of ${e.hook}`}, e.logTail)
        : h("p", {class: "muted"}, "No output.")));
  }
  return out;
}

function rollingView(ctx, d) {
  const {h, fmt} = ctx;
  return [h("h2", {id: "dep-phases-h"}, "Rollout"),
    h("p", {}, `${d.runningCount} running, ${d.pendingCount} pending, ${d.failedTasks} failed tasks.`),
    table(h, "dep-phases-h", ["Measure", "Seconds after the start"],
      Object.entries(d.timings || {}).map(([k, v]) => [k, fmt.duration(v)]), "No timings yet.")];
}

function historyView(ctx, d) {
  const {h, fmt} = ctx;
  const items = d.history || [];
  if (!items.length) return [];
  return [h("h2", {id: "dep-history-h"}, "History"),
    h("ol", {class: "dep-history"}, items.map((x) => h("li", {class: x.kind === "action" ? "action" : ""},
      h("time", {datetime: new Date(x.at * 1000).toISOString()}, fmt.time(x.at)), " ",
      x.kind === "action" ? h("strong", {}, "Action: ") : null, x.message)))];
}
