"""The local container registry with ECR's repository semantics. Pure rules: tag mutability
(`mutability`) and lifecycle policies (`lifecycle_grammar`: the document and its validation;
`lifecycle`: which images a policy expires or archives, and why)."""
