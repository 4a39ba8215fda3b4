"""Names in an exported template. Logical ids come from conveyor.yml names (PascalCase, letters
and digits only, the same for the same file); AWS names are the ones the AWS backend looks for
(docs/aws.md; conveyor.providers.aws.settings.AwsEnvironment; conveyor.deploy.spec for target
groups): a test holds the two together.

    >>> pascal("orders-service"), pascal("orders_5xx.alarm")
    ('OrdersService', 'Orders5xxAlarm')
    >>> cluster_name("production", {}), cluster_name("production", {"cluster": "orders-prod"})
    ('conveyor-production', 'orders-prod')
    >>> target_group_name("production-orders-1"), target_group_name("staging_eu-orders")
    ('production-orders-1', 'staging-eu-orders')
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

#: ELBv2 CreateTargetGroup Name: 1-32 letters, digits and hyphens, no hyphen at either end.
TARGET_GROUP_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?")
TARGET_GROUP_NAME_LIMIT = 32
DIGEST_LENGTH = 8


def pascal(name: str) -> str:
    """A logical-id fragment: the name's alphanumeric runs, each capitalised."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", name) if part)


def digest(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:DIGEST_LENGTH].upper()


def logical_ids(names: Iterable[str]) -> dict[str, str]:
    """PascalCase ids for names of one kind; names that would share an id (a-b, a_b) each get
    their digest appended, whatever their order, so an id never depends on its neighbours.

    >>> logical_ids(["orders", "a-b", "a_b"])
    {'orders': 'Orders', 'a-b': 'ABD44362D6', 'a_b': 'AB648FA9B3'}
    """
    names = list(dict.fromkeys(names))
    counts: dict[str, int] = {}
    for name in names:
        counts[pascal(name)] = counts.get(pascal(name), 0) + 1
    return {name: pascal(name) + (digest(name) if counts[pascal(name)] > 1 or not pascal(name) else "")
            for name in names}


def cluster_name(environment: str, settings: Mapping[str, Any]) -> str:
    """`environments.E.cluster`, default conveyor-E (AwsEnvironment.cluster)."""
    return str(settings.get("cluster") or f"conveyor-{environment}")


def codedeploy_application_name(environment: str, settings: Mapping[str, Any]) -> str:
    """`environments.E.codeDeployApplication`, default conveyor-E (AwsEnvironment.codedeploy_application)."""
    return str(settings.get("codeDeployApplication") or f"conveyor-{environment}")


def target_group_name(name: str) -> str:
    """A valid ELBv2 target group name for `name` (itself when it is one already): other
    characters become hyphens, and a name too long keeps its start and gets its digest."""
    if TARGET_GROUP_NAME.fullmatch(name):
        return name
    clean = re.sub(r"-+", "-", re.sub(r"[^A-Za-z0-9-]", "-", name)).strip("-") or "tg"
    if len(clean) > TARGET_GROUP_NAME_LIMIT:
        clean = clean[:TARGET_GROUP_NAME_LIMIT - DIGEST_LENGTH - 1].rstrip("-") + "-" + digest(name).lower()
    return clean


def log_group_name(environment: str, service: str) -> str:
    """Where a service's containers log (awslogs), one group per service and environment."""
    return f"/conveyor/{environment}/{service}"


def custom_config_name(environment: str, service: str) -> str:
    """The name a custom deployment config gets when conveyor.yml gives it none."""
    return f"conveyor-{environment}-{service}"
