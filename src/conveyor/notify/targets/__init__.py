"""The senders behind notification targets, one module per kind, and the one way to make one
from a checked target (conveyor.config.notification_targets.TargetDef).

    target = build_target(TargetDef("webhook", spec), store.resolve_reference, allow_host_commands=False)
    target.send(message)        # a receipt, or DeliveryError(retry=...)

`secrets` maps a secret reference (`name` or `name:json-key`) to its value; it is called at each
send, so a rotated secret takes effect at the next delivery, and every value read is masked out of
receipts and errors. A command target when host commands are not allowed raises
DeliveryError(retry=False) here: the rule parser refuses such a rule, this is the second lock.
"""

from __future__ import annotations

import socket
import time
from typing import Callable

from conveyor.config.notification_targets import TargetDef
from conveyor.notify.target import DeliveryError, Target
from conveyor.notify.targets.command import CommandTarget
from conveyor.notify.targets.commit_status import CommitStatusTarget
from conveyor.notify.targets.credentials import Credentials
from conveyor.notify.targets.email import EmailTarget
from conveyor.notify.targets.slack import SlackTarget
from conveyor.notify.targets.webhook import WebhookTarget


def default_source() -> str:
    """The CloudEvents `source` of this installation."""
    return f"conveyor://{socket.gethostname() or 'localhost'}"


def build_target(target: TargetDef, secrets: Callable[[str], str], *, allow_host_commands: bool,
                 source: str | None = None, clock: Callable[[], float] = time.time) -> Target:
    creds = Credentials(secrets)
    if target.kind == "webhook":
        return WebhookTarget(target.spec, creds, source=source or default_source(), clock=clock)
    if target.kind == "slack":
        return SlackTarget(target.spec, creds)
    if target.kind == "email":
        return EmailTarget(target.spec, creds)
    if target.kind == "commitStatus":
        return CommitStatusTarget(target.spec, creds)
    if target.kind == "command":
        if not allow_host_commands:
            raise DeliveryError("command targets run programs on this machine: conveyor.yml must say "
                                "`allowHostCommands: true` to use one", retry=False)
        return CommandTarget(target.spec, creds)
    raise DeliveryError(f"unknown target kind '{target.kind}'", retry=False)
