"""How an alert is written on the alerts topic (and in ``replay``'s output): one contract, the
``Alert`` of ``detector/events.py``, rendered as its native JSON or as an OCSF Detection Finding,
optionally with CloudEvents headers.

The worker hands an ``Alert`` to the produce edge, which calls ``render_alert`` and sends what it
returns; the formats differ in the body only, never in the key, the ids or when a message is sent.
"""

from __future__ import annotations

from typing import NamedTuple

from detector.events import Alert
from detector.formats.cloudevents import cloudevent_headers, default_source
from detector.settings import Settings

__all__ = ["RenderedAlert", "encode_alert", "prepare", "render_alert"]


class RenderedAlert(NamedTuple):
    """The message value and headers of one alert."""

    value: bytes
    headers: list[tuple[str, bytes]]


def prepare(settings: Settings) -> None:
    """Load what the configured format needs now, when a sink is made: a missing or broken OCSF
    library then stops the worker at start, not in the middle of its first alerting batch."""
    if settings.alert_format == "ocsf":
        import detector.formats.ocsf  # noqa: F401 - imported for its side effect (models built)


def encode_alert(alert: Alert, settings: Settings) -> bytes:
    """The body of an alert message in the configured format."""
    if settings.alert_format == "ocsf":
        # Imported only for this format: pydantic-ocsf builds its models on import (a few hundred
        # ms) and adds an import hook for its own modules, which a native worker never needs.
        from detector.formats.ocsf import encode_finding

        return encode_finding(alert, vendor_name=settings.ocsf_vendor_name)
    return alert.model_dump_json().encode()


def render_alert(alert: Alert, settings: Settings) -> RenderedAlert:
    """Value and headers: the dedup key (``alert_id``, ``revision``) travels in headers in every
    format, and the CloudEvents attributes when ``cloudevents_headers`` is on."""
    headers = [
        ("schema_version", str(alert.schema_version).encode()),
        ("alert_id", alert.alert_id.encode()),
        ("revision", str(alert.revision).encode()),
    ]
    if settings.cloudevents_headers:
        source = settings.cloudevents_source or default_source(settings.group_id)
        headers.extend(cloudevent_headers(alert, alert_format=settings.alert_format, source=source))
    return RenderedAlert(encode_alert(alert, settings), headers)
