"""orders-service: a small HTTP JSON API used to demonstrate Conveyor pipelines."""
