"""conveyor.yml as the AWS-native stack: CloudFormation templates for each environment (ECR, ECS,
the load balancer, CloudWatch alarms, CodeDeploy, IAM roles) and for the pipeline itself
(CodePipeline V2, CodeBuild projects, approvals, notifications), deterministic and commented with
the conveyor.yml key each resource comes from. `conveyor export cloudformation` writes them;
`conveyor provision ENV` creates or updates an environment's stack through a change set.

    template.py     the template as data and its YAML rendering
"""
