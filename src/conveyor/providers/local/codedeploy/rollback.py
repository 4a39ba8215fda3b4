"""Rolling back (aws-semantics §5.7): production (and test) traffic back on the original task
set's target group while blue still runs — one runtime call per listener, milliseconds — with a
rollback deployment (creator codeDeployRollback, one phase: RollbackCleanup) that drains the
replacement; after blue is gone, the previous revision deployed again as a new deployment.

    rollbacks = Rollbacks(store, task_sets, router, journal)
    rollbacks.reroute(d, "alarm p99 is in ALARM: …")     # after a failure or a stop with rollback
    plan = rollbacks.previous("production", "orders", who="ana")
    # KeptAlive(...): rollbacks.to_kept(plan, who="ana", reason="p99 up"); Redeploy(...): create it
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from conveyor.deploy.spec import ServiceSpec
from conveyor.errors import NotFound, UserError
from conveyor.providers.local.codedeploy import events as stream_events
from conveyor.providers.local.codedeploy import reasons
from conveyor.providers.local.codedeploy.journal import Journal
from conveyor.providers.local.codedeploy.revision import PLACEHOLDER, TASK_DEFINITION_ARN, load_balancer_of, spec_of
from conveyor.providers.local.codedeploy.routing import TrafficRouter
from conveyor.providers.local.codedeploy.states import IN_PROGRESS, SUCCEEDED
from conveyor.providers.local.codedeploy.steps import ROLLBACK_CLEANUP
from conveyor.providers.local.codedeploy.store import ROLLBACK, CodeDeployment, DeploymentStore
from conveyor.providers.local.codedeploy.task_set_pair import INACTIVE, PRIMARY, kept_alive, replacement_tg_of
from conveyor.providers.local.ecs.task_set_api import TaskSetApi, TaskSetRecord

#: A redeploy of the previous revision moves all traffic at once: production is what is broken.
REDEPLOY_CONFIG = "CodeDeployDefault.ECSAllAtOnce"
#: How many past deployments a rollback looks through for the previous revision.
HISTORY_DEPTH = 50


@dataclass(frozen=True)
class KeptAlive:
    """KEEP_ALIVE left the previous task set running and healthy: route back to it."""

    spec: ServiceSpec
    primary: TaskSetRecord
    kept: TaskSetRecord


@dataclass(frozen=True)
class Redeploy:
    """Blue is gone: create a deployment of the previous revision with the last AppSpec."""

    spec: ServiceSpec
    task_definition: str
    appspec: str
    origin: dict
    workdir: str | None
    config_override: dict = field(default_factory=lambda: {"config": REDEPLOY_CONFIG})


class Rollbacks:
    def __init__(self, store: DeploymentStore, services: TaskSetApi, router: TrafficRouter, journal: Journal):
        self._store = store
        self._services = services
        self._router = router
        self._journal = journal

    def reroute(self, d: CodeDeployment, why: str, *, who: str | None = None) -> None:
        """Traffic back on the original task set at once, if it can take it, and a rollback
        deployment to drain the replacement. `who` asked for it (None: automatic)."""
        spec = spec_of(self._services, d)
        if d.original_task_set is None:
            self._journal.log(d, reasons.ROLLBACK_FIRST_DEPLOYMENT)
            return
        original = self._services.task_set(d.original_task_set)
        if (original is None or original.status == INACTIVE or not d.original_tg
                or not self._router.healthy(spec.environment, d.original_tg)):
            self._journal.log(d, reasons.ROLLBACK_BLUE_UNHEALTHY)
            return
        lb = load_balancer_of(spec)
        took = self._router.reroute(spec.environment, (lb.port, lb.test_port), to=d.original_tg,
                                    away_from=replacement_tg_of(d))
        if original.status != PRIMARY:
            self._services.update_service_primary_task_set(original.id)
        if (original.scale or 0) < 100:
            self._services.update_task_set(original.id, scale=100)
        rb = self._store.create(d.environment, d.service, taskdef=original.task_definition, appspec="", group=d.grp,
                                creator=ROLLBACK, origin={"rollbackOf": d.id}, workdir=d.workdir, status=IN_PROGRESS)
        self._store.update(rb.id, phase=ROLLBACK_CLEANUP, original_task_set=d.original_task_set,
                           original_tg=d.original_tg, replacement_task_set=d.replacement_task_set,
                           replacement_tg=d.replacement_tg, traffic=0)
        info = {"rollbackDeploymentId": rb.id, "rollbackMessage": reasons.rollback_message(why),
                "trafficRestoredSeconds": round(took, 4)}
        ended = self._store.require(d.id)  # (with the error code the end just wrote)
        self._store.update(d.id, rollback_info=info, traffic=0,
                           outbox=[stream_events.rolled_back(ended, rollback_id=rb.id, why=why, who=who,
                                                             now=self._store.clock())])
        self._journal.log(d, reasons.rerouted(rb.id, d.original_tg, took))

    def previous(self, environment: str, service: str, *, who: str) -> KeptAlive | Redeploy:
        """How to get production back on the previous revision when no deployment can reroute."""
        spec = self._services.service_spec(environment, service)
        if spec is None:
            raise NotFound(reasons.no_service(environment, service))
        primary, kept = kept_alive(self._services.task_sets(environment, service))
        if kept is not None and primary is not None and self._router.healthy(environment, kept.target_group):
            return KeptAlive(spec, primary, kept)
        past = [d for d in self._store.list(environment, service, limit=HISTORY_DEPTH) if d.status == SUCCEEDED]
        current = primary.task_definition if primary else None
        previous = next((d.taskdef for d in past if d.taskdef != current), None)
        if previous is None:
            raise UserError(reasons.no_earlier_revision(environment, service), hint=reasons.HINT_NO_EARLIER_REVISION)
        last = past[0]
        return Redeploy(spec, previous, last.appspec.replace(TASK_DEFINITION_ARN.format(last.taskdef), PLACEHOLDER),
                        origin={"rollbackOf": last.id, "by": who}, workdir=last.workdir)

    def to_kept(self, plan: KeptAlive, *, who: str, reason: str) -> CodeDeployment:
        """Point both listeners back at the kept task set, make it PRIMARY, and drain the
        current one (a rollback deployment)."""
        spec, primary, kept = plan.spec, plan.primary, plan.kept
        # previous() found kept's target group healthy; the PRIMARY next to a kept task set is a
        # blue/green one, in a target group of the pair
        assert kept.target_group is not None and primary.target_group is not None
        lb = load_balancer_of(spec)
        took = self._router.reroute(spec.environment, (lb.port, lb.test_port), to=kept.target_group,
                                    away_from=primary.target_group)
        self._services.update_service_primary_task_set(kept.id)
        rb = self._store.create(spec.environment, spec.name, taskdef=kept.task_definition, appspec="",
                                group={"deployment": spec.deployment, "alarms": spec.environment_alarms},
                                creator=ROLLBACK, origin={"by": who, "keptAlive": kept.id}, status=IN_PROGRESS)
        routed = dataclasses.replace(rb, phase=ROLLBACK_CLEANUP, original_task_set=kept.id,
                                     original_tg=kept.target_group, replacement_task_set=primary.id,
                                     replacement_tg=primary.target_group)
        self._store.update(rb.id, phase=ROLLBACK_CLEANUP, original_task_set=kept.id, original_tg=kept.target_group,
                           replacement_task_set=primary.id, replacement_tg=primary.target_group,
                           rollback_info={"trafficRestoredSeconds": round(took, 4),
                                          "rollbackMessage": reasons.back_to_kept(kept.id)},
                           outbox=[stream_events.rolled_back_to_kept(routed, who=who, reason=reason,
                                                                     now=self._store.clock())])
        rb = self._store.require(rb.id)
        self._journal.action(rb, who, reasons.action_to_kept(kept.task_definition), reason)
        self._journal.log(rb, reasons.rerouted_to_kept(kept.target_group, took, primary.id))
        return rb
