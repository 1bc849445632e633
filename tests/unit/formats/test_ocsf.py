"""Alerts rendered as OCSF 1.5.0 Detection Findings: the mapping, and the committed schema."""

from __future__ import annotations

import copy
import os
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest

from detector.events import Alert, Reason, Severity
from detector.formats.ocsf import encode_finding, epoch_ms, involves_proxy_network
from tests.unit.formats.alerts import DETECTED, EMITTED, SCENARIOS, alert, campaign

SCHEMA_PATH = Path(__file__).resolve().parents[3] / "schemas" / "alert-ocsf-detection-finding.schema.json"


@cache
def validator() -> jsonschema.Draft202012Validator:
    schema = orjson.loads(SCHEMA_PATH.read_bytes())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def finding(value: Alert) -> dict[str, Any]:
    document: dict[str, Any] = orjson.loads(encode_finding(value))
    return document


def errors(document: dict[str, Any]) -> list[str]:
    return [error.message for error in validator().iter_errors(document)]


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_kind_of_alert_gives_a_finding_that_validates_against_the_committed_schema(name: str) -> None:
    """Single account, campaign, growth, escalation, closed, suppressed, router: all valid."""
    assert errors(finding(SCENARIOS[name])) == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("class_uid",), 2001),
        (("category_uid",), 1),
        (("activity_id",), 99),
        (("status_id",), 5),
        (("severity_id",), 1),
        (("confidence_score",), 101),
        (("metadata", "version"), "1.1.0"),
        (("finding_info", "attacks"), []),
    ],
)
def test_the_schema_rejects_a_finding_outside_this_profile(path: tuple[str, ...], value: object) -> None:
    """The committed schema has teeth: a wrong class, activity, status, version or no attack fails."""
    document = copy.deepcopy(finding(SCENARIOS["single_account"]))
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert errors(document)


@pytest.mark.parametrize("missing", ["finding_info", "evidences", "resources", "status_id", "time"])
def test_the_schema_requires_what_every_finding_carries(missing: str) -> None:
    """A finding without one of the always-given attributes is invalid."""
    document = finding(SCENARIOS["campaign"])
    del document[missing]
    assert errors(document)


@pytest.mark.parametrize(
    ("name", "activity", "activity_name"),
    [
        ("single_account", 1, "Create"),
        ("campaign", 1, "Create"),
        ("escalation", 2, "Update"),
        ("campaign_growth", 2, "Update"),
        ("closed", 3, "Close"),
        ("false_positive", 3, "Close"),
    ],
)
def test_activity_is_create_then_update_then_close(name: str, activity: int, activity_name: str) -> None:
    """Revision 1 creates the finding, later revisions update it, a closed episode closes it."""
    document = finding(SCENARIOS[name])
    assert (document["activity_id"], document["activity_name"]) == (activity, activity_name)
    assert document["type_uid"] == 2004 * 100 + activity
    assert (document["class_uid"], document["category_uid"]) == (2004, 2)


def test_a_first_emission_that_is_already_closed_is_a_close() -> None:
    """Closed wins over revision 1: the consumer must not open a finding that has ended."""
    assert finding(alert(status="closed", status_reason="subsided"))["activity_id"] == 3


@pytest.mark.parametrize(
    ("name", "status_id", "status", "is_alert"),
    [
        ("single_account", 1, "New", True),
        ("escalation", 1, "New", True),
        ("confirmed_open", 2, "In Progress", True),
        ("closed", 4, "Resolved", False),
        ("confirmed_closed", 4, "Resolved", False),
        ("false_positive", 3, "Suppressed", False),
        ("allowlisted", 3, "Suppressed", False),
    ],
)
def test_status_follows_the_verdict_and_the_episode(
    name: str, status_id: int, status: str, is_alert: bool
) -> None:
    """New without a verdict, Suppressed for a false positive or an allowlist, Resolved when
    closed, In Progress when confirmed and still open; only open, unsuppressed ones alert."""
    document = finding(SCENARIOS[name])
    assert (document["status_id"], document["status"], document["is_alert"]) == (status_id, status, is_alert)


def test_the_reason_for_closing_is_the_status_detail() -> None:
    """``status_reason`` travels as OCSF's ``status_detail`` and in the description."""
    document = finding(SCENARIOS["closed"])
    assert document["status_detail"] == "subsided"
    assert "subsided" in document["finding_info"]["desc"]
    assert "status_detail" not in finding(SCENARIOS["single_account"])


@pytest.mark.parametrize(
    ("severity", "severity_id", "caption"),
    [
        (Severity.LOW, 2, "Low"),
        (Severity.MEDIUM, 3, "Medium"),
        (Severity.HIGH, 4, "High"),
        (Severity.CRITICAL, 5, "Critical"),
    ],
)
def test_severity_maps_onto_ocsf_severity_ids(severity: Severity, severity_id: int, caption: str) -> None:
    """low → 2 Low, medium → 3 Medium, high → 4 High, critical → 5 Critical."""
    document = finding(alert(severity=severity))
    assert (document["severity_id"], document["severity"]) == (severity_id, caption)


def test_the_finding_carries_the_native_ids_and_dedup_key() -> None:
    """finding_info.uid = alert_id; metadata.uid = alert_id:revision (what native dedups on)."""
    value = SCENARIOS["escalation"]
    document = finding(value)
    assert document["finding_info"]["uid"] == value.alert_id
    assert document["metadata"]["uid"] == f"{value.alert_id}:{value.revision}"
    assert document["metadata"]["sequence"] == value.revision
    assert document["metadata"]["version"] == "1.5.0"
    assert document["metadata"]["product"] == {
        "name": "extraction-detector",
        "vendor_name": "extraction-detector",
        "version": value.detector_version,
    }


def test_the_vendor_name_is_configurable() -> None:
    """``ocsf_vendor_name`` names the operator running the detector in ``metadata.product``."""
    document = orjson.loads(encode_finding(alert(), vendor_name="Example AI"))
    assert document["metadata"]["product"]["vendor_name"] == "Example AI"


def test_times_are_exact_epoch_milliseconds_whatever_the_offset() -> None:
    """OCSF timestamps are ms since the epoch; microseconds are truncated, offsets respected."""
    document = finding(alert())
    detected_ms = int(DETECTED.timestamp()) * 1000 + 123
    assert document["time"] == detected_ms
    assert document["finding_info"]["modified_time"] == detected_ms
    assert document["finding_info"]["created_time"] == detected_ms
    assert document["metadata"]["logged_time"] == epoch_ms(EMITTED.astimezone(UTC))
    assert document["end_time"] - document["start_time"] == document["duration"] == 6 * 3600 * 1000
    assert epoch_ms(datetime(2026, 1, 1, 2, tzinfo=timezone(timedelta(hours=2)))) == epoch_ms(
        datetime(2026, 1, 1, tzinfo=UTC)
    )


def test_only_the_first_revision_states_the_creation_time() -> None:
    """A later revision does not know when revision 1 was created, so it says nothing about it."""
    assert "created_time" not in finding(SCENARIOS["escalation"])["finding_info"]


def test_first_seen_is_when_the_evidence_started() -> None:
    """``evidence_since`` when the alert has it, else the start of the alert window."""
    with_since = SCENARIOS["router_end_user"]
    assert with_since.evidence_since is not None
    assert finding(with_since)["finding_info"]["first_seen_time"] == epoch_ms(with_since.evidence_since)
    plain = alert()
    assert finding(plain)["finding_info"]["first_seen_time"] == epoch_ms(plain.window.start)


def test_confidence_and_count_come_from_score_and_window() -> None:
    """confidence_score = score in percent (integer); count = requests in the alert window."""
    document = finding(alert(score=0.834))
    assert document["confidence_score"] == 83
    assert document["count"] == 2_480


def test_each_reason_is_an_evidence_with_its_data_in_order() -> None:
    """Signal, observed, baseline and explanation of every reason, most important first."""
    value = SCENARIOS["campaign"]
    evidences = finding(value)["evidences"]
    assert [e["name"] for e in evidences] == [r.signal for r in value.reasons]
    assert [e["data"] for e in evidences] == [r.model_dump() for r in value.reasons]


def test_resources_name_every_account_of_a_campaign_and_their_org() -> None:
    """The alert's account first (in its org), then the other members, then the org itself."""
    value = campaign()
    resources = finding(value)["resources"]
    accounts = [r["uid"] for r in resources if r["type"] == "account"]
    assert accounts == [value.account_id, *value.related_accounts]
    assert resources[0]["group"] == {"type": "organization", "uid": value.org_id}
    assert [r["uid"] for r in resources if r["type"] == "organization"] == [value.org_id]


def test_an_account_without_org_has_no_org_resource() -> None:
    """No org id, no invented organisation."""
    resources = finding(alert(org_id=None))["resources"]
    assert [r["type"] for r in resources] == ["account"]
    assert "group" not in resources[0]


def attack_ids(document: dict[str, Any]) -> list[str]:
    return [a["sub_technique"]["uid"] for a in document["finding_info"]["attacks"]]


def test_every_finding_is_atlas_extract_ai_model() -> None:
    """AML.T0024 Exfiltration via AI Inference API / AML.T0024.002 Extract AI Model, always."""
    attack = finding(alert())["finding_info"]["attacks"][0]
    assert attack["technique"] == {
        "uid": "AML.T0024",
        "name": "Exfiltration via AI Inference API",
        "src_url": "https://atlas.mitre.org/techniques/AML.T0024",
    }
    assert (attack["sub_technique"]["uid"], attack["sub_technique"]["name"]) == (
        "AML.T0024.002",
        "Extract AI Model",
    )
    assert attack["tactic"]["uid"] == "AML.TA0010"
    assert attack_ids(finding(alert())) == ["AML.T0024.002"]


@pytest.mark.parametrize(
    ("signal", "proxy"),
    [
        ("router_new_user", True),
        ("proxy_fanout", True),
        ("reseller_user_mix", True),
        ("shared_network_accounts", True),
        ("Shared_IP_accounts", True),
        ("proxyless_share", False),
        ("own_shape_shift", False),
        ("coordinated_accounts", False),
    ],
)
def test_a_router_or_proxy_signal_adds_atlas_ai_service_proxies(signal: str, proxy: bool) -> None:
    """AML.T0008.005 when a reason's signal names a router/proxy/reseller (whole words) or a
    shared network; not for a word that merely contains one."""
    reasons = [
        Reason(signal="distillation_shape", observed=0.8, baseline=0.1, explanation="x"),
        Reason(signal=signal, observed=1.0, baseline=0.0, explanation="y"),
    ]
    value = alert(reasons=reasons)
    assert involves_proxy_network(value) is proxy
    expected = ["AML.T0024.002", "AML.T0008.005"] if proxy else ["AML.T0024.002"]
    assert attack_ids(finding(value)) == expected


def test_an_end_user_inside_the_account_means_a_proxy_and_is_a_resource() -> None:
    """An alert naming an end user of a shared account is extraction through an AI service proxy."""
    value = SCENARIOS["router_end_user"]
    document = finding(value)
    assert attack_ids(document) == ["AML.T0024.002", "AML.T0008.005"]
    proxies = document["finding_info"]["attacks"][1]
    assert (proxies["technique"]["uid"], proxies["tactic"]["uid"]) == ("AML.T0008", "AML.TA0003")
    end_users = [r for r in document["resources"] if r["type"] == "end_user"]
    assert end_users == [{"type": "end_user", "uid": "eu_5521", "data": {"account_uid": value.account_id}}]


def test_what_ocsf_has_no_attribute_for_is_kept_under_unmapped() -> None:
    """Category, revision, verdict, declared workload survive the mapping."""
    detector = finding(SCENARIOS["allowlisted"])["unmapped"]["detector"]
    assert detector["verdict"] == "allowlisted"
    assert detector["declared_workload"] == "eval_harness"
    assert (detector["category"], detector["revision"]) == ("suspected_extraction", 2)
    assert "verdict" not in finding(alert())["unmapped"]["detector"]


def test_title_and_description_say_what_was_found() -> None:
    """A campaign's title counts its accounts; the description carries score and explanations."""
    info = finding(campaign())["finding_info"]
    assert info["title"] == "Coordinated model extraction across 4 accounts"
    assert info["types"] == ["coordinated_extraction"]
    assert info["desc"].startswith("Score 0.83 (high).")
    assert "412 calls/h vs 38 at p90." in info["desc"] and ".." not in info["desc"]
    assert info["analytic"]["version"] == "0.1.0" and info["analytic"]["type"] == "Behavioral"


def test_findings_of_a_real_run_validate_and_carry_no_prompt_text() -> None:
    """Alerts the pipeline itself raised (not hand-made ones) render valid, text-free findings."""
    from detector.pipeline.step import Detector
    from detector.settings import Settings
    from tests.factories import benign_stream, bulk_distillation_stream, by_time, encode

    detector = Detector(Settings(), clock=lambda: EMITTED)
    alerts: list[Alert] = []
    for document in by_time(benign_stream(10, 3), bulk_distillation_stream("acct_x", 1, 2, per_hour=300)):
        alerts.extend(detector.process_one(encode(document)).alerts)
    assert alerts
    bodies = [encode_finding(value) for value in alerts]
    assert all(errors(orjson.loads(body)) == [] for body in bodies)
    assert not any(b"Think step by step" in body or b"Answer the following task" in body for body in bodies)


@pytest.mark.parametrize(
    ("path", "attribute"),
    [((), "vulnerabilities"), (("finding_info",), "kill_chain"), (("metadata",), "tenant_uid")],
)
def test_the_schema_allows_only_the_attributes_we_emit(path: tuple[str, ...], attribute: str) -> None:
    """An OCSF attribute the detector never sets is a schema change, not a silent addition."""
    document = finding(SCENARIOS["single_account"])
    target = document
    for key in path:
        target = target[key]
    target[attribute] = [] if attribute != "tenant_uid" else "t"
    assert errors(document)


def test_the_schema_is_the_same_in_every_process() -> None:
    """Generation does not depend on hash randomisation (pydantic-ocsf's schema of objects we do
    not emit does, which is why they are left out), so the drift test cannot flap."""
    import subprocess
    import sys

    script = (
        "import hashlib; from detector.formats.ocsf import finding_json_schema; import orjson; "
        "print(hashlib.sha256(orjson.dumps(finding_json_schema(), option=orjson.OPT_SORT_KEYS)).hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in (1, 2, 7)
    }
    assert len(digests) == 1
