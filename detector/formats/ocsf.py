"""An alert v1 as an OCSF 1.5.0 Detection Finding (class 2004, category 2 Findings).

Alerting services (SIEMs, security lakes, case tools) read OCSF without a parser of their own; this
module maps what an ``Alert`` says onto the finding's fields and nothing more: it decides no
status, verdict or revision, it renders them. The finding is validated by the OCSF models of
``pydantic-ocsf`` (generated from the published OCSF schema: enums, required fields, captions),
so a field this module gets wrong fails here and in the tests rather than in a consumer.

Same episode, same ids: ``finding_info.uid`` is the ``alert_id`` and ``metadata.uid`` is
``alert_id:revision``, the dedup key of the native format.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ocsf.v1_5_0.events import DetectionFinding

from detector.events import Alert, Reason

OCSF_VERSION = "1.5.0"
CLASS_UID = 2004  # Detection Finding
CATEGORY_UID = 2  # Findings
PRODUCT_NAME = "extraction-detector"

# Activity (finding lifecycle) and status (the consumer's review state) ids of OCSF 1.5.0.
ACTIVITY_CREATE, ACTIVITY_UPDATE, ACTIVITY_CLOSE = 1, 2, 3
STATUS_NEW, STATUS_IN_PROGRESS, STATUS_SUPPRESSED, STATUS_RESOLVED = 1, 2, 3, 4
SEVERITY_IDS = {"low": 2, "medium": 3, "high": 4, "critical": 5}
ANALYTIC_BEHAVIORAL = 2  # analytic.type_id: behaviour against peers and the account's own past

# MITRE ATLAS (https://atlas.mitre.org), as of the release that added AML.T0008.005.
ATLAS_VERSION = "5.5.0"
_ATLAS = "https://atlas.mitre.org"
EXTRACTION_ATTACK: dict[str, Any] = {
    "version": ATLAS_VERSION,
    "tactic": {"uid": "AML.TA0010", "name": "Exfiltration", "src_url": f"{_ATLAS}/tactics/AML.TA0010"},
    "technique": {
        "uid": "AML.T0024",
        "name": "Exfiltration via AI Inference API",
        "src_url": f"{_ATLAS}/techniques/AML.T0024",
    },
    "sub_technique": {
        "uid": "AML.T0024.002",
        "name": "Extract AI Model",
        "src_url": f"{_ATLAS}/techniques/AML.T0024.002",
    },
}
PROXY_ATTACK: dict[str, Any] = {
    "version": ATLAS_VERSION,
    "tactic": {
        "uid": "AML.TA0003",
        "name": "Resource Development",
        "src_url": f"{_ATLAS}/tactics/AML.TA0003",
    },
    "technique": {
        "uid": "AML.T0008",
        "name": "Acquire Infrastructure",
        "src_url": f"{_ATLAS}/techniques/AML.T0008",
    },
    "sub_technique": {
        "uid": "AML.T0008.005",
        "name": "AI Service Proxies",
        "src_url": f"{_ATLAS}/techniques/AML.T0008.005",
    },
}
# A reason signal names a router/proxy network when one of its words is one of these, or it
# contains one of the phrases (whole words: `approximate_share` is not a proxy).
PROXY_SIGNAL_WORDS = frozenset({"router", "proxy", "reseller", "relay"})
PROXY_SIGNAL_PHRASES = ("shared_network", "shared_ip", "shared_subnet")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def involves_proxy_network(alert: Alert) -> bool:
    """Whether the extraction ran through an AI service proxy (a router or reseller account, or
    accounts behind one shared network): the alert points at an end user inside a shared account
    (``end_user_id``), or one of its reasons is a router/proxy/shared-network signal."""
    return alert.end_user_id is not None or any(_is_proxy_signal(r.signal) for r in alert.reasons)


def _is_proxy_signal(signal: str) -> bool:
    name = signal.lower()
    return not PROXY_SIGNAL_WORDS.isdisjoint(name.split("_")) or any(p in name for p in PROXY_SIGNAL_PHRASES)


def activity_id(alert: Alert) -> int:
    """Close once the episode ended; Create for its first emission; Update for every revision
    after (escalation, campaign growth)."""
    if alert.status == "closed":
        return ACTIVITY_CLOSE
    return ACTIVITY_CREATE if alert.revision == 1 else ACTIVITY_UPDATE


def status_id(alert: Alert) -> int:
    """OCSF's review state from the analyst's verdict and the episode's status: a false positive
    or an allowlisted workload is Suppressed (reviewed, benign) whether or not the episode is
    still open; a closed episode is Resolved; a confirmed one still open is In Progress (reviewed,
    being acted on); no verdict and open is New."""
    if alert.verdict in ("false_positive", "allowlisted"):
        return STATUS_SUPPRESSED
    if alert.status == "closed":
        return STATUS_RESOLVED
    return STATUS_IN_PROGRESS if alert.verdict == "confirmed" else STATUS_NEW


def epoch_ms(moment: datetime) -> int:
    """OCSF ``timestamp_t`` (milliseconds since the epoch), exact; a naive time is taken as UTC,
    which is what the worker's clocks give."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _title(alert: Alert) -> str:
    if alert.category == "coordinated_extraction":
        return f"Coordinated model extraction across {1 + len(alert.related_accounts)} accounts"
    return f"Suspected model extraction by account {alert.account_id}"


def _desc(alert: Alert) -> str:
    parts = [f"Score {alert.score:.2f} ({alert.severity.value})."]
    parts.extend(f"{reason.explanation.rstrip('.')}." for reason in alert.reasons if reason.explanation)
    if alert.declared_workload:
        parts.append(f"Declared workload: {alert.declared_workload}.")
    if alert.status == "closed":
        parts.append(f"Closed: {alert.status_reason or 'episode ended'}.")
    return " ".join(parts)


def _evidence(reason: Reason) -> dict[str, Any]:
    return {
        "name": reason.signal,
        "data": {
            "signal": reason.signal,
            "observed": reason.observed,
            "baseline": reason.baseline,
            "explanation": reason.explanation,
        },
    }


def _resources(alert: Alert) -> list[dict[str, Any]]:
    """The accounts the finding is about and their organisation: the alert's account first,
    then the campaign's other members, the org, and the end user inside the account if named."""
    org = {"type": "organization", "uid": alert.org_id} if alert.org_id else None
    primary: dict[str, Any] = {"type": "account", "uid": alert.account_id, "name": alert.account_id}
    if org:
        primary["group"] = dict(org)
    resources = [primary]
    resources.extend(
        {"type": "account", "uid": member, "name": member, "labels": ["campaign_member"]}
        for member in alert.related_accounts
    )
    if org:
        resources.append({**org, "name": alert.org_id})
    if alert.end_user_id is not None:
        resources.append(
            {"type": "end_user", "uid": alert.end_user_id, "data": {"account_uid": alert.account_id}}
        )
    return resources


def _unmapped(alert: Alert) -> dict[str, Any]:
    """Alert fields OCSF has no attribute for, so that nothing the native alert says is lost."""
    detector: dict[str, Any] = {
        "alert_schema_version": alert.schema_version,
        "category": alert.category,
        "revision": alert.revision,
        "alert_status": alert.status,
        "window_tokens": alert.window.tokens,
    }
    for name in ("status_reason", "verdict", "declared_workload", "end_user_id"):
        value = getattr(alert, name)
        if value is not None:
            detector[name] = value
    return {"detector": detector}


def finding_document(alert: Alert, *, vendor_name: str = PRODUCT_NAME) -> dict[str, Any]:
    """The Detection Finding of ``alert`` as plain data, before the OCSF models check it."""
    activity = activity_id(alert)
    status = status_id(alert)
    detected = epoch_ms(alert.detected_at)
    start, end = epoch_ms(alert.window.start), epoch_ms(alert.window.end)
    attacks = [EXTRACTION_ATTACK]
    if involves_proxy_network(alert):
        attacks.append(PROXY_ATTACK)
    finding_info: dict[str, Any] = {
        "uid": alert.alert_id,
        "title": _title(alert),
        "desc": _desc(alert),
        "types": [alert.category],
        "analytic": {
            "uid": f"{PRODUCT_NAME}/{alert.category}",
            "name": f"{PRODUCT_NAME} {alert.category}",
            "type_id": ANALYTIC_BEHAVIORAL,
            "version": alert.detector_version,
        },
        "attacks": attacks,
        # The alert carries the time of this revision only: the episode's creation time is
        # known (and given) on its first emission, the Create activity.
        "created_time": detected if alert.revision == 1 else None,
        "modified_time": detected,
        "first_seen_time": epoch_ms(alert.evidence_since) if alert.evidence_since else start,
        "last_seen_time": end,
    }
    return {
        "class_uid": CLASS_UID,
        "class_name": "Detection Finding",
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "activity_id": activity,
        "type_uid": CLASS_UID * 100 + activity,
        "time": detected,
        "message": _title(alert),
        "severity_id": SEVERITY_IDS[alert.severity.value],
        "status_id": status,
        "status_detail": alert.status_reason,
        "is_alert": alert.status == "open" and status != STATUS_SUPPRESSED,
        "confidence_score": round(alert.score * 100),
        "count": alert.window.requests,
        "start_time": start,
        "end_time": end,
        "duration": max(0, end - start),
        "finding_info": finding_info,
        "evidences": [_evidence(reason) for reason in alert.reasons],
        "resources": _resources(alert),
        "metadata": {
            "version": OCSF_VERSION,
            "uid": f"{alert.alert_id}:{alert.revision}",
            "correlation_uid": alert.alert_id,
            "sequence": alert.revision,
            "logged_time": epoch_ms(alert.emitted_at),
            "product": {
                "name": PRODUCT_NAME,
                "vendor_name": vendor_name,
                "version": alert.detector_version,
            },
        },
        "unmapped": _unmapped(alert),
    }


def to_finding(alert: Alert, *, vendor_name: str = PRODUCT_NAME) -> DetectionFinding:
    """The finding, validated by the OCSF 1.5.0 models (which also fill in the captions:
    ``activity_name``, ``severity``, ``status``, ``analytic.type``)."""
    return DetectionFinding.model_validate(finding_document(alert, vendor_name=vendor_name))


def encode_finding(alert: Alert, *, vendor_name: str = PRODUCT_NAME) -> bytes:
    """The message body: the finding as JSON, absent attributes left out (OCSF has no nulls)."""
    return to_finding(alert, vendor_name=vendor_name).model_dump_json(exclude_none=True).encode()


# The attributes each object of the finding carries (with the captions the OCSF models fill in):
# the committed schema allows these and no others, so a change to what is emitted is a change to
# the schema file, and objects we never emit (where pydantic-ocsf's generated schema is not
# stable from one process to the next) stay out of it.
EMITTED: dict[str, tuple[str, ...]] = {
    "": (
        "class_uid", "class_name", "category_uid", "category_name", "activity_id", "activity_name",
        "type_uid", "time", "message", "severity_id", "severity", "status_id", "status",
        "status_detail", "is_alert", "confidence_score", "count", "start_time", "end_time",
        "duration", "finding_info", "evidences", "resources", "metadata", "unmapped",
    ),
    "FindingInfo": (
        "uid", "title", "desc", "types", "analytic", "attacks", "created_time", "modified_time",
        "first_seen_time", "last_seen_time",
    ),
    "Analytic": ("uid", "name", "type_id", "type", "version"),
    "Attack": ("version", "tactic", "technique", "sub_technique"),
    "Tactic": ("uid", "name", "src_url"),
    "Technique": ("uid", "name", "src_url"),
    "SubTechnique": ("uid", "name", "src_url"),
    "Evidences": ("name", "data"),
    "ResourceDetails": ("type", "uid", "name", "group", "labels", "data"),
    "Group": ("type", "uid"),
    "Metadata": ("version", "uid", "correlation_uid", "sequence", "logged_time", "product"),
    "Product": ("name", "vendor_name", "version"),
}  # fmt: skip


def _only(schema: dict[str, Any], names: tuple[str, ...]) -> None:
    missing = set(names) - set(schema["properties"])
    assert not missing, f"not OCSF attributes: {sorted(missing)}"
    schema["properties"] = {name: schema["properties"][name] for name in names}
    schema["additionalProperties"] = False


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"].rsplit("/", 1)[1]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(value) for value in node))
    return set()


def finding_json_schema() -> dict[str, Any]:
    """JSON Schema of the findings this module emits: the OCSF 1.5.0 Detection Finding model's
    own schema, cut down to the attributes we emit (``EMITTED``) and narrowed to this profile
    (class, category, the activities, statuses and severities used, what is always given)."""
    schema = DetectionFinding.model_json_schema(mode="serialization")
    schema["$id"] = "alert-ocsf-detection-finding.schema.json"
    schema["title"] = f"Alert v1 as an OCSF {OCSF_VERSION} Detection Finding"
    definitions: dict[str, Any] = schema["$defs"]
    _only(schema, EMITTED[""])
    for name, attributes in EMITTED.items():
        if name:
            _only(definitions[name], attributes)
    properties = schema["properties"]
    narrowed: dict[str, dict[str, Any]] = {
        "class_uid": {"const": CLASS_UID},
        "category_uid": {"const": CATEGORY_UID},
        "activity_id": {"enum": [ACTIVITY_CREATE, ACTIVITY_UPDATE, ACTIVITY_CLOSE]},
        "type_uid": {"enum": [CLASS_UID * 100 + a for a in (1, 2, 3)]},
        "status_id": {"enum": [STATUS_NEW, STATUS_IN_PROGRESS, STATUS_SUPPRESSED, STATUS_RESOLVED]},
        "severity_id": {"enum": sorted(SEVERITY_IDS.values())},
        "confidence_score": {"type": "integer", "minimum": 0, "maximum": 100},
        "evidences": {"type": "array", "items": {"required": ["name", "data"]}},
        "resources": {"type": "array", "minItems": 1, "items": {"required": ["type", "uid"]}},
        "finding_info": {
            "required": ["uid", "title", "desc", "analytic", "attacks", "modified_time", "types"],
            "properties": {"attacks": {"type": "array", "minItems": 1}},
        },
        "metadata": {
            "required": ["version", "uid", "product"],
            "properties": {"version": {"const": OCSF_VERSION}},
        },
    }
    for name, extra in narrowed.items():
        properties[name] = {"allOf": [properties[name], extra]}
    always = [*narrowed, "type_uid", "is_alert", "count", "start_time", "end_time"]
    schema["required"] = sorted({*schema["required"], *always})
    # Only the definitions still referred to, directly or through another one.
    reachable: set[str] = set()
    frontier = _refs(schema["properties"])
    while frontier:
        reachable |= frontier
        frontier = set().union(*(_refs(definitions[name]) for name in frontier)) - reachable
    schema["$defs"] = {name: definitions[name] for name in sorted(reachable)}
    return schema
