// What the services pages say about a service's latest deployment, from the event stream: one
// GET of the newest deployment events answers for every service at once (instead of one
// .../deployment call per row), and each live deployment-* event updates it in place.

export const DEPLOYMENT_TYPES = ["deployment-started", "deployment-traffic-shifted", "deployment-waiting",
  "deployment-alarm", "deployment-stopped", "deployment-failed", "deployment-rolled-back", "deployment-succeeded"];

// "env/name" -> the newest deployment-* event of that service.
export async function latestDeployments(api, filters = "") {
  const out = new Map();
  try {
    const page = await api.get(`/api/v1/events?tail=1000&type=${DEPLOYMENT_TYPES.join(",")}${filters}`);
    for (const ev of page.events || []) {
      const s = ev.subject || {};
      if (s.environment && s.service && s.deployment_id) out.set(`${s.environment}/${s.service}`, ev);
    }
  } catch (_) { /* no event log: the rows fall back to the rollout state */ }
  return out;
}

// {id, status, note}: the status word of a deployment as its latest event says.
export function deploymentState(ev, summary) {
  if (!ev) {
    const rs = summary && summary.rolloutState;
    return {id: null, status: rs === "IN_PROGRESS" ? "InProgress" : rs === "FAILED" ? "Failed" : rs ? "Succeeded" : null,
      note: ""};
  }
  const d = ev.detail || {};
  const id = ev.subject.deployment_id;
  switch (ev.type) {
    case "deployment-started": return {id, status: "InProgress", note: d.taskdef || ""};
    case "deployment-traffic-shifted": return {id, status: "InProgress", note: `${d.percent}% on ${d.taskdef || "new"}`};
    case "deployment-waiting": return {id, status: "Waiting", note: d.wait === "READY_WAIT" ? "for continue" : "termination wait"};
    case "deployment-alarm": return {id, status: "Alarm", note: (d.alarms || []).join(", ")};
    case "deployment-stopped": return {id, status: "Stopped", note: d.errorCode || ""};
    case "deployment-failed": return {id, status: "Failed", note: d.errorCode || ""};
    case "deployment-rolled-back": return {id, status: "Rolled_back", note: d.who ? `by ${d.who}` : ""};
    case "deployment-succeeded": return {id, status: "Succeeded", note: d.taskdef || ""};
    default: return {id, status: ev.type, note: ""};
  }
}

const WORDS = {InProgress: "In progress", Rolled_back: "Rolled back", Insufficient_data: "Insufficient data"};

// A status badge whose text says the state (the colour only repeats it): fmt.status with the
// API's CamelCase words spelled out for people.
export function badge(h, status) {
  const s = status || "—";
  return h("span", {class: `status status-${String(s).toLowerCase().replace(/[^a-z0-9_]/g, "_")}`}, WORDS[s] || s);
}

// A link to a service's own URL (production or test listener), only when it is http(s): the value
// comes from the daemon, but a page never turns a string into a script-bearing href.
export function externalLink(h, url) {
  if (!url) return "—";
  return /^https?:\/\//i.test(url) ? h("a", {href: url, rel: "noopener noreferrer"}, url) : url;
}
