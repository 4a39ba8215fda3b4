// Events: the newest hundred (GET /api/v1/events?tail=100 with the filters), newest first, and
// every later one that matches the filters prepended as it arrives on the page's event stream.
// The filters live in the URL's query (?type=&pipeline=&service=) so a filtered view can be shared.

const TYPES = [
  "pipeline-execution-started", "pipeline-execution-succeeded", "pipeline-execution-failed",
  "pipeline-execution-canceled", "pipeline-execution-resumed", "pipeline-execution-superseded",
  "stage-execution-started", "stage-execution-succeeded", "stage-execution-failed", "stage-execution-canceled",
  "stage-execution-resumed", "action-execution-started", "action-execution-succeeded", "action-execution-failed",
  "action-execution-canceled", "manual-approval-needed", "manual-approval-succeeded", "manual-approval-failed",
  "deployment-started", "deployment-traffic-shifted", "deployment-waiting", "deployment-alarm", "deployment-stopped",
  "deployment-failed", "deployment-rolled-back", "deployment-succeeded", "service-steady-state",
  "service-unhealthy", "service-circuit-breaker", "image-pushed", "image-push-failed", "image-deleted",
  "image-delete-failed",
];
const KEEP = 500;  // rows kept on screen; older ones drop off the bottom

export default {
  path: /^\/events\/?$/,
  title: "Events",
  async render(main, params, ctx) {
    const {api, h, subscribe, link, fmt} = ctx;
    const query = new URLSearchParams(location.search);
    const state = {type: query.get("type") || "", pipeline: query.get("pipeline") || "", service: query.get("service") || ""};

    const typeSelect = h("select", {id: "ev-type", name: "type"}, h("option", {value: ""}, "any type"),
      TYPES.map((t) => h("option", {value: t, selected: t === state.type}, t)));
    const pipelineInput = h("input", {id: "ev-pipeline", name: "pipeline", type: "text", list: "ev-pipelines",
      value: state.pipeline, autocomplete: "off"});
    const pipelineList = h("datalist", {id: "ev-pipelines"});
    const serviceInput = h("input", {id: "ev-service", name: "service", type: "text", value: state.service,
      autocomplete: "off"});
    const tbody = h("tbody", {});
    const info = h("p", {class: "muted", role: "status", "aria-live": "polite"});
    let last = 0;
    let seen = new Set();

    function subjectCell(ev) {
      const s = ev.subject || {};
      const out = [];
      if (s.pipeline) {
        out.push(s.execution_id ? link(`/executions/${encodeURIComponent(s.execution_id)}`, s.pipeline) : s.pipeline);
        if (s.stage) out.push(` ${s.stage}${s.action ? `.${s.action}` : ""}`);
      }
      if (s.environment && s.service) {
        if (out.length) out.push(" · ");
        out.push(link(`/services/${encodeURIComponent(s.environment)}/${encodeURIComponent(s.service)}`,
          `${s.environment}/${s.service}`));
      }
      if (s.repository) {
        if (out.length) out.push(" · ");
        out.push(link("/registry", s.repository));
      }
      if (s.deployment_id) {
        out.push(" · ", link(`/deployments/${encodeURIComponent(s.deployment_id)}`, `deployment ${String(s.deployment_id).slice(0, 10)}`));
      }
      return out.length ? out : "—";
    }
    function eventRow(ev) {
      return h("tr", {"data-seq": ev.seq, class: `ev-${ev.severity}`},
        h("td", {class: "ev-time"}, h("time", {datetime: new Date(ev.at * 1000).toISOString(), title: fmt.time(ev.at)},
          new Date(ev.at * 1000).toLocaleTimeString())),
        h("td", {}, h("span", {class: `sev sev-${ev.severity}`}, ev.severity)),
        h("th", {scope: "row", class: "mono ev-type"}, ev.type),
        h("td", {}, ev.summary || ""),
        h("td", {class: "hide-narrow"}, subjectCell(ev)));
    }
    function matches(ev) {
      const s = ev.subject || {};
      if (state.type && !state.type.split(",").includes(ev.type)) return false;
      if (state.pipeline && s.pipeline !== state.pipeline) return false;
      if (state.service && s.service !== state.service) return false;
      return true;
    }
    async function load() {
      const q = new URLSearchParams({tail: "100"});
      for (const k of ["type", "pipeline", "service"]) if (state[k]) q.set(k, state[k]);
      const answer = await api.get(`/api/v1/events?${q}`);
      last = answer.last || 0;
      const events = [...answer.events].reverse();
      seen = new Set(events.map((e) => e.seq));
      tbody.replaceChildren(...events.map(eventRow));
      info.textContent = events.length ? `${events.length} newest event${events.length === 1 ? "" : "s"}; new ones appear at the top.`
        : "No events match yet; new ones appear here as they happen.";
    }
    async function apply(e) {
      if (e) e.preventDefault();
      state.type = typeSelect.value;
      state.pipeline = pipelineInput.value.trim();
      state.service = serviceInput.value.trim();
      const q = new URLSearchParams();
      for (const k of ["type", "pipeline", "service"]) if (state[k]) q.set(k, state[k]);
      history.replaceState(null, "", `/ui/events${q.toString() ? `?${q}` : ""}`);
      try { await load(); } catch (err) { ctx.toast(err.hint ? `${err.message} — ${err.hint}` : err.message, "error"); }
    }

    const form = h("form", {class: "ev-filters", onsubmit: apply, role: "search", "aria-label": "Filter events"},
      h("div", {}, h("label", {for: "ev-type"}, "Type"), typeSelect),
      h("div", {}, h("label", {for: "ev-pipeline"}, "Pipeline"), pipelineInput, pipelineList),
      h("div", {}, h("label", {for: "ev-service"}, "Service"), serviceInput),
      h("div", {class: "ev-buttons"}, h("button", {type: "submit", class: "primary"}, "Apply"),
        h("button", {type: "button", onclick: () => {
          typeSelect.value = ""; pipelineInput.value = ""; serviceInput.value = ""; apply();
        }}, "Clear")));
    typeSelect.addEventListener("change", () => apply());
    main.append(h("h1", {}, "Events"), form, info,
      h("div", {class: "table-wrap"}, h("table", {class: "ev-table"},
        h("caption", {class: "visually-hidden"}, "Events, newest first"),
        h("thead", {}, h("tr", {}, h("th", {scope: "col"}, "Time"), h("th", {scope: "col"}, "Severity"),
          h("th", {scope: "col"}, "Type"), h("th", {scope: "col"}, "Summary"),
          h("th", {scope: "col", class: "hide-narrow"}, "Subject"))),
        tbody)));
    await load();
    api.get("/api/v1/pipelines").then((ps) => {
      pipelineList.replaceChildren(...ps.map((p) => h("option", {value: p.name})));
    }).catch(() => {});

    const off = subscribe(() => true, (ev) => {
      if (ev.seq <= last || seen.has(ev.seq) || !matches(ev)) return;
      seen.add(ev.seq);
      tbody.prepend(eventRow(ev));
      while (tbody.childElementCount > KEEP) tbody.lastElementChild.remove();
    });
    return off;
  },
};
