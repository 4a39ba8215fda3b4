"""Creating deployments of a service: registering the task definition revision it runs (images
by container name, placeholders filled from the running revision) and making it the PRIMARY
deployment (rolling), storing a blue/green service's declaration for the deploy controller, and
`conveyor rollback` of a rolling service.

Mixed into ServiceController (store, lock, _taskdef, _primary, _service_row, _steady, _wake).
"""

from __future__ import annotations

from conveyor.config.imagedefs import ImageDefinition, apply_image_definitions
from conveyor.deploy.revisions import check_load_balancer, default_container, fill_placeholders
from conveyor.deploy.spec import ServiceSpec
from conveyor.providers.local.ecs.store import COMPLETED, FAILED, Deployment
from conveyor.config.taskdef import parse_taskdef
from conveyor.errors import ConfigError, NotFound, UserError
from conveyor.lb.model import validate_topology


class Deployments:
    def deploy(self, environment: str, service: str, *, spec: ServiceSpec | None = None,
               taskdef: dict | None = None, images: list[ImageDefinition] = (), origin: dict | None = None,
               source: str = "taskdef.json", images_source: str = "imagedefinitions.json") -> Deployment:
        """Register a task definition revision (the given one, or the service's current one)
        with the images replaced by container name, and make it the service's PRIMARY
        deployment. Deploying what the service already runs starts nothing (idempotent)."""
        with self.lock:
            row = self.store.service(environment, service)
            if spec is None:
                if row is None:
                    raise NotFound(f"no service '{service}' in environment '{environment}'",
                                   hint="declare it under environments: in conveyor.yml and deploy it from a "
                                        "pipeline, or run `conveyor deploy` where that conveyor.yml is")
                spec = ServiceSpec.from_json(row.spec)
            if spec.controller != "ECS":
                raise UserError(f"service {service} in {environment} uses the {spec.controller} deployment controller",
                                hint="a rolling deployment needs controller: ECS; CODE_DEPLOY services are "
                                     "deployed by the CodeDeployToECS action")
            name = self._register_revision(spec, row, taskdef, images, source, images_source)
            desired = spec.desired_count
            if row is not None:
                declared_before = row.spec.get("desired_count")
                desired = row.desired_count if declared_before == spec.desired_count else spec.desired_count
            self.store.put_service(environment, service, spec.to_json(), row.taskdef if row else name, desired)
            primary = self._primary(environment, service)
            if primary is not None and primary.taskdef == name and primary.rollout_state != FAILED:
                self._wake.set()
                return primary
            dep = self.store.create_deployment(environment, service, name, origin or {})
            self.store.event(environment, service, f"(service {service}) started deployment {dep.id} of {name}.")
            self._steady.pop((environment, service), None)
            self._wake.set()
            return dep

    def _register_revision(self, spec: ServiceSpec, row, taskdef: dict | None, images: list[ImageDefinition],
                           source: str, images_source: str) -> str:
        """Register the task definition revision a deployment runs: the given one (or the
        service's current one) with images replaced by container name and placeholders left by
        imagedefinitions filled from the running revision. Returns `family:N`."""
        current = self._taskdef(row.taskdef) if row else None
        if taskdef is not None:
            base, problems = parse_taskdef(taskdef, source)
            errors = [d for d in problems if getattr(d, "severity", "error") == "error"]
            if base is None or errors:
                raise ConfigError(errors or problems)
        elif current is not None:
            base = current
        else:
            raise UserError(f"service {spec.name} in {spec.environment} has no task definition yet",
                            hint="deploy it once from its pipeline or with --file conveyor.yml")
        images = [i if i.name else ImageDefinition(default_container(spec, base, images_source), i.image_uri)
                  for i in images]
        new = apply_image_definitions(base, images, images_source)
        new = fill_placeholders(new, current, images_source)
        check_load_balancer(spec, new, source)
        if spec.target_group is not None:  # what HAProxy would refuse, before anything changes
            validate_topology(spec.listeners, spec.target_groups)
        name, _ = self.store.register_taskdef(new.family, new.raw)
        self._taskdefs.pop(name, None)
        return name

    def register_service(self, spec: ServiceSpec, *, taskdef: dict | None = None,
                         images: list[ImageDefinition] = (), source: str = "taskdef.json",
                         images_source: str = "imagedefinitions.json") -> str:
        """Blue/green: store the service's declaration and register the revision a deployment
        will run (the deploy controller creates the task sets). Returns `family:N`."""
        with self.lock:
            row = self.store.service(spec.environment, spec.name)
            name = self._register_revision(spec, row, taskdef, images, source, images_source)
            desired = spec.desired_count
            if row is not None and row.spec.get("desired_count") == spec.desired_count:
                desired = row.desired_count
            self.store.put_service(spec.environment, spec.name, spec.to_json(), row.taskdef if row else name, desired)
            # The listeners exist before the deploy controller shifts weights on them.
            self._apply_load_balancer(spec.environment, self.store.services(spec.environment))
            self._wake.set()
            return name

    def roll_back_to_previous(self, environment: str, service: str, *, who: str, reason: str = "") -> Deployment:
        """`conveyor rollback` of a rolling service: deploy the last revision that completed
        before the current one, as a new (rolling) deployment."""
        with self.lock:
            row = self._service_row(environment, service)
            primary = self._primary(environment, service)
            current = primary.taskdef if primary else row.taskdef
            previous = next((d for d in self.store.deployments(environment, service, limit=100)
                             if d.rollout_state == COMPLETED and d.taskdef != current), None)
            if previous is None:
                raise UserError(f"{environment}/{service} has no earlier completed revision to roll back to")
            dep = self.store.create_deployment(environment, service, previous.taskdef,
                                               {"rollback": True, "to": previous.id, "by": who, "reason": reason})
            self.store.event(environment, service, f"(service {service}) rollback to {previous.taskdef} by {who}"
                             + (f": {reason}" if reason else "") + f" (deployment {dep.id}).")
            self._steady.pop((environment, service), None)
        self._wake.set()
        return dep
