"""ECS for the local environments (aws-semantics §4): services, task definition revisions,
deployments and tasks on the container engine and HAProxy. The service controller
(controller.ServiceController) composes one collaborator per concern:

    reasons        every service event, stoppedReason and refusal text (the catalog)
    deployments    the API: task definitions, UpdateService, a blue/green service's declaration, scale
    task_sets      the task-set API the local CodeDeploy uses (task_set_api: its protocol)
    views          DescribeServices, deployment status, logs
    reconciler     the scheduler's loop: each pass observes and steps every service
    observer       one task against its pod, its checks and its target
    rolling_update, task_set_scaling   a rolling service's and a task set's next step
    lifecycle      starting and stopping tasks; circuit_breaker judges their failures
    task_health    container health checks and the load balancer's view of a task
    runtime, tasks the container engine behind a protocol; one podman pod per task
    balancers      one HAProxy per environment, owned by one object
    scheduler, workers   what the scheduler's parts share in memory; slow effects on threads
    states, store, rows, queries, taskdefs   statuses as tables, the SQLite rows and their reads
"""
