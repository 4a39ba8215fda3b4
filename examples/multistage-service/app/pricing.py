"""Prices with tax and a quantity discount, in integer cents so no float rounding leaks out."""

from __future__ import annotations

TAX_RATES = {"standard": 20, "reduced": 5, "zero": 0}  # percent


def discount_percent(quantity: int) -> int:
    if quantity >= 100:
        return 10
    if quantity >= 10:
        return 5
    return 0


def total_cents(unit_cents: int, quantity: int, rate: str = "standard") -> int:
    if unit_cents < 0 or quantity < 1:
        raise ValueError("unit price must be >= 0 and quantity >= 1")
    if rate not in TAX_RATES:
        raise ValueError(f"unknown tax rate {rate!r}")
    net = unit_cents * quantity * (100 - discount_percent(quantity))
    return (net * (100 + TAX_RATES[rate]) + 5000) // 10000  # round half up to a cent
