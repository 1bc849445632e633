"""What the produce edge sends for an alert: body by format, dedup headers, CloudEvents headers."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import orjson
import pytest

from detector.events import Alert
from detector.files import FileSink
from detector.formats import render_alert
from detector.formats.cloudevents import rfc3339
from detector.settings import Settings
from tests.unit.formats.alerts import EMITTED, SCENARIOS, alert

SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"


def schema_validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(orjson.loads((SCHEMAS / name).read_bytes()))


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_the_native_body_is_the_alert_v1_document(name: str) -> None:
    """Native (the default) is alert v1 JSON: it round-trips and validates against its schema."""
    value = SCENARIOS[name]
    rendered = render_alert(value, Settings())
    assert Alert.model_validate_json(rendered.value) == value
    assert list(schema_validator("alert-v1.schema.json").iter_errors(orjson.loads(rendered.value))) == []


def test_the_ocsf_body_is_a_detection_finding_of_the_same_alert() -> None:
    """With alert_format=ocsf the body is the finding, with the alert's ids."""
    value = SCENARIOS["campaign"]
    document = orjson.loads(render_alert(value, Settings(alert_format="ocsf")).value)
    assert document["class_uid"] == 2004
    assert document["finding_info"]["uid"] == value.alert_id
    assert list(schema_validator("alert-ocsf-detection-finding.schema.json").iter_errors(document)) == []


@pytest.mark.parametrize("alert_format", ["native", "ocsf"])
def test_the_dedup_headers_are_the_same_in_every_format(alert_format: str) -> None:
    """alert_id and revision travel as headers whatever the body, and no ce_* header by default."""
    value = SCENARIOS["escalation"]
    headers = render_alert(value, Settings(alert_format=alert_format)).headers
    assert headers == [("schema_version", b"1"), ("alert_id", value.alert_id.encode()), ("revision", b"2")]


@pytest.mark.parametrize(
    ("alert_format", "ce_type"),
    [
        ("native", b"io.extraction-detector.alert.v1"),
        ("ocsf", b"io.extraction-detector.ocsf.detection-finding"),
    ],
)
def test_cloudevents_headers_describe_the_alert_message(alert_format: str, ce_type: bytes) -> None:
    """specversion 1.0, id = alert_id:revision, type by format, source from the group, time =
    emitted_at in RFC 3339 UTC, subject = account, content-type JSON."""
    value = SCENARIOS["escalation"]
    settings = Settings(alert_format=alert_format, cloudevents_headers=True, group_id="det-prod")
    headers = dict(render_alert(value, settings).headers)
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_id"] == f"{value.alert_id}:2".encode()
    assert headers["ce_type"] == ce_type
    assert headers["ce_source"] == b"/extraction-detector/det-prod"
    assert datetime.fromisoformat(headers["ce_time"].decode()) == EMITTED
    assert headers["ce_time"].endswith(b"Z")
    assert headers["ce_subject"] == b"acct_x"
    assert headers["content-type"] == b"application/json"
    assert headers["alert_id"] == value.alert_id.encode()  # the plain dedup headers stay


def test_a_configured_source_replaces_the_default() -> None:
    """``cloudevents_source`` names the producer when the group id is not the name wanted."""
    settings = Settings(cloudevents_headers=True, cloudevents_source="urn:example:detector:eu-1")
    assert dict(render_alert(alert(), settings).headers)["ce_source"] == b"urn:example:detector:eu-1"


def test_a_new_revision_is_a_new_cloudevent_and_a_resend_is_the_same() -> None:
    """ce_id changes with the revision only: the same alert rendered twice has the same id."""
    settings = Settings(cloudevents_headers=True)
    first, again = (dict(render_alert(alert(), settings).headers)["ce_id"] for _ in range(2))
    escalated = dict(render_alert(alert(revision=2), settings).headers)["ce_id"]
    assert first == again != escalated


def test_rfc3339_takes_naive_times_as_utc() -> None:
    """The worker's clocks give UTC; a naive time is not shifted by the local zone."""
    assert rfc3339(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05Z"
    assert rfc3339(datetime(2026, 1, 2, 3, 4, 5, 600_000, tzinfo=UTC)) == "2026-01-02T03:04:05.600000Z"


@pytest.mark.parametrize(("alert_format", "marker"), [("native", "schema_version"), ("ocsf", "class_uid")])
def test_replay_output_follows_the_alert_format(alert_format: str, marker: str) -> None:
    """`detector replay --output` writes one body per line in the configured format (files have
    no headers, so CloudEvents attributes are not written even when switched on)."""
    out = io.BytesIO()
    settings = Settings(alert_format=alert_format, cloudevents_headers=True)
    sink = FileSink(out, settings=settings)
    values = [SCENARIOS["single_account"], SCENARIOS["closed"]]
    for value in values:
        sink.send_alert(value)
    sink.flush()
    lines = out.getvalue().splitlines()
    assert lines == [render_alert(value, settings).value for value in values]
    assert all(marker in orjson.loads(line) for line in lines)
    assert all(b"ce_specversion" not in line for line in lines)


def test_a_file_sink_without_settings_writes_native_alerts() -> None:
    """Callers that do not pass settings (evaluation, benchmarks) keep reading alert v1."""
    out = io.BytesIO()
    FileSink(out).send_alert(SCENARIOS["campaign"])
    assert Alert.model_validate_json(out.getvalue().strip()) == SCENARIOS["campaign"]
