"""CloudEvents 1.0 attributes of an alert message, in the Kafka protocol binding's binary mode.

Binary mode leaves the body as it is (a native alert or an OCSF finding) and puts the event's
attributes in ``ce_*`` headers, so a CloudEvents-aware router can route and deduplicate alerts
without parsing them, and a consumer that does not know CloudEvents sees the same body as before.
Six headers need no SDK: this module writes them as the binding specifies (UTF-8 values,
``content-type`` for ``datacontenttype``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from detector.events import Alert

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
EVENT_TYPES = {
    "native": "io.extraction-detector.alert.v1",
    "ocsf": "io.extraction-detector.ocsf.detection-finding",
}


def default_source(group_id: str) -> str:
    """``ce_source`` when none is configured: the detector's consumer group names the producer
    (one deployment = one group), as a URI reference."""
    return f"/extraction-detector/{group_id}"


def event_id(alert: Alert) -> str:
    """The episode and its revision: a re-sent or recomputed alert is the same CloudEvent
    (``source`` + ``id`` is the spec's duplicate test), a new revision is a new one."""
    return f"{alert.alert_id}:{alert.revision}"


def rfc3339(moment: datetime) -> str:
    """RFC 3339 in UTC with ``Z`` (a naive time is taken as UTC, as the worker's clocks give)."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return aware.isoformat().replace("+00:00", "Z")


def cloudevent_headers(alert: Alert, *, alert_format: str, source: str) -> list[tuple[str, bytes]]:
    """The ``ce_*`` headers (and ``content-type``) of one alert message; ``ce_time`` is when
    the worker emitted it, ``ce_subject`` the account the message is keyed by."""
    return [
        ("ce_specversion", SPEC_VERSION.encode()),
        ("ce_id", event_id(alert).encode()),
        ("ce_source", source.encode()),
        ("ce_type", EVENT_TYPES[alert_format].encode()),
        ("ce_time", rfc3339(alert.emitted_at).encode()),
        ("ce_subject", alert.account_id.encode("utf-8", "surrogatepass")),
        ("content-type", CONTENT_TYPE.encode()),
    ]
