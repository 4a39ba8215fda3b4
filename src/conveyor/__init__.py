"""Conveyor: commit-to-production for containerized services."""

__version__ = "0.1.0"
