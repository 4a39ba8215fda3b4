"""A price calculator service: the multi-stage sample's application (standard library only)."""
