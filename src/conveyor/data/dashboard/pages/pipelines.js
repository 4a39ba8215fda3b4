// Pipelines: every registered pipeline with its latest execution. One request draws the table
// (GET /api/v1/pipelines carries each pipeline's latest execution summary); after that the page
// only listens: a pipeline-* or stage-* event refetches that pipeline's latest execution
// (GET /api/v1/executions?pipeline=NAME&limit=1) and redraws that one row, so a table of a hundred
// pipelines stays cheap to keep live. An event for a pipeline the table does not know yet (a new
// registration) refetches the list once.

const LIVE = /^(pipeline|stage)-/;

function shortCommit(c) {
  return c ? String(c).slice(0, 7) : "—";
}

function triggerText(t) {
  if (!t) return "—";
  const by = t.by ? ` by ${t.by}` : "";
  if (t.type === "PullRequest") return `pull request #${t.number}${by}`;
  if (t.tag) return `${t.type} tag ${t.tag}`;
  if (t.ref) return `${t.type} ${String(t.ref).replace(/^refs\/heads\//, "")}`;
  return `${t.type || "—"}${by}`;
}

function row(ctx, p) {
  const {h, link, fmt} = ctx;
  const ex = p.latest;
  const waiting = ex && ex.awaitingApproval && ex.awaitingApproval.length
    ? h("span", {class: "pl-note"}, `waiting for approval (${ex.awaitingApproval.join(", ")})`) : null;
  const stage = ex && ex.currentStage && ex.status === "InProgress"
    ? h("span", {class: "pl-note"}, `in ${ex.currentStage}`) : null;
  return h("tr", {"data-pipeline": p.name},
    h("th", {scope: "row"}, p.name, h("div", {class: "muted mono pl-repo hide-narrow"}, p.repository || "")),
    h("td", {class: "pl-status"}, ex ? fmt.status(ex.status) : h("span", {class: "muted"}, "never run"),
      stage, waiting),
    h("td", {}, ex ? link(`/executions/${encodeURIComponent(ex.id)}`, `#${ex.seq}`) : "—"),
    h("td", {}, ex ? h("time", {datetime: new Date(ex.startedAt * 1000).toISOString(), title: fmt.time(ex.startedAt)},
      fmt.ago(ex.startedAt)) : "—"),
    h("td", {}, ex ? fmt.duration(ex.endedAt ? ex.duration : Math.max(0, Date.now() / 1000 - ex.startedAt)) : "—"),
    h("td", {class: "hide-narrow"}, ex ? triggerText(ex.trigger) : "—"),
    h("td", {class: "mono hide-narrow"}, ex ? h("span", {title: ex.commit || ""}, shortCommit(ex.commit)) : "—"));
}

export default {
  path: /^\/(?:pipelines\/?)?$/,
  title: "Pipelines",
  async render(main, params, ctx) {
    const {api, h, subscribe} = ctx;
    let pipelines = await api.get("/api/v1/pipelines");
    const byName = new Map();
    const tbody = h("tbody", {});
    const count = h("p", {class: "muted", "aria-live": "polite"});
    const empty = h("p", {class: "empty"}, "No pipeline is registered yet: run ",
      h("code", {}, "conveyor run"), " inside a repository with a conveyor.yml.");
    const filter = h("input", {id: "pl-filter", type: "search", placeholder: "name or status", autocomplete: "off"});

    const matches = (p) => {
      const q = filter.value.trim().toLowerCase();
      if (!q) return true;
      return p.name.toLowerCase().includes(q) || String(p.latest?.status || "never run").toLowerCase().includes(q);
    };
    const draw = () => {
      byName.clear();
      const rows = [];
      for (const p of pipelines) {
        const tr = row(ctx, p);
        byName.set(p.name, {p, tr});
        tr.hidden = !matches(p);
        rows.push(tr);
      }
      tbody.replaceChildren(...rows);
      empty.hidden = pipelines.length > 0;
      const shown = rows.filter((r) => !r.hidden).length;
      count.textContent = pipelines.length === 0 ? ""
        : `${shown === pipelines.length ? "" : `${shown} of `}${pipelines.length} pipeline${pipelines.length === 1 ? "" : "s"}`;
    };
    filter.addEventListener("input", () => {
      let shown = 0;
      for (const {p, tr} of byName.values()) { tr.hidden = !matches(p); if (!tr.hidden) shown++; }
      count.textContent = `${shown === pipelines.length ? "" : `${shown} of `}${pipelines.length} pipelines`;
    });

    main.append(
      h("h1", {}, "Pipelines"),
      h("div", {class: "pl-tools"}, h("label", {for: "pl-filter"}, "Filter pipelines"), filter),
      count,
      h("div", {class: "table-wrap"}, h("table", {class: "pl-table"},
        h("caption", {class: "visually-hidden"}, "Registered pipelines and their latest execution"),
        h("thead", {}, h("tr", {},
          h("th", {scope: "col"}, "Pipeline"), h("th", {scope: "col"}, "Status"),
          h("th", {scope: "col"}, "Latest"), h("th", {scope: "col"}, "Started"),
          h("th", {scope: "col"}, "Duration"), h("th", {scope: "col", class: "hide-narrow"}, "Trigger"),
          h("th", {scope: "col", class: "hide-narrow"}, "Commit"))),
        tbody)));
    main.append(empty);
    draw();

    // One fetch at a time per pipeline; events arriving meanwhile ask for one more afterwards.
    const busy = new Set();
    const again = new Set();
    let listing = false;
    let closed = false;
    async function refreshRow(name) {
      if (busy.has(name)) { again.add(name); return; }
      busy.add(name);
      try {
        const [latest] = await api.get(`/api/v1/executions?pipeline=${encodeURIComponent(name)}&limit=1`);
        const entry = byName.get(name);
        if (closed || !entry) return;
        entry.p = {...entry.p, latest: latest || null};
        pipelines = pipelines.map((p) => (p.name === name ? entry.p : p));
        const tr = row(ctx, entry.p);
        tr.hidden = !matches(entry.p);
        entry.tr.replaceWith(tr);
        entry.tr = tr;
      } catch (e) {
        console.error(e);
      } finally {
        busy.delete(name);
        if (again.delete(name) && !closed) refreshRow(name);
      }
    }
    let listAgain = false;
    async function refreshAll() {
      if (listing) { listAgain = true; return; }
      listing = true;
      try {
        pipelines = await api.get("/api/v1/pipelines");
        if (!closed) draw();
      } catch (e) {
        console.error(e);
      } finally {
        listing = false;
        if (listAgain && !closed) { listAgain = false; refreshAll(); }
      }
    }
    const off = subscribe((ev) => LIVE.test(ev.type) && ev.subject && ev.subject.pipeline, (ev) => {
      if (byName.has(ev.subject.pipeline)) refreshRow(ev.subject.pipeline);
      else refreshAll();
    });
    return () => { closed = true; off(); };
  },
};
