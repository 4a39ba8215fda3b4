"""CodeDeploy blue/green for the local ECS services (aws-semantics §5). The controller
(controller.DeployController) composes one collaborator per concern:

    reasons        every error code and message text (the catalog)
    steps          the lifecycle's phases and its pure rules, as decisions
    lifecycle      carries out one step per pass
    hook_runs      lifecycle hooks on a worker pool (hooks*: invoking one hook once)
    alarms, gates  the metrics sampler and alarm evaluation; the alarm stop and traffic gate
    probes         synthetic traffic to the test listener
    routing        listener forward weights, healthy targets, reroute to blue
    rollback       rollback deployments; redeploying the previous revision
    outcomes       how a deployment ends
    journal        the history: events and human actions
    revision       the AppSpec and the deployment group
    task_set_pair  which target group green gets
    states, store, views   statuses as tables, deployments as rows, GetDeployment
    loop           the control loop
"""
