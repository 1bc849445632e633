"""The report's data shaping: dedupe, current view, campaigns, linking keys, evaluation."""

from __future__ import annotations

import orjson
import pytest

from detector.events import Severity
from detector.report.data import (
    AlertFileError,
    account_timelines,
    campaigns,
    current,
    dedupe,
    evaluate,
    linking_keys,
    parse_alerts,
)
from tests.unit.report.helpers import alert, at, hydra_day, labels


def test_parse_alerts_reads_replay_jsonl_and_skips_blank_lines() -> None:
    """A JSONL file as `detector replay --output` writes it reads back to the same alerts."""
    written = [alert("a1", 10), alert("a2", 20)]
    lines = [orjson.dumps(a.model_dump(mode="json")) for a in written] + [b"", b"  "]
    assert parse_alerts(lines) == written


def test_dedupe_keeps_one_per_revision_and_current_keeps_the_latest_revision() -> None:
    """A redelivered revision counts once; the current view shows an episode's highest revision."""
    first = alert("a1", 10, alert_id="e1", revision=1, severity=Severity.MEDIUM)
    second = alert("a1", 30, alert_id="e1", revision=2, severity=Severity.CRITICAL)
    other = alert("a2", 20, alert_id="e2")
    emissions = dedupe([second, first, first, other, second])
    assert [(a.alert_id, a.revision) for a in emissions] == [("e1", 1), ("e2", 1), ("e1", 2)]
    latest = current(emissions)
    assert [(a.alert_id, a.revision, a.severity) for a in latest] == [
        ("e2", 1, Severity.HIGH),
        ("e1", 2, Severity.CRITICAL),
    ]


def test_linking_keys_come_from_the_coordination_explanation_in_stable_order() -> None:
    """The kinds named after 'share' are the linking keys; an alert that names none has none."""
    assert linking_keys(alert("a1", 0, related=("a2",))) == ("template", "network")
    assert linking_keys(alert("a1", 0)) == ()


def test_campaign_members_join_at_the_revision_that_first_names_them() -> None:
    """Who joined when: the anchor and the first member at revision 1, a newcomer at revision 2."""
    rev1 = alert("a1", 10, alert_id="c1", revision=1, related=("a2",))
    rev2 = alert("a1", 40, alert_id="c1", revision=2, related=("a2", "s1"))
    [campaign] = campaigns([rev2, rev1, alert("b1", 200)])
    assert campaign.anchor == "a1"
    assert [(m.account_id, m.revision, m.anchor) for m in campaign.members] == [
        ("a1", 1, True),
        ("a2", 1, False),
        ("s1", 2, False),
    ]
    assert [r.joined for r in campaign.revisions] == [("a1", "a2"), ("s1",)]
    assert campaign.members[2].joined_at == at(40)
    assert campaign.linking_keys == ("template", "network")


def test_account_timelines_hold_each_signal_of_each_revision_and_skip_campaigns() -> None:
    """Every reason of an account's own alerts is a point; campaign alerts are not timelines."""
    timelines = account_timelines(
        [
            alert("a1", 10, alert_id="e1"),
            alert("a1", 50, alert_id="e1", revision=2),
            alert("b1", 0, related=("b2",)),
        ]
    )
    assert list(timelines) == ["a1"]
    assert [(p.revision, p.signal) for p in timelines["a1"]] == [
        (1, "cot_elicitation_share"),
        (2, "cot_elicitation_share"),
    ]


def test_evaluation_counts_detections_after_the_start_and_benign_false_positives() -> None:
    """b1 named before its attack started is not detected; s1 named by a campaign is a false
    positive of its kind; camp_a is caught first by the campaign alert at minute 10."""
    alerts = [
        alert("a1", 10, alert_id="c1", related=("a2", "s1")),
        alert("b1", 60, alert_id="e3", severity=Severity.LOW),
        alert("n1", 90, alert_id="e4", severity=Severity.LOW),
    ]
    result = evaluate(alerts, labels())
    styles = {row.style: row for row in result.styles}
    assert (styles["hydra"].detected, styles["hydra"].recall) == (2, 1.0)
    assert styles["hydra"].median_delay_h == 10 / 60
    assert (styles["low_and_slow"].detected, styles["low_and_slow"].median_delay_h) == (0, None)
    benign = {row.kind: row for row in result.benign}
    assert (benign["shared_nat"].alerted, benign["shared_nat"].above_low) == (1, 1)
    assert (benign["benign"].alerted, benign["benign"].above_low, benign["benign"].false_positive_rate) == (
        1,
        0,
        0.5,
    )
    catches = {c.campaign_id: c for c in result.catches}
    assert (catches["camp_a"].named, catches["camp_a"].first_alert_id, catches["camp_a"].delay_minutes) == (
        2,
        "c1",
        10,
    )
    assert catches["camp_a"].first_category == "coordinated_extraction"
    assert catches["camp_b"].first_at is None


def test_a_line_that_is_not_an_alert_stops_parsing_with_its_line_number() -> None:
    """A broken or foreign line is reported by number, not skipped (the report would under-count)."""
    good = orjson.dumps(alert("a1", 10).model_dump(mode="json"))
    with pytest.raises(AlertFileError, match="line 3 is not a native alert v1"):
        parse_alerts([good, b"", b'{"alert_id": "x"}'])
    with pytest.raises(AlertFileError, match="line 1 is not JSON"):
        parse_alerts([b"not json"])


def test_campaigns_of_the_real_coordination_stage_name_their_members_and_linking_keys() -> None:
    """Against the pipeline's own campaign alerts (not hand-made ones): the ten hydra accounts
    are members and the keys they share are read from the explanation the stage writes."""
    alerts, _prompts = hydra_day()
    [campaign] = campaigns(alerts)
    assert {m.account_id for m in campaign.members} == {f"acct_h{i}" for i in range(10)}
    assert {"template", "system_prompt"} <= set(campaign.linking_keys)
