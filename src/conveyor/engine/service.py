"""The service layer: every intent (start, stop, retry, approve, a push) goes through here, from
the HTTP API, the git hook and the poller alike. It validates the request against the current
state, records who asked and why, and lets the scheduler do the rest.

    svc = Service(home); svc.start()
    ex = svc.start_execution(repository="/srv/orders.git", trigger={"type": "StartPipelineExecution"})
    svc.decide(ex["id"], "Approved", comment="looks good", by="alice")
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from pathlib import Path
from typing import Sequence

from conveyor.actions.base import ActionRunner
from conveyor.backend.interface import ImageRegistry
from conveyor.config.model import PipelineDef, repository_settings
from conveyor.config.trust import valid_branch_name
from conveyor.engine import states as S
from conveyor.engine.definitions import Definitions
from conveyor.engine.describe import describe, summary
from conveyor.engine.events import transition_events
from conveyor.engine.pushes import DEFAULT_CONFIG_PATH, Pushes, source_repository
from conveyor.engine.scheduler import Scheduler
from conveyor.engine.view import ExecutionView
from conveyor.errors import Conflict, ConveyorError, NotFound, UserError
from conveyor.providers.local.git import Mirror, normalize
from conveyor.secrets.store import SecretStore
from conveyor.store.db import DEFAULT_PROTECTED_BRANCHES, ExecutionRow, Store, Transition

log = logging.getLogger("conveyor.service")

RETRY_MODES = ("FAILED_ACTIONS", "ALL_ACTIONS")


class Service:
    def __init__(self, home: str | Path, *, runners: dict[str, ActionRunner] | None = None, clock=time.time):
        self.home = Path(home)
        self.clock = clock  # tests pass a fake one to reach approval timeouts
        self.store = Store(self.home / "conveyor.db")
        self.scheduler = Scheduler(self.home, self.store, runners=runners, clock=clock)
        self.secrets = SecretStore(self.home)
        #: The image registry of the local backend (conveyor.backend.interface.ImageRegistry), when
        #: the daemon runs one; deploy actions reach the backends through scheduler.releases.
        self.registry: ImageRegistry | None = None
        self.lock = self.scheduler.lock
        self._stop = threading.Event()
        #: conveyor.yml read and validated per commit, and which one governs a run (the trust boundary).
        self.definitions = Definitions()
        self._poller: threading.Thread | None = None
        self.pushes = Pushes(self.store, self.lock, self.scheduler.mirrors, self.definitions,
                             start=self.start_execution, record_failed=self._failed_push, stop=self._stop)

    def start(self, polling: bool = True) -> None:
        self.secrets.mask_all()  # every stored value is masked in logs and API answers from now on
        self.scheduler.start()
        if polling:
            self._poller = threading.Thread(target=self.pushes.poll_loop, name="poller", daemon=True)
            self._poller.start()

    def shutdown(self) -> None:
        self._stop.set()
        self.scheduler.shutdown()
        for runner in self.scheduler.runners.values():
            if hasattr(runner, "close"):
                runner.close(self.home)  # e.g. the engine API service builds used
        self.store.close()

    # -- starting executions
    def start_execution(self, *, repository: str | None = None, pipeline: str | None = None,
                        branch: str | None = None, commit: str | None = None,
                        config_path: str = DEFAULT_CONFIG_PATH, variables: dict[str, str] | None = None,
                        trigger: dict | None = None, protected_branches: Sequence[str] | None = None) -> dict:
        """Start an execution of the pipeline defined in `repository`, registering it on first use.

        What runs is the definition on a protected branch (conveyor.engine.definitions): `branch`
        and `commit` choose the source that is built, never the definition, unless they are on a
        protected branch. `protected_branches` names them when the pipeline is first registered
        (default `main`); afterwards only `protectedBranches:` in conveyor.yml on the first of
        them changes them."""
        if repository is None:
            named = self._registration(pipeline)
            repository, config_path = named["repository"], named["config_path"]
        repository = normalize(repository)
        reg = self._registered(repository, config_path, pipeline)
        protected = self._protected(reg, protected_branches)
        mirror = self.scheduler.mirrors.fetch(repository)
        if commit is None:
            branch = branch or self._source_branch(mirror, protected, config_path)
            commit = mirror.resolve(branch)
        gov = self.definitions.governing(mirror, protected, config_path, branch, commit)
        definition = gov.definition
        if pipeline is not None and definition.name != pipeline:
            raise UserError(f"{config_path} on {gov.branch} at {gov.commit[:7]} defines pipeline "
                            f"'{definition.name}', not '{pipeline}'")
        declared = definition.protected_branches if gov.branch == protected[0] else None
        if declared and protected_branches and list(declared) != list(protected_branches):
            raise UserError(f"{config_path} on {gov.branch} names protectedBranches {list(declared)}, "
                            f"not {list(protected_branches)}",
                            hint="drop --protected-branch (conveyor.yml's protectedBranches wins) or make them match")
        first_registration = not any(p["name"] == definition.name for p in self.store.pipelines())
        keep = declared or (protected if first_registration else None)
        self.store.register_pipeline(definition.name, repository, config_path, definition.poll_interval,
                                     protected_branches=keep)
        if first_registration:
            for ref, sha in mirror.heads().items():
                if self.store.ref(repository, ref) is None:
                    self.store.set_ref(repository, ref, sha)
            self.pushes.baseline_tags(repository, mirror.tags())
        self._declare_repositories(definition)
        values = self._variables(definition, variables or {})
        revisions = self._revisions(definition, repository, commit, branch)
        trigger = {**(trigger or {"type": "StartPipelineExecution"}), **gov.trigger_fields()}
        return self._create(definition, revisions, values, trigger)

    def _registered(self, repository: str, config_path: str, pipeline: str | None) -> dict | None:
        """The registration of the pipeline that `config_path` of `repository` defines, if any."""
        regs = [r for r in self.store.pipelines() if r["repository"] == repository and r["config_path"] == config_path
                and (pipeline is None or r["name"] == pipeline)]
        return regs[0] if len(regs) == 1 else None

    @staticmethod
    def _protected(reg: dict | None, given: Sequence[str] | None) -> tuple[str, ...]:
        if given is not None:
            given = tuple(str(b) for b in given)
            bad = [b for b in given if not valid_branch_name(b)]
            if not given or bad:
                raise UserError(f"invalid protected branch name(s): {', '.join(bad) or 'none given'}",
                                hint="plain branch names such as main or release/1.x")
        if reg is None:
            return given or DEFAULT_PROTECTED_BRANCHES
        registered = tuple(reg["protected_branches"]) or DEFAULT_PROTECTED_BRANCHES
        if given and given != registered:
            raise UserError(f"pipeline '{reg['name']}' is registered with protected branches "
                            f"{', '.join(registered)}",
                            hint=f"they change only through `protectedBranches:` in {reg['config_path']} "
                                 f"on {registered[0]}")
        return registered

    def _source_branch(self, mirror: Mirror, protected: Sequence[str], config_path: str) -> str:
        """No branch given: the branch the definition's own Git source watches."""
        definition = self.definitions.at(mirror, self.definitions.head(mirror, protected), config_path)
        for src in definition.sources():
            if src.configuration.get("repository", ".") == ".":
                return str(src.configuration.get("branch", "main"))
        return protected[0]

    def _variables(self, definition: PipelineDef, overrides: dict[str, str]) -> dict[str, str]:
        declared = {v.name: v for v in definition.variables}
        unknown = [k for k in overrides if k not in declared]
        if unknown:
            raise UserError(f"unknown pipeline variable(s) {', '.join(unknown)}; "
                            f"declared: {', '.join(declared) or 'none'}")
        values = {}
        for name, var in declared.items():
            value = overrides.get(name, var.default)
            if value is None or value == "":
                raise UserError(f"pipeline variable '{name}' has no defaultValue and needs a value",
                                hint=f"conveyor run --variable {name}=VALUE")
            values[name] = str(value)
        return values

    def _revisions(self, definition: PipelineDef, repository: str, commit: str, pushed: str | None) -> dict:
        """The commit each Git source builds, fixed now (aws-semantics §2.3: HEAD at the push).
        Sources of the definition's own repository build the commit that was pushed or asked for;
        other sources build the head of their branch."""
        revisions = {}
        for src in definition.sources():
            repo = source_repository(repository, src.configuration.get("repository", "."))
            branch = src.configuration.get("branch", "main")
            if repo == repository:
                sha, branch = commit, pushed or branch
            else:
                sha = self.scheduler.mirrors.fetch(repo).resolve(branch)
            revisions[src.name] = {"repository": repo, "branch": branch, "commit": sha}
        return revisions

    def _create(self, definition: PipelineDef, revisions: dict, variables: dict, trigger: dict,
                failed_reason: str | None = None) -> dict:
        row = ExecutionRow(str(uuid.uuid4()), 0, definition.name, self.clock(), trigger, revisions, variables,
                           definition.raw)
        status = S.FAILED if failed_reason else S.IN_PROGRESS
        first = Transition(row.id, "execution", status, detail={"reason": failed_reason} if failed_reason else {},
                           at=self.clock())
        with self.lock:
            row = self.store.create_execution(
                row, first, lambda created: transition_events(ExecutionView.build(created, []), first))
            view = ExecutionView.build(row, self.store.transitions(row.id))
            if status == S.IN_PROGRESS:
                self.scheduler.track(view)
        with self.lock:  # the scheduler thread mutates live views
            return describe(view)

    # -- pushes: the git hook, the poller and inbound webhooks (conveyor.engine.pushes)
    def on_push(self, repository: str, ref: str, before: str, after: str, source: str = "GitPush") -> list[dict]:
        return self.pushes.on_push(repository, ref, before, after, source)

    def on_pull_request(self, repository: str, *, number: int, event: str, source_branch: str,
                        target_branch: str, head: str, base: str | None = None, head_ref: str | None = None,
                        source: str = "Webhook") -> list[dict]:
        return self.pushes.on_pull_request(repository, number=number, event=event, source_branch=source_branch,
                                           target_branch=target_branch, head=head, base=base, head_ref=head_ref,
                                           source=source)

    def poll(self, repository: str) -> list[dict]:
        return self.pushes.poll(repository)

    def _failed_push(self, name: str, revision: dict, trigger: dict, reason: str) -> dict:
        """A push, tag or pull request that could not start its pipeline, recorded as a Failed execution."""
        return self._create(PipelineDef(name, ()), {"push": revision}, {}, trigger, failed_reason=reason)

    # -- intents on an execution
    def stop(self, execution_id: str, *, abandon: bool = False, reason: str = "", by: str = "") -> dict:
        with self.lock:
            view = self._active(execution_id, "stopped")
            if view.status == S.STOPPING and not abandon:
                raise Conflict(f"execution {view.id[:8]} is already stopping",
                               hint="add --abandon to abandon the actions still running")
            who = {"by": by, "reason": reason[:200], "abandon": abandon}
            if view.status == S.IN_PROGRESS:
                self.scheduler._transition(view, "execution", S.STOPPING, detail=who)
                if view.current and view.stages[view.current].status == S.IN_PROGRESS:
                    self.scheduler._transition(view, "stage", S.STOPPING, view.current, detail=who)
            if abandon:
                for run in view.running_actions():
                    cancel = self.scheduler.workers.get((view.id, run.stage, run.action, run.attempt))
                    if cancel is not None:
                        cancel.set()
                    why = "abandoned by stop" + (f": {who['reason']}" if who["reason"] else "")
                    self.scheduler._transition(view, "action", S.ABANDONED, run.stage, run.action, run.attempt,
                                               {**who, "reason": why})
        self.scheduler.wake()
        with self.lock:  # the scheduler thread mutates live views
            return describe(view)

    def retry(self, execution_id: str, *, stage: str | None = None, mode: str = "FAILED_ACTIONS", by: str = "") -> dict:
        if mode not in RETRY_MODES:
            raise UserError(f"unknown retry mode '{mode}'; expected one of {', '.join(RETRY_MODES)}")
        with self.lock:
            view = self.view(execution_id)
            if view.status not in (S.FAILED, S.STOPPED):
                raise Conflict(f"execution {view.id[:8]} is {view.status}; "
                               "only a Failed or Stopped execution can be retried")
            stage = stage or view.current
            if stage is None or stage != view.current:
                raise Conflict(f"stage '{stage}' is not where execution {view.id[:8]} stopped "
                               f"(it stopped in stage {view.current or 'none'})")
            run = view.stages[stage]
            if run.status not in (S.FAILED, S.STOPPED):
                raise Conflict(f"stage {stage} is {run.status}; only a Failed or Stopped stage can be retried")
            if self.store.later_entry(view.pipeline, stage, view.row.seq):
                raise Conflict(f"a newer execution has entered stage {stage}; only the latest execution in a "
                               "stage can be retried (NotLatestPipelineExecutionException)")
            if any(v.holds(stage) for v in self.scheduler.views.values() if v.pipeline == view.pipeline):
                raise Conflict(f"stage {stage} is busy with another execution; retry when it is free")
            stage_def = view.definition.stage(stage)
            if mode == "ALL_ACTIONS":
                reset = [a.name for a in stage_def.actions]
            else:
                reset = [a.name for a in stage_def.actions if (ar := run.actions.get(a.name)) is None
                         or ar.status in (S.FAILED, S.ABANDONED)]
            detail = {"retry": mode, "by": by}
            self.scheduler._transition(view, "execution", S.IN_PROGRESS, detail=detail)
            self.scheduler._transition(view, "stage", S.IN_PROGRESS, stage, detail={**detail, "reset": reset})
            self.scheduler.track(view)
        with self.lock:  # the scheduler thread mutates live views
            return describe(view)

    def decide(self, execution_id: str, decision: str, *, comment: str = "", by: str = "",
               stage: str | None = None, action: str | None = None, token: str | None = None) -> dict:
        if decision not in ("Approved", "Rejected"):
            raise UserError(f"decision must be Approved or Rejected, got '{decision}'")
        with self.lock:
            view = self.view(execution_id)
            pending = [r for r in view.running_actions()
                       if view.definition.stage(r.stage).action(r.action).provider == "Manual"
                       and (stage is None or r.stage == stage) and (action is None or r.action == action)]
            if view.status not in S.ACTIVE_EXECUTION or not pending:
                raise Conflict(f"execution {view.id[:8]} ({view.status}) has no approval waiting"
                               + (f" in {stage or ''}{'.' if stage and action else ''}{action or ''}"
                                  if stage or action else ""),
                               hint="`conveyor status` shows which executions wait for approval")
            if len(pending) > 1:
                names = ", ".join(f"{r.stage}.{r.action}" for r in pending)
                raise UserError(f"execution {view.id[:8]} waits for several approvals ({names})",
                                hint="name one with --stage and --action")
            run = pending[0]
            if token is not None and token != run.detail.get("token"):
                raise Conflict("the approval token does not match the approval waiting (InvalidApprovalTokenException)")
            status = S.SUCCEEDED if decision == "Approved" else S.FAILED
            detail = {"decision": decision, "by": by, "comment": comment[:512], "decidedAt": self.clock()}
            if status == S.FAILED:
                detail["error"] = f"rejected by {by or 'someone'}" + (f": {comment}" if comment else "")
            self.scheduler._transition(view, "action", status, run.stage, run.action, run.attempt, detail)
        self.scheduler.wake()
        with self.lock:  # the scheduler thread mutates live views
            return describe(view)

    # -- reads
    def view(self, execution_id: str) -> ExecutionView:
        with self.lock:
            full = self._resolve_id(execution_id)
            if full in self.scheduler.views:
                return self.scheduler.views[full]
            row = self.store.execution(full)
            assert row is not None
            return ExecutionView.build(row, self.store.transitions(full))

    def _active(self, execution_id: str, verb: str) -> ExecutionView:
        view = self.view(execution_id)
        if view.status not in S.ACTIVE_EXECUTION:
            raise Conflict(f"execution {view.id[:8]} is {view.status} and cannot be {verb}")
        return view

    def _resolve_id(self, execution_id: str) -> str:
        if self.store.execution(execution_id) is not None:
            return execution_id
        matches = self.store.find_executions(execution_id) if len(execution_id) >= 4 else []
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise UserError(f"execution id '{execution_id}' is ambiguous ({', '.join(m[:8] for m in matches)})",
                            hint="give more characters of the id")
        raise NotFound(f"no execution '{execution_id}'", hint="`conveyor history` lists executions")

    def _registration(self, pipeline: str | None) -> dict:
        regs = self.store.pipelines()
        if pipeline is None:
            if len(regs) == 1:
                return regs[0]
            raise UserError("no repository given and " + ("no pipeline is registered" if not regs else
                            f"several pipelines are registered ({', '.join(r['name'] for r in regs)})"),
                            hint="run `conveyor run` inside the repository, or pass --pipeline NAME")
        for reg in regs:
            if reg["name"] == pipeline:
                return reg
        raise NotFound(f"no pipeline '{pipeline}'", hint="`conveyor run` inside its repository registers it")

    def describe(self, execution_id: str) -> dict:
        with self.lock:  # the scheduler thread mutates live views
            return describe(self.view(execution_id))

    def history(self, pipeline: str | None = None, limit: int = 20) -> list[dict]:
        rows = self.store.executions(pipeline, limit=limit)
        with self.lock:
            return [summary(self.view(r.id)) for r in rows]

    def pipelines(self) -> list[dict]:
        out = []
        for reg in self.store.pipelines():
            rows = self.store.executions(reg["name"], limit=1)
            with self.lock:
                out.append({**reg, "latest": summary(self.view(rows[0].id)) if rows else None})
        return out

    def log_streams(self, execution_id: str) -> list[dict]:
        view = self.view(execution_id)
        streams = []
        for t in view.events:
            if t.scope == "action" and t.status == S.IN_PROGRESS:
                assert t.stage is not None and t.action is not None  # an action's transition names both
                path = self.scheduler.log_path(view.id, t.stage, t.action, t.attempt)
                streams.append({"stage": t.stage, "action": t.action, "attempt": t.attempt,
                                "size": path.stat().st_size if path.exists() else 0})
        return streams

    def log_text(self, execution_id: str, stage: str, action: str, attempt: int, offset: int = 0) -> tuple[str, int]:
        view = self.view(execution_id)
        path = self.scheduler.log_path(view.id, stage, action, attempt)
        if not path.exists():
            return "", offset
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read(1 << 20)
        cut = data.rfind(b"\n") + 1 if len(data) == 1 << 20 else len(data)
        return data[:cut].decode("utf-8", errors="replace"), offset + cut

    # -- secrets (values go in, never out: reads list names and dates only)
    def set_secret(self, name: str, value: str, by: str = "") -> dict:
        self.secrets.set(name, value)
        log.info("secret %s set by %s", name, by or "?")
        return {"name": name, "set": True}

    def list_secrets(self) -> list[dict]:
        return [{"name": s.name, "createdAt": s.created_at.timestamp(), "updatedAt": s.updated_at.timestamp()}
                for s in self.secrets.list()]

    def delete_secret(self, name: str, by: str = "") -> dict:
        self.secrets.delete(name)
        log.info("secret %s removed by %s", name, by or "?")
        return {"name": name, "deleted": True}

    def reports(self, execution_id: str) -> list[dict]:
        """Every test and coverage report of an execution, with its cases (latest attempts)."""
        import json

        view = self.view(execution_id)
        out = []
        for stage in view.definition.stages:
            run = view.stages.get(stage.name)
            for action in stage.actions:
                ar = run.actions.get(action.name) if run else None
                if ar is None:
                    continue
                path = self.scheduler.run_dir(view.id, stage.name, action.name, ar.attempt) / "reports.json"
                if path.exists():
                    for group in json.loads(path.read_text()):
                        out.append({"stage": stage.name, "action": action.name, "attempt": ar.attempt, **group})
        return out

    # -- registry
    def _declare_repositories(self, definition: PipelineDef) -> None:
        """conveyor.yml `repositories:` (ECR's repository settings) apply to the pipeline's registry."""
        registry = self.scheduler.registry_for(definition) or self.registry
        if registry is None:
            return
        for name, conf in repository_settings(definition.raw).items():
            registry.ensure_repository(
                name, tag_mutability=conf.get("imageTagMutability", "MUTABLE"),
                exclusion_filters=tuple(conf.get("imageTagMutabilityExclusionFilters") or ()),
                lifecycle_policy=conf.get("lifecyclePolicy"),
                scan_on_push=bool((conf.get("imageScanningConfiguration") or {}).get("scanOnPush", False)))

    def images(self, repository: str | None = None) -> dict:
        if self.registry is None:
            raise ConveyorError("no local registry is running", hint="run `conveyor setup`, then `conveyor up`")
        repos = [r for r in self.registry.describe_repositories() if repository is None or r.name == repository]
        if repository is not None and not repos:
            raise NotFound(f"no repository '{repository}' in the local registry",
                           hint="push an image to it, or declare it under `repositories:` in conveyor.yml")
        return {"registry": getattr(self.registry, "address", ""),
                "repositories": [{**r.to_json(), "images": [i.to_json() for i in self.registry.describe_images(r.name)]}
                                 for r in repos]}

