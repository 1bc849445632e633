"""The worker on the real broker with DETECTOR_ALERT_FORMAT=ocsf and CloudEvents headers on."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import jsonschema
import orjson
import pytest

from detector.formats.ocsf import epoch_ms
from detector.kafka import create_topics
from detector.settings import Settings
from tests.factories import encode
from tests.integration.test_worker_kafka import TRAFFIC, Worker, publish, read_all

pytestmark = pytest.mark.integration

SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "alert-ocsf-detection-finding.schema.json"


def test_ocsf_findings_with_cloudevents_headers_on_the_alerts_topic(kafka_settings: Settings) -> None:
    """Every alert message is a valid OCSF Detection Finding keyed by account, and its ce_*
    headers agree with the finding (id = alert_id:revision, time = when it was logged)."""
    settings = kafka_settings.model_copy(
        update={"alert_format": "ocsf", "cloudevents_headers": True, "cloudevents_source": "/test/formats"}
    )
    create_topics(settings)
    publish(settings, [encode(e) for e in TRAFFIC], [e["account_id"].encode() for e in TRAFFIC])
    worker = Worker(settings)
    worker.wait_until(lambda d: d.events_processed >= len(TRAFFIC))
    stats = worker.shutdown()
    records = read_all(settings, settings.alerts_topic, expected=stats.alerts)
    assert stats.alerts >= 1 and len(records) == stats.alerts
    validator = jsonschema.Draft202012Validator(orjson.loads(SCHEMA.read_bytes()))
    for key, value, header_list in records:
        finding = orjson.loads(value)
        assert list(validator.iter_errors(finding)) == []
        headers = dict(header_list)
        uid = finding["metadata"]["uid"]
        assert headers["ce_specversion"] == b"1.0"
        assert headers["ce_id"] == uid.encode()
        assert uid == f"{finding['finding_info']['uid']}:{finding['unmapped']['detector']['revision']}"
        assert headers["alert_id"] == finding["finding_info"]["uid"].encode()
        assert headers["revision"] == str(finding["metadata"]["sequence"]).encode()
        assert headers["ce_type"] == b"io.extraction-detector.ocsf.detection-finding"
        assert headers["ce_source"] == b"/test/formats"
        assert headers["content-type"] == b"application/json"
        logged = datetime.fromisoformat(headers["ce_time"].decode())
        assert epoch_ms(logged) == finding["metadata"]["logged_time"]
        assert key == headers["ce_subject"] == finding["resources"][0]["uid"].encode()
    assert {key for key, _, _ in records} == {b"acct_x"}
