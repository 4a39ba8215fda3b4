"""CodeDeploy blue/green for ECS services, locally: deployment groups and configs, the AppSpec,
lifecycle hooks, alarms on live metrics, traffic shifting through HAProxy and rollback."""
