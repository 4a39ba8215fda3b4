"""The API's notification routes: a thin adapter over the notifier (conveyor.notify.notifier).

    GET  /api/v1/notifications/rules                 every pipeline's rules
    POST /api/v1/notifications/rules/RULE/test       send a synthetic event to the rule's targets now
    GET  /api/v1/notifications/deliveries?failed=&limit=
    GET  /api/v1/notifications/deliveries/ID         one delivery with its attempts
    POST /api/v1/notifications/deliveries/ID/redeliver

RULE is `PIPELINE/RULE` (the slash percent-encoded) or a rule name one pipeline has.
"""

from __future__ import annotations

from collections.abc import Callable

from conveyor.errors import ConveyorError
from conveyor.notify.notifier import Notifier
from conveyor.server.schema import BOOL, BY, INT, OPT_STR, STR, array, obj

Route = Callable[..., None]  # Api._route(method, pattern, fn, summary=, body=, query=, response=)

BASE = "/api/v1/notifications"
DELIVERY = obj({"id": STR, "eventId": STR, "eventType": STR, "pipeline": STR, "rule": STR, "target": STR,
                "status": {"type": "string", "enum": ["pending", "delivered", "dead"]}, "attempts": INT,
                "lastError": OPT_STR, "receipt": OPT_STR},
               ("id", "eventId", "eventType", "pipeline", "rule", "target", "status", "attempts"))
RULE = obj({"pipeline": STR, "name": STR, "events": array(STR), "detailType": STR}, ("pipeline", "name", "events"))
TEST = obj({"pipeline": STR, "rule": STR, "results": array(obj({"target": INT, "kind": STR, "ok": BOOL},
                                                               ("target", "kind", "ok")))},
           ("pipeline", "rule", "results"))


class NotificationsOff(ConveyorError):
    """The daemon runs without a notifier (no event stream)."""


def add_notify_routes(route: Route, notifier: Notifier | None) -> None:
    def need() -> Notifier:
        if notifier is None:
            raise NotificationsOff("notifications are not running in this daemon")
        return notifier

    r = route
    r("GET", BASE + "/rules", lambda q, b: need().rules(), summary="every pipeline's notification rules",
      response=array(RULE))
    r("POST", BASE + r"/rules/(?P<rule>[^/]+)/test", lambda q, b, rule: need().test(rule),
      summary="send a synthetic event of the rule to each of its targets now; the result per target",
      body=obj({"by": BY}), response=TEST)
    r("GET", BASE + "/deliveries", lambda q, b: need().deliveries(
        failed=str(q.get("failed", "false")).lower() in ("true", "1", "yes"), limit=int(q.get("limit", 50))),
      summary="recent deliveries, newest first; failed=true: dead ones and pending ones that failed",
      query={"failed": {"type": "string", "enum": ["true", "false", "1", "0", "yes", "no"]},
             "limit": {"type": "integer", "minimum": 1, "maximum": 1000}},
      response=array(DELIVERY))
    r("GET", BASE + r"/deliveries/(?P<id>[^/]+)", lambda q, b, id: need().delivery(id),
      summary="one delivery and its attempts", response=DELIVERY)
    r("POST", BASE + r"/deliveries/(?P<id>[^/]+)/redeliver", lambda q, b, id: need().redeliver(id),
      summary="send a delivery again now, with a fresh retry budget", body=obj({"by": BY}), response=DELIVERY)
