"""The domain: orders kept in memory (each container has its own; this is a demo service)."""

from __future__ import annotations

import threading
from datetime import datetime, timezone


class InvalidOrder(ValueError):
    """The request body does not describe an order; the message says which field is wrong."""


def parse_order(body: object) -> tuple[str, int]:
    """Validate a POST /orders body: {"item": "...", "quantity": 1..1000 (default 1)}."""
    if not isinstance(body, dict):
        raise InvalidOrder("the body must be a JSON object like {\"item\": \"book\", \"quantity\": 2}")
    unknown = sorted(set(body) - {"item", "quantity"})
    if unknown:
        raise InvalidOrder(f"unknown field(s): {', '.join(unknown)}")
    item = body.get("item")
    if not isinstance(item, str) or not item.strip() or len(item) > 200:
        raise InvalidOrder("'item' must be a non-empty string of at most 200 characters")
    quantity = body.get("quantity", 1)
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= 1000:
        raise InvalidOrder("'quantity' must be an integer from 1 to 1000")
    return item.strip(), quantity


class OrderStore:
    """Thread-safe in-memory orders with increasing integer ids."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._orders: dict[int, dict] = {}
        self._next_id = 1

    def create(self, item: str, quantity: int) -> dict:
        with self._lock:
            order = {
                "id": self._next_id,
                "item": item,
                "quantity": quantity,
                "createdAt": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            }
            self._orders[self._next_id] = order
            self._next_id += 1
            return dict(order)

    def get(self, order_id: int) -> dict | None:
        with self._lock:
            order = self._orders.get(order_id)
            return dict(order) if order else None

    def list(self) -> list[dict]:
        with self._lock:
            return [dict(o) for o in self._orders.values()]
