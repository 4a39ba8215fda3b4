"""Notifications: rules from conveyor.yml pick events from the stream (conveyor.events) and send
them to targets (webhook, Slack, email, a command, commit statuses), with retries that survive
restarts and a dead-letter end."""
