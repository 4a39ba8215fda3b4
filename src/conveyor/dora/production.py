"""Which environments are production for DORA metrics.

An environment is production when conveyor.yml says `production: true` on it; without the key,
when it is named `production` or `prod`. `production: false` takes an environment so named out.

    >>> is_production("production", {})
    True
    >>> is_production("live", {"live": True}), is_production("prod", {"prod": False})
    (True, False)
    >>> production_flags([{"environments": {"live": {"production": True}, "staging": {}}}])
    {'live': True}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

#: Environment names that are production when conveyor.yml does not say otherwise.
PRODUCTION_NAMES = ("production", "prod")


def is_production(environment: str, flags: Mapping[str, bool]) -> bool:
    """`flags`: environment -> the `production:` value declared for it (absent: not declared)."""
    if environment in flags:
        return bool(flags[environment])
    return environment in PRODUCTION_NAMES


def production_flags(definitions: Iterable[Mapping[str, Any]]) -> dict[str, bool]:
    """The `production:` flags the pipelines' definitions (conveyor.yml mappings) declare. When two
    pipelines disagree about one environment, true wins: someone calls it production."""
    flags: dict[str, bool] = {}
    for definition in definitions:
        envs = definition.get("environments")
        if not isinstance(envs, Mapping):
            continue
        for name, body in envs.items():
            if isinstance(body, Mapping) and isinstance(body.get("production"), bool):
                flags[str(name)] = flags.get(str(name), False) or body["production"]
    return flags
