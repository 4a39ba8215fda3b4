"""Metrics (HAProxy statistics sampled every second into SQLite) and CloudWatch-style alarms."""
