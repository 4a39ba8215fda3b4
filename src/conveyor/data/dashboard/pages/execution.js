// One execution: its stages and actions as a graph that follows the execution's events, the
// buttons that apply to it now (approve/reject, stop, retry), the log of the action picked
// (streamed), its test reports (failures first), and its artifacts and variables.
//
// Live without polling: every event about this execution refetches its description once
// (GET /api/v1/executions/ID; events arriving during that fetch ask for one more afterwards)
// and redraws the header and the graph. The forms are redrawn only when what applies changes,
// so a comment being typed survives the events around it. Reports are refetched when an action
// finishes. The log viewer reads GET .../logs/STAGE/ACTION/ATTEMPT/stream (server-sent events,
// {"text", "offset"}, then `end`); a daemon without that route gets one plain read instead,
// repeated only when the action's own events say there is more.

function durationOf(start, end) {
  if (!start) return null;
  return Math.max(0, (end || Date.now() / 1000) - start);
}

// replaceChildren without the nulls h() would have skipped (replaceChildren prints them as "null")
function put(el, ...kids) {
  el.replaceChildren(...kids.flat(Infinity).filter((k) => k !== null && k !== undefined && k !== false));
}

function failedFirst(a, b) {
  const rank = (s) => (s === "FAILED" || s === "ERROR" ? 0 : s === "SUCCEEDED" ? 2 : 1);
  return rank(a.status) - rank(b.status);
}

export default {
  path: /^\/executions\/([^/]+)$/,
  title: (params) => `Execution ${String(params[0]).slice(0, 8)}`,
  async render(main, params, ctx) {
    const {api, h, subscribe, link, fmt, toast} = ctx;
    const id = params[0];
    const base = `/api/v1/executions/${encodeURIComponent(id)}`;
    let ex = await api.get(base);
    let closed = false;

    const header = h("section", {class: "ex-header", "aria-label": "Execution"});
    const controls = h("section", {class: "ex-controls", "aria-label": "Actions on this execution"});
    const graph = h("section", {class: "ex-graph", "aria-label": "Stages and actions"});
    const logs = h("section", {class: "ex-logs", "aria-labelledby": "ex-logs-h"});
    const reports = h("section", {class: "ex-reports", "aria-labelledby": "ex-reports-h"});
    const outputs = h("section", {class: "ex-outputs", "aria-labelledby": "ex-outputs-h"});
    const announce = h("p", {class: "visually-hidden", role: "status", "aria-live": "polite"});
    main.append(header, announce, controls, graph, logs, reports, outputs);

    // -- header -------------------------------------------------------------------------------
    function drawHeader() {
      const by = ex.trigger && ex.trigger.by ? ` by ${ex.trigger.by}` : "";
      put(header,
        h("p", {class: "crumbs"}, link("/pipelines", "Pipelines"), " / ", ex.pipeline),
        h("h1", {}, `${ex.pipeline} #${ex.seq} `, fmt.status(ex.status)),
        h("dl", {class: "ex-facts"},
          h("dt", {}, "Execution"), h("dd", {class: "mono"}, ex.id),
          h("dt", {}, "Started"), h("dd", {}, fmt.time(ex.startedAt)),
          h("dt", {}, "Duration"), h("dd", {}, fmt.duration(ex.endedAt ? ex.duration : durationOf(ex.startedAt)),
            ex.endedAt ? "" : " so far"),
          h("dt", {}, "Trigger"), h("dd", {}, `${(ex.trigger && ex.trigger.type) || "—"}${by}`),
          h("dt", {}, "Commit"), h("dd", {class: "mono", title: ex.commit || ""}, ex.commit ? ex.commit.slice(0, 12) : "—"),
          ex.currentStage ? [h("dt", {}, "Stage"), h("dd", {}, ex.currentStage)] : null,
          ex.reason ? [h("dt", {}, "Reason"), h("dd", {class: "error"}, ex.reason)] : null),
        ex.approvals && ex.approvals.length ? h("ul", {class: "ex-decisions"}, ex.approvals.map((d) =>
          h("li", {}, `${d.action}: ${d.decision} by ${d.by || "someone"}`, d.comment ? ` — “${d.comment}”` : "",
            d.at ? h("span", {class: "muted"}, ` (${fmt.time(d.at)})`) : null))) : null);
    }

    // -- controls: only the ones that apply now --------------------------------------------------
    let controlsKey = null;
    async function act(button, path, body, done) {
      button.disabled = true;
      try {
        ex = await api.post(`${base}/${path}`, body);
        toast(done);
        redraw();
      } catch (e) {
        toast(e.hint ? `${e.message} — ${e.hint}` : e.message, "error");
      } finally {
        button.disabled = false;
      }
    }
    function pendingApprovals() {
      const out = [];
      for (const s of ex.stages || []) {
        for (const a of s.actions) {
          if (a.provider === "Manual" && a.status === "InProgress") out.push({stage: s.name, action: a});
        }
      }
      return out;
    }
    function approvalForm({stage, action}) {
      const key = `${stage}-${action.name}`.replace(/[^A-Za-z0-9_-]/g, "_");
      const comment = h("textarea", {id: `ap-comment-${key}`, rows: 2, maxlength: 512});
      const decide = (decision) => (e) => act(e.currentTarget, "approval",
        {decision, comment: comment.value, stage, action: action.name},
        `${decision === "Approved" ? "Approved" : "Rejected"} ${stage}.${action.name}`);
      const ap = action.approval || {};
      return h("form", {class: "card ex-approval", onsubmit: (e) => e.preventDefault(),
        "aria-label": `Approval ${stage}.${action.name}`},
        h("h2", {}, `Approval waiting: ${stage}.${action.name}`),
        ap.customData ? h("p", {}, ap.customData) : null,
        ap.externalEntityLink ? h("p", {}, h("a", {href: ap.externalEntityLink, rel: "noopener noreferrer"},
          "Review link")) : null,
        ap.expires ? h("p", {class: "muted"}, `Expires ${fmt.time(ap.expires)}`) : null,
        h("label", {for: `ap-comment-${key}`}, "Comment"), comment,
        h("div", {class: "actions"},
          h("button", {type: "button", class: "primary", onclick: decide("Approved")}, "Approve"),
          h("button", {type: "button", class: "danger", onclick: decide("Rejected")}, "Reject")));
    }
    function stopForm() {
      const reason = h("input", {id: "stop-reason", type: "text", maxlength: 200});
      const abandon = h("input", {id: "stop-abandon", type: "checkbox"});
      const stopping = ex.status === "Stopping";
      if (stopping) abandon.checked = true;
      return h("form", {class: "card ex-stop", onsubmit: (e) => e.preventDefault(), "aria-label": "Stop"},
        h("h2", {}, stopping ? "Stopping" : "Stop this execution"),
        stopping ? h("p", {class: "muted"}, "Running actions are finishing; abandon them to stop now.") : null,
        h("label", {for: "stop-reason"}, "Reason"), reason,
        h("div", {class: "check"}, abandon,
          h("label", {for: "stop-abandon"}, "Abandon running actions (do not wait for them)")),
        h("div", {class: "actions"}, h("button", {type: "button", class: "danger", onclick: (e) => {
          if (stopping && !abandon.checked) { toast("already stopping — tick “Abandon” to stop now", "error"); return; }
          act(e.currentTarget, "stop", {reason: reason.value, abandon: abandon.checked},
            abandon.checked ? "Stopping, abandoning running actions" : "Stopping (running actions finish first)");
        }}, "Stop")));
    }
    function retryable() {
      if (ex.status !== "Failed" && ex.status !== "Stopped") return null;
      const stage = (ex.stages || []).find((s) => s.name === ex.currentStage);
      return stage && (stage.status === "Failed" || stage.status === "Stopped") ? stage : null;
    }
    function retryForm(stage) {
      const retry = (mode, label) => (e) => act(e.currentTarget, "retry", {stage: stage.name, mode}, label);
      return h("div", {class: "card ex-retry", role: "group", "aria-label": "Retry"},
        h("h2", {}, `Retry stage ${stage.name}`),
        h("div", {class: "actions"},
          h("button", {type: "button", class: "primary", onclick: retry("FAILED_ACTIONS", `Retrying ${stage.name}`)},
            "Retry failed actions"),
          h("button", {type: "button", onclick: retry("ALL_ACTIONS", `Retrying all of ${stage.name}`)},
            "Retry all actions")));
    }
    function drawControls() {
      const approvals = pendingApprovals();
      const active = ex.status === "InProgress" || ex.status === "Stopping";
      const stage = retryable();
      const key = JSON.stringify([approvals.map((a) => `${a.stage}.${a.action.name}.${a.action.attempt}`),
        active && ex.status, stage && stage.name]);
      if (key === controlsKey) return;
      controlsKey = key;
      put(controls, ...approvals.map(approvalForm), active ? stopForm() : null, stage ? retryForm(stage) : null);
      controls.hidden = !controls.childElementCount;
    }

    // -- graph ----------------------------------------------------------------------------------
    let selected = null;  // {stage, action}
    function actionBox(stage, a) {
      const took = durationOf(a.startedAt, a.endedAt);
      const isSel = selected && selected.stage === stage.name && selected.action === a.name;
      return h("li", {class: `ex-action${isSel ? " selected" : ""}`},
        h("div", {class: "ex-action-head"}, h("span", {class: "ex-action-name"}, a.name), " ",
          fmt.status(a.status || "Not started")),
        h("div", {class: "muted ex-action-meta"}, `${a.provider}`, a.attempt > 1 ? ` · attempt ${a.attempt}` : "",
          a.startedAt ? ` · ${fmt.duration(took)}` : ""),
        a.summary ? h("div", {class: "ex-action-summary"}, a.summary) : null,
        a.error ? h("div", {class: "error ex-action-error"}, a.error) : null,
        a.attempt && a.provider !== "Manual" ? h("button", {type: "button", class: "link-button",
          "aria-pressed": isSel ? "true" : "false", "data-key": JSON.stringify([stage.name, a.name]),
          "aria-label": `Show log of ${stage.name}.${a.name}`,
          onclick: () => openLog(stage.name, a.name)}, "Log") : null);
    }
    function drawGraph() {
      const focused = graph.contains(document.activeElement) ? document.activeElement.dataset.key : null;
      put(graph, h("h2", {class: "visually-hidden"}, "Stages"), h("ol", {class: "ex-stages"},
        (ex.stages || []).map((s) => {
          const orders = [...new Set(s.actions.map((a) => a.runOrder))].sort((x, y) => x - y);
          return h("li", {class: `ex-stage ex-stage-${String(s.status || "none").toLowerCase()}`},
            h("div", {class: "ex-stage-head"}, h("h3", {}, s.name), " ", fmt.status(s.status || "Not started")),
            h("div", {class: "muted"}, s.startedAt ? fmt.duration(durationOf(s.startedAt, s.endedAt)) : "\u00a0"),
            orders.map((o) => h("ol", {class: "ex-runorder", "aria-label": `run order ${o}`},
              s.actions.filter((a) => a.runOrder === o).map((a) => actionBox(s, a)))));
        })));
      if (focused) {  // a live redraw keeps the keyboard where it was
        for (const b of graph.querySelectorAll("button[data-key]")) if (b.dataset.key === focused) b.focus();
      }
    }

    // -- outputs: artifacts and variables ---------------------------------------------------------
    function drawOutputs() {
      const rows = [];
      for (const s of ex.stages || []) {
        for (const a of s.actions) {
          for (const [k, v] of Object.entries(a.variables || {})) rows.push(["variable", `${s.name}.${a.name}`, k, v]);
          for (const [k, v] of Object.entries(a.artifacts || {})) rows.push(["artifact", `${s.name}.${a.name}`, k, v]);
        }
      }
      const pipelineVars = Object.entries(ex.variables || {});
      put(outputs, h("h2", {id: "ex-outputs-h"}, "Artifacts and variables"),
        pipelineVars.length ? h("div", {class: "table-wrap"}, h("table", {},
          h("caption", {}, "Pipeline variables"),
          h("thead", {}, h("tr", {}, h("th", {scope: "col"}, "Name"), h("th", {scope: "col"}, "Value"))),
          h("tbody", {}, pipelineVars.map(([k, v]) => h("tr", {}, h("th", {scope: "row"}, k),
            h("td", {class: "mono"}, String(v))))))) : null,
        rows.length ? h("div", {class: "table-wrap"}, h("table", {},
          h("caption", {}, "Action outputs"),
          h("thead", {}, h("tr", {}, h("th", {scope: "col", class: "hide-narrow"}, "Kind"), h("th", {scope: "col"}, "Action"),
            h("th", {scope: "col"}, "Name"), h("th", {scope: "col"}, "Value"))),
          h("tbody", {}, rows.map(([kind, who, k, v]) => h("tr", {}, h("td", {class: "hide-narrow"}, kind), h("td", {}, who),
            h("th", {scope: "row"}, k), h("td", {class: "mono ex-value"}, String(v))))))) : null,
        !pipelineVars.length && !rows.length ? h("p", {class: "muted"}, "None yet.") : null);
    }

    // -- reports ------------------------------------------------------------------------------
    async function loadReports() {
      let groups;
      try { groups = await api.get(`${base}/reports`); } catch (e) { groups = null; }
      if (closed) return;
      const body = [h("h2", {id: "ex-reports-h"}, "Test reports")];
      if (!groups || !groups.length) {
        body.push(h("p", {class: "muted"}, groups ? "No test or coverage reports in this execution." :
          "Reports could not be read."));
        put(reports, ...body);
        return;
      }
      for (const g of [...groups].sort(failedFirst)) {
        const title = `${g.stage}.${g.action} — ${g.name} (${g.format})`;
        if (g.type !== "TEST") {
          const pct = g.lineCoveragePercent;
          body.push(h("div", {class: "card ex-report"}, h("h3", {}, title, " ", fmt.status(g.status)),
            h("p", {}, pct === null || pct === undefined ? "No lines measured." :
              `Line coverage ${pct.toFixed(1)}% (${g.linesCovered} covered, ${g.linesMissed} missed)`)));
          continue;
        }
        const cases = [...(g.cases || [])].sort(failedFirst);
        const bad = cases.filter((c) => c.status === "FAILED" || c.status === "ERROR");
        const rest = cases.filter((c) => c.status !== "FAILED" && c.status !== "ERROR");
        const table = (list, caption) => h("div", {class: "table-wrap"}, h("table", {class: "ex-cases"},
          h("caption", {class: "visually-hidden"}, caption),
          h("thead", {}, h("tr", {}, h("th", {scope: "col"}, "Status"), h("th", {scope: "col"}, "Test"),
            h("th", {scope: "col"}, "Message"), h("th", {scope: "col", class: "hide-narrow"}, "Time"))),
          h("tbody", {}, list.map((c) => h("tr", {class: `case-${String(c.status).toLowerCase()}`},
            h("td", {}, fmt.status(c.status)),
            h("th", {scope: "row", class: "mono"}, c.prefix ? `${c.prefix}.${c.name}` : c.name,
              c.file ? h("div", {class: "muted"}, `${c.file}${c.line ? `:${c.line}` : ""}`) : null),
            h("td", {}, c.message ? h("pre", {class: "ex-message"}, c.message) : ""),
            h("td", {class: "hide-narrow"}, c.durationSeconds === null || c.durationSeconds === undefined ? "—"
              : fmt.duration(c.durationSeconds)))))));
        body.push(h("div", {class: "card ex-report"},
          h("h3", {}, title, " ", fmt.status(g.status)),
          h("p", {}, `${g.total} tests: ${g.passed} passed, ${g.failed} failed, ${g.errors} errors, ${g.skipped} skipped`),
          bad.length ? table(bad, `Failed tests of ${g.name}`) : null,
          rest.length ? h("details", {}, h("summary", {}, `${rest.length} other test${rest.length === 1 ? "" : "s"}`),
            table(rest, `Other tests of ${g.name}`)) : null,
          (g.problems || []).map((p) => h("p", {class: "error"}, p))));
      }
      put(reports, ...body);
    }

    // -- log viewer -----------------------------------------------------------------------------
    let log = null;  // {stage, action, attempt, offset, source, pre, ended, reading}
    function closeLog() {
      if (log && log.source) log.source.close();
      log = null;
    }
    function appendLog(text) {
      if (!text) return;
      const pre = log.pre;
      const atBottom = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 24;
      pre.append(text);
      if (atBottom) pre.scrollTop = pre.scrollHeight;
    }
    async function readOnce(l) {  // the plain read: GET .../logs/S/A/N?offset=
      if (l.reading) { l.more = true; return; }
      l.reading = true;
      try {
        const path = `${base}/logs/${encodeURIComponent(l.stage)}/${encodeURIComponent(l.action)}/${l.attempt}`;
        const got = await api.get(`${path}?offset=${l.offset}`);
        if (log !== l) return;
        appendLog(got.text);
        l.offset = got.offset;
      } catch (e) {
        if (log === l) l.status.textContent = e.message;
      } finally {
        l.reading = false;
        if (l.more && log === l) { l.more = false; readOnce(l); }
      }
    }
    function stream(l) {
      const path = `${base}/logs/${encodeURIComponent(l.stage)}/${encodeURIComponent(l.action)}/${l.attempt}/stream`;
      const source = new EventSource(`${path}?offset=${l.offset}`);
      l.source = source;
      let got = false;
      source.onmessage = (msg) => {
        if (log !== l) return;
        got = true;
        l.failures = 0;
        let m;
        try { m = JSON.parse(msg.data); } catch (_) { return; }
        appendLog(m.text);
        if (typeof m.offset === "number") l.offset = m.offset;
      };
      source.addEventListener("end", () => {
        source.close();
        if (log !== l) return;
        l.ended = true;
        l.status.textContent = "End of log.";
      });
      source.onerror = () => {
        if (log !== l || l.ended) return;
        source.close();
        if (!got && source.readyState === EventSource.CLOSED && !l.streamed) {
          // No stream route on this daemon (or it refused): one plain read; the action's events read more.
          l.plain = true;
          l.status.textContent = "";
          readOnce(l);
          return;
        }
        // The connection dropped mid-log: reopen from the offset read so far (not from 0).
        l.failures = (l.failures || 0) + 1;
        if (l.failures > 5) { l.status.textContent = "The log stream is unavailable."; return; }
        l.status.textContent = "Reconnecting…";
        setTimeout(() => { if (log === l && !l.ended) stream(l); }, 1000 * l.failures);
      };
      source.onopen = () => { l.streamed = true; if (log === l) l.status.textContent = "Streaming…"; };
    }
    let opening = 0;  // the latest openLog wins when several are in flight
    async function openLog(stage, action, attempt) {
      closeLog();
      const mine = ++opening;
      selected = {stage, action};
      drawGraph();
      let streams = [];
      try { streams = await api.get(`${base}/logs`); } catch (e) { toast(e.message, "error"); }
      if (mine !== opening || closed) return;
      const attempts = streams.filter((s) => s.stage === stage && s.action === action).map((s) => s.attempt);
      const chosen = attempt || (attempts.length ? Math.max(...attempts) : 1);
      const pre = h("pre", {class: "log", tabindex: "0", "aria-label": `Log of ${stage}.${action}`});
      const status = h("p", {class: "muted", role: "status"});
      const pick = attempts.length > 1 ? h("span", {class: "ex-attempt"},
        h("label", {for: "log-attempt"}, "Attempt"),
        h("select", {id: "log-attempt", onchange: (e) => openLog(stage, action, Number(e.target.value))},
          attempts.map((n) => h("option", {value: n, selected: n === chosen}, String(n))))) : null;
      put(logs,
        h("h2", {id: "ex-logs-h"}, `Log: ${stage}.${action}`, attempts.length > 1 ? ` (attempt ${chosen})` : ""),
        h("div", {class: "actions"}, pick,
          h("button", {type: "button", onclick: () => { closeLog(); selected = null; drawGraph(); drawLogHint(); }},
            "Close log")),
        pre, status);
      log = {stage, action, attempt: chosen, offset: 0, pre, status};
      if (!attempts.includes(chosen)) { status.textContent = "This action has not written a log yet."; return; }
      stream(log);
    }
    function drawLogHint() {
      put(logs, h("h2", {id: "ex-logs-h"}, "Logs"),
        h("p", {class: "muted"}, "Press “Log” on an action to read its log."));
    }

    // -- live -----------------------------------------------------------------------------------
    function redraw() {
      drawHeader();
      drawControls();
      drawGraph();
      drawOutputs();
    }
    let fetching = false;
    let again = false;
    async function refresh() {
      if (fetching) { again = true; return; }
      fetching = true;
      try {
        ex = await api.get(base);
        if (!closed) redraw();
      } catch (e) {
        console.error(e);
      } finally {
        fetching = false;
        if (again && !closed) { again = false; refresh(); }
      }
    }
    redraw();
    drawLogHint();
    loadReports();
    const off = subscribe((ev) => ev.subject && ev.subject.execution_id === ex.id, (ev) => {
      refresh();
      if (ev.summary) announce.textContent = ev.summary;
      const finished = /^action-execution-(succeeded|failed|canceled)$/.test(ev.type);
      if (finished) loadReports();
      const s = ev.subject;
      if (log && log.plain && s.stage === log.stage && s.action === log.action) readOnce(log);
      if (/^action-execution-started$/.test(ev.type) && selected && s.stage === selected.stage
          && s.action === selected.action && log) {
        // a retried action (or one that had not started): follow its new attempt
        const n = ev.detail && ev.detail.attempt;
        if (n && (n !== log.attempt || (!log.source && !log.plain))) openLog(s.stage, s.action, n);
      }
    });
    return () => { closed = true; off(); closeLog(); };
  },
};
