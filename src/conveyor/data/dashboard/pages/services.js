// Services: every service of every environment, one table per environment, with its tasks
// (desired / running / healthy), its health in words, its latest deployment and revision.
// Live: a service-* or deployment-* event re-reads only that service's row (one GET), so a
// screen of many services costs one request per change, not a reload of the list.
import {badge, deploymentState, externalLink, latestDeployments} from "./deploy_status.js";

const EVENT = (ev) => typeof ev.type === "string" && /^(service|deployment)-/.test(ev.type);

export default {
  path: /^\/services\/?$/,
  title: "Services",
  async render(main, params, ctx) {
    const {api, h, subscribe} = ctx;
    // Subscribed before the first read: the services an event names while it runs are re-read after it.
    const early = new Map();
    let onEvent = (ev) => early.set(`${ev.subject.environment}/${ev.subject.service}`, ev);
    const unsubscribe = subscribe(EVENT, (ev) => {
      if (ev.subject && ev.subject.environment && ev.subject.service) onEvent(ev);
    });
    let services, latest;
    try {
      [services, latest] = await Promise.all([api.get("/api/v1/services"), latestDeployments(api)]);
    } catch (e) { unsubscribe(); throw e; }
    const rows = new Map();   // "env/name" -> {row, summary}
    const bodies = new Map(); // env -> <tbody>
    const count = h("p", {class: "muted", id: "services-count"});
    const filter = h("input", {id: "services-filter", type: "search", placeholder: "name or revision",
      autocomplete: "off", oninput: () => applyFilter()});
    const tables = h("div", {class: "services-envs"});
    main.append(h("h1", {}, "Services"),
      h("div", {class: "services-tools"}, h("label", {for: "services-filter"}, "Filter services"), filter), count,
      tables);

    const key = (env, name) => `${env}/${name}`;

    function row(s) {
      const k = key(s.environment, s.serviceName);
      const dep = latest.get(k);
      const state = deploymentState(dep, s);
      const health = healthOf(s);
      const tr = h("tr", {"data-service": k},
        h("th", {scope: "row"}, ctx.link(`/services/${encodeURIComponent(s.environment)}/${encodeURIComponent(s.serviceName)}`,
          s.serviceName)),
        h("td", {class: "num"}, String(s.desiredCount)),
        h("td", {class: "num"}, String(s.runningCount) + (s.pendingCount ? ` (+${s.pendingCount} pending)` : "")),
        h("td", {}, badge(h, health.word), " ", h("span", {class: "muted"}, health.text)),
        h("td", {}, state.id ? ctx.link(`/deployments/${encodeURIComponent(state.id)}`, badge(h, state.status))
          : badge(h, state.status), state.note ? h("span", {class: "muted"}, ` ${state.note}`) : null),
        h("td", {class: "mono"}, s.taskDefinition || "—"),
        h("td", {class: "hide-narrow"}, s.deploymentController === "CODE_DEPLOY" ? "blue/green" : "rolling"),
        h("td", {class: "hide-narrow"}, externalLink(h, s.url)));
      return tr;
    }

    function tableFor(env) {
      if (bodies.has(env)) return bodies.get(env);
      const body = h("tbody");
      const id = `env-${env.replace(/[^A-Za-z0-9_-]/g, "_")}`;
      const section = h("section", {"aria-labelledby": id, "data-environment": env},
        h("h2", {id}, env),
        h("div", {class: "table-wrap"}, h("table", {class: "services-table"},
          h("caption", {class: "visually-hidden"}, `Services in ${env}`),
          h("thead", {}, h("tr", {},
            h("th", {scope: "col"}, "Service"), h("th", {scope: "col"}, "Desired"), h("th", {scope: "col"}, "Running"),
            h("th", {scope: "col"}, "Health"), h("th", {scope: "col"}, "Latest deployment"),
            h("th", {scope: "col"}, "Revision"), h("th", {scope: "col", class: "hide-narrow"}, "Controller"),
            h("th", {scope: "col", class: "hide-narrow"}, "URL"))),
          body)));
      // environments in name order
      const after = [...tables.children].find((el) => el.dataset.environment > env);
      tables.insertBefore(section, after || null);
      bodies.set(env, body);
      return body;
    }

    function place(s) {
      const k = key(s.environment, s.serviceName);
      const tr = row(s);
      const known = rows.get(k);
      if (known) known.row.replaceWith(tr);
      else {
        const body = tableFor(s.environment);
        const after = [...body.children].find((el) => el.dataset.service > k);
        body.insertBefore(tr, after || null);
      }
      rows.set(k, {row: tr, summary: s});
      applyFilter();
    }

    function applyFilter() {
      const q = filter.value.trim().toLowerCase();
      let shown = 0;
      for (const {row: tr, summary: s} of rows.values()) {
        const hit = !q || `${s.environment}/${s.serviceName} ${s.taskDefinition}`.toLowerCase().includes(q);
        tr.hidden = !hit;
        if (hit) shown += 1;
      }
      for (const body of bodies.values()) {
        body.closest("section").hidden = ![...body.children].some((tr) => !tr.hidden);
      }
      const envs = new Set([...rows.values()].map((r) => r.summary.environment)).size;
      count.textContent = rows.size === 0 ? "No services yet: deploy one from a pipeline or with `conveyor deploy`."
        : `${rows.size} service${rows.size === 1 ? "" : "s"} in ${envs} environment${envs === 1 ? "" : "s"}`
          + (shown !== rows.size ? `, ${shown} shown` : "");
    }

    for (const s of services) place(s);
    applyFilter();

    // One re-read per service at a time; events that arrive meanwhile cause one more read after it.
    const busy = new Map(); // key -> "again" | true
    async function refresh(env, name) {
      const k = key(env, name);
      if (busy.has(k)) { busy.set(k, "again"); return; }
      busy.set(k, true);
      try {
        const d = await api.get(`/api/v1/services/${encodeURIComponent(env)}/${encodeURIComponent(name)}`);
        place(d);  // the description holds the summary's fields (and more, unused here)
      } catch (e) {
        if (e.status === 404 && rows.has(k)) { rows.get(k).row.remove(); rows.delete(k); applyFilter(); }
      } finally {
        const again = busy.get(k) === "again";
        busy.delete(k);
        if (again) refresh(env, name);
      }
    }

    onEvent = (ev) => {
      const subj = ev.subject;
      const k = key(subj.environment, subj.service);
      if (ev.type.startsWith("deployment-") && subj.deployment_id) latest.set(k, ev);
      refresh(subj.environment, subj.service);
    };
    for (const ev of early.values()) onEvent(ev);
    return unsubscribe;
  },
};

function healthOf(s) {
  const want = s.desiredCount || 0;
  const healthy = s.healthyCount || 0;
  if (want === 0 && (s.runningCount || 0) === 0) return {word: "Idle", text: "scaled to 0"};
  if (healthy >= want && want > 0) return {word: "Healthy", text: `${healthy}/${want} healthy`};
  if (healthy === 0) return {word: "Unhealthy", text: `0/${want} healthy`};
  return {word: "Degraded", text: `${healthy}/${want} healthy`};
}
