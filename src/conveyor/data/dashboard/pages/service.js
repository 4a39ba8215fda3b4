// One service: its tasks with their health, its target groups and their targets (weight, state),
// the current deployment (a link to the deployment page), its alarms and its recent deployments.
// Live: any event about this service re-reads the three answers (coalesced: one read at a time).
import {badge, externalLink} from "./deploy_status.js";

export default {
  path: /^\/services\/([^/]+)\/([^/]+)$/,
  title: (params) => `${params[1]} · ${params[0]}`,
  async render(main, params, ctx) {
    const [env, name] = params;
    const {api, h, subscribe} = ctx;
    const base = `/api/v1/services/${encodeURIComponent(env)}/${encodeURIComponent(name)}`;
    const body = h("div", {class: "service-page"});
    main.append(h("h1", {}, name, " ", h("span", {class: "muted"}, `in ${env}`)), body);

    async function load() {
      const [svc, status, alarms] = await Promise.all([
        api.get(base), api.get(`${base}/deployment`).catch(() => null), api.get(`${base}/alarms`).catch(() => [])]);
      body.replaceChildren(...view(ctx, svc, status, alarms));
    }

    // Subscribed before the first read, so nothing that happens while it runs is missed: an event
    // meanwhile makes one more read after it (as does one during any later read).
    let busy = true, again = false;
    async function refresh() {
      if (busy) { again = true; return; }
      busy = true;
      try { await load(); } catch (e) { ctx.toast(`Could not refresh ${name}: ${e.message}`, "error"); }
      finally { busy = false; if (again) { again = false; refresh(); } }
    }
    const unsubscribe = subscribe((ev) => ev.subject && ev.subject.environment === env && ev.subject.service === name,
      refresh);
    try { await load(); } catch (e) { unsubscribe(); throw e; } finally { busy = false; }
    if (again) { again = false; refresh(); }
    return unsubscribe;
  },
};

function view(ctx, svc, status, alarms) {
  const {h, link, fmt} = ctx;
  const blueGreen = svc.deploymentController === "CODE_DEPLOY";
  const dep = status && status.deployment;
  const out = [];

  out.push(h("dl", {class: "facts"},
    fact(h, "Revision", h("span", {class: "mono"}, svc.taskDefinition)),
    fact(h, "Tasks", `${svc.runningCount} running, ${svc.healthyCount} healthy, ${svc.desiredCount} desired`
      + (svc.pendingCount ? `, ${svc.pendingCount} pending` : "")),
    fact(h, "Controller", blueGreen ? "blue/green (CodeDeploy)" : "rolling (ECS)"),
    fact(h, "Production", externalLink(h, svc.url)),
    status && status.testUrl ? fact(h, "Test listener", externalLink(h, status.testUrl)) : null,
    fact(h, "Backend", svc.target || "local")));

  // -- the current deployment
  out.push(h("h2", {}, "Current deployment"));
  if (dep) {
    out.push(h("p", {class: "current-deployment"},
      link(`/deployments/${encodeURIComponent(dep.id)}`, dep.id), " ", badge(h, dep.status), " ",
      h("span", {class: "mono"}, dep.taskDefinition || dep.taskdef || ""),
      dep.kind === "codedeploy" && !dep.done ? ` · ${dep.traffic}% of production on the new revision` : "",
      status.waitingFor ? h("span", {class: "muted"}, ` · ${status.waitingFor}`) : null));
  } else {
    out.push(h("p", {class: "muted"}, "No deployment yet."));
  }

  // -- tasks
  const byDeployment = new Map((svc.deployments || []).map((d) => [d.id, d]));
  out.push(h("h2", {id: "tasks-h"}, "Tasks"));
  out.push(table(h, "tasks-h", ["Task", "Revision", "Status", "Health", "Target group", "Port", "Started"],
    (svc.tasks || []).map((t) => {
      const d = byDeployment.get(t.deployment_id);
      return [h("span", {class: "mono"}, t.id), h("span", {class: "mono"}, t.taskdef), badge(h, t.last_status),
        badge(h, taskHealth(t)), d && d.targetGroup ? d.targetGroup : "—", t.host_port ?? "—",
        fmt.ago(t.running_at || t.created_at)];
    }), "No tasks."));

  // -- target groups and their targets
  out.push(h("h2", {id: "targets-h"}, "Target groups"));
  const lb = svc.loadBalancer;
  if (lb) {
    const taskGroup = new Map((svc.tasks || []).map((t) => [t.id, (byDeployment.get(t.deployment_id) || {}).targetGroup]));
    const groups = new Map();
    for (const t of lb.targets || []) {
      const g = taskGroup.get(t.target_id) || lb.targetGroup;
      if (!groups.has(g)) groups.set(g, []);
      groups.get(g).push(t);
    }
    const roles = targetGroupRoles(dep);
    if (groups.size === 0) out.push(h("p", {class: "muted"}, `${lb.targetGroup}: no targets registered.`));
    for (const [g, targets] of [...groups].sort()) {
      const id = `tg-${g.replace(/[^A-Za-z0-9_-]/g, "_")}`;
      out.push(h("h3", {id}, g, roles.get(g) ? h("span", {class: "muted"}, ` (${roles.get(g)})`) : null));
      out.push(table(h, id, ["Target", "Address", "State", "Weight", "In flight", "Reason"],
        targets.map((t) => [h("span", {class: "mono"}, t.target_id), h("span", {class: "mono"}, t.address),
          badge(h, t.state), String(t.weight), String(t.in_flight),
          t.reason ? `${t.reason}${t.description ? `: ${t.description}` : ""}` : "—"])));
    }
  } else {
    out.push(h("p", {class: "muted"}, "No load balancer: the service takes no traffic through Conveyor."));
  }

  // -- alarms
  out.push(h("h2", {id: "alarms-h"}, "Alarms"));
  out.push(table(h, "alarms-h", ["Alarm", "State", "Watches", "Condition", "Last datapoint", "Reason"],
    (alarms || []).map((a) => {
      const last = [...(a.datapoints || [])].reverse().find((p) => p[1] !== null && p[1] !== undefined);
      return [a.name, badge(h, a.state), `${a.metric} of ${a.watching || a.scope}`,
        `${a.statistic} ${comparison(a.comparisonOperator)} ${a.threshold} (${a.datapointsToAlarm} of ${a.evaluationPeriods} × ${a.period} s)`,
        last ? `${round(last[1])} at ${fmt.time(last[0])}` : "—", h("span", {class: "muted"}, a.reason || "")];
    }), "No alarms declared for this service."));

  // -- recent deployments
  out.push(h("h2", {id: "recent-h"}, "Recent deployments"));
  const recent = status && status.recent && status.recent.length ? status.recent
    : (svc.deployments || []).map((d) => ({id: d.id, status: d.outcome, taskdef: d.taskDefinition,
      creator: (d.origin && (d.origin.by || d.origin.codedeploy)) || "", createdAt: d.createdAt, errorCode: d.reason}));
  out.push(table(h, "recent-h", ["Deployment", "Status", "Revision", "Created by", "Created", "Error"],
    recent.map((d) => [link(`/deployments/${encodeURIComponent(d.id)}`, d.id), badge(h, d.status),
      h("span", {class: "mono"}, d.taskdef || "—"), d.creator || "—", fmt.time(d.createdAt), d.errorCode || "—"]),
    "No deployments yet."));

  // -- the service's own event messages (ECS's service events)
  if ((svc.events || []).length) {
    out.push(h("h2", {}, "Service events"));
    out.push(h("ul", {class: "service-events"}, svc.events.slice(0, 20).map((e) =>
      h("li", {}, h("time", {datetime: new Date(e.at * 1000).toISOString()}, fmt.time(e.at)), " ", e.message))));
  }
  return out;
}

function fact(h, term, value) {
  return h("div", {}, h("dt", {}, term), h("dd", {}, value));
}

// A real table: a header row of <th scope="col">, the first cell of each row a <th scope="row">.
export function table(h, labelledBy, headers, rows, empty = "None.") {
  if (!rows.length) return h("p", {class: "muted"}, empty);
  return h("div", {class: "table-wrap"}, h("table", {"aria-labelledby": labelledBy},
    h("thead", {}, h("tr", {}, headers.map((c) => h("th", {scope: "col"}, c)))),
    h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((c, i) => i === 0 ? h("th", {scope: "row"}, c)
      : h("td", {}, c)))))));
}

function taskHealth(t) {
  if (t.health && t.health !== "UNKNOWN") return t.health;
  if (t.stopped_at || t.stopping_at) return "—";
  return t.healthy_at ? "HEALTHY" : "UNKNOWN";
}

function targetGroupRoles(dep) {
  const roles = new Map();
  if (dep && dep.kind === "codedeploy") {
    const live = !dep.done;
    if (dep.original_tg) roles.set(dep.original_tg, `blue: original${live ? `, ${100 - dep.traffic}% of production` : ""}`);
    if (dep.replacement_tg) roles.set(dep.replacement_tg, `green: replacement${live ? `, ${dep.traffic}% of production` : ""}`);
  }
  return roles;
}

export function comparison(op) {
  return {GreaterThanThreshold: ">", GreaterThanOrEqualToThreshold: "≥", LessThanThreshold: "<",
    LessThanOrEqualToThreshold: "≤"}[op] || op;
}

export function round(v) {
  if (v === null || v === undefined) return "—";
  return Math.abs(v) >= 100 ? String(Math.round(v)) : String(Math.round(v * 1000) / 1000);
}
