"""Conveyor's event stream: every state change the engine and the deploy controllers record, as a
typed event. Each store writes its events into its own `outbox` table in the same SQLite
transaction as the change (conveyor.events.outbox); the daemon's relay copies them, in order,
into the one stream that `conveyor events`, `GET /api/v1/events` and the notifier read."""
