"""Cross-account stage: linked suspicious accounts become one growing campaign alert."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from detector.events import Alert
from detector.pipeline.coordination import CoordinationStage, Fingerprint, join_floor
from detector.pipeline.decide import AlertPolicy

POLICY = AlertPolicy(
    threshold=0.6, medium=0.7, high=0.8, critical=0.9, cooldown_seconds=6 * 3600, min_events=20
)
T0 = datetime(2026, 11, 2, tzinfo=UTC).timestamp()
NOW = datetime(2026, 11, 25, tzinfo=UTC)


def fingerprint(
    account: str,
    at: float,
    keys: tuple[tuple[str, int], ...],
    specific: float = 3.0,
    org_id: str | None = None,
) -> Fingerprint:
    return Fingerprint(
        account_id=account,
        org_id=org_id,
        at=at,
        suspicious_since=at,
        specific=specific,
        requests=10,
        tokens=20_000,
        keys=keys,
    )


def test_accounts_sharing_a_system_prompt_form_one_growing_campaign() -> None:
    """A hydra grows: one alert_id, rising revisions, every member named in related_accounts."""
    stage = CoordinationStage(POLICY, ttl_seconds=86_400, detector_version="test")
    alerts = []
    for i in range(30):
        keys = (("system_prompt", 42), ("network", 1000 + i % 3))
        alerts += stage.observe_one(fingerprint(f"acct_{i:02d}", T0 + 60 * i, keys), NOW)
    assert alerts, "a 30-account campaign must alert"
    assert {a.alert_id for a in alerts} == {alerts[0].alert_id}
    assert [a.revision for a in alerts] == list(range(1, len(alerts) + 1))
    assert alerts[0].category == "coordinated_extraction"
    named = {alerts[-1].account_id, *alerts[-1].related_accounts}
    assert len(named) >= 25
    assert alerts[-1].reasons[0].signal == "coordinated_accounts"


def test_one_organisations_accounts_are_one_customer_not_a_campaign() -> None:
    """Twelve suspicious accounts of one org sharing its system prompt, office network and user
    agent stay one customer; the same keys held by twelve accounts of twelve orgs are a campaign."""
    keys = (("system_prompt", 42), ("network", 77), ("user_agent", 5), ("org", 9))

    def run(org_of: list[str | None]) -> list[object]:
        stage = CoordinationStage(POLICY, ttl_seconds=86_400, detector_version="test")
        alerts: list[object] = []
        for i, org in enumerate(org_of):
            alerts += stage.observe_one(fingerprint(f"acct_{i:02d}", T0 + 60 * i, keys, org_id=org), NOW)
        return alerts

    assert run(["org_office"] * 12) == []
    assert run([f"org_{i}" for i in range(12)]) != []
    # Org-less new accounts are each their own customer.
    assert run([None] * 12) != []


def test_a_common_user_agent_alone_does_not_link_accounts() -> None:
    """Suspicious accounts that only share a popular SDK user agent stay unlinked."""
    stage = CoordinationStage(POLICY, ttl_seconds=86_400, detector_version="test")
    alerts = []
    for i in range(30):
        keys = (("user_agent", 7), ("network", 5000 + i))
        alerts += stage.observe_one(fingerprint(f"acct_{i:02d}", T0 + 60 * i, keys), NOW)
    assert alerts == []
    assert stage.campaigns == {}


def test_weak_members_do_not_make_a_campaign_alert() -> None:
    """A cluster of barely suspicious accounts (e.g. one office behind a NAT) stays under threshold."""
    stage = CoordinationStage(POLICY, ttl_seconds=86_400, detector_version="test")
    alerts = []
    for i in range(20):
        keys = (("network", 9), ("org", 3))
        alerts += stage.observe_one(fingerprint(f"acct_{i:02d}", T0 + 600 * i, keys, specific=0.5), NOW)
    assert alerts == []


def test_idle_members_expire() -> None:
    """Members idle for longer than the TTL leave the index and their campaign."""
    stage = CoordinationStage(POLICY, ttl_seconds=3600, detector_version="test")
    for i in range(6):
        stage.observe_one(fingerprint(f"acct_{i}", T0, (("system_prompt", 1),)), NOW)
    stage.observe_one(fingerprint("late", T0 + 7200, (("system_prompt", 2),)), NOW)
    assert set(stage.members) == {"late"}
    assert stage.campaigns == {}


def test_fingerprint_round_trips_through_its_wire_form() -> None:
    """What the account stage publishes is exactly what the coordination stage reads."""
    from hypothesis import given
    from hypothesis import strategies as st

    from detector.pipeline.coordination import KEY_WEIGHTS, decode_fingerprint, encode_fingerprint

    @given(
        account=st.text(min_size=1, max_size=40),
        specific=st.floats(min_value=0, max_value=50, allow_nan=False),
        keys=st.lists(st.tuples(st.sampled_from(sorted(KEY_WEIGHTS)), st.integers(0, 2**32 - 1)), max_size=6),
    )
    def check(account: str, specific: float, keys: list[tuple[str, int]]) -> None:
        original = Fingerprint(
            account_id=account,
            org_id=None,
            at=T0,
            suspicious_since=T0 - 5,
            specific=specific,
            requests=3,
            tokens=400,
            keys=tuple(keys),
        )
        assert decode_fingerprint(encode_fingerprint(original)) == original

    check()


def test_garbage_on_the_fingerprint_topic_is_a_value_error() -> None:
    """Anything that is not a v1 fingerprint is refused with ValueError (dead-lettered upstream)."""
    import pytest

    from detector.pipeline.coordination import decode_fingerprint

    for raw in (b"nope", b"{}", b'{"v": 2, "keys": []}', b'{"v": 1, "keys": [["secret", 1]]}'):
        with pytest.raises(ValueError, match="fingerprint"):
            decode_fingerprint(raw)


def test_look_alikes_without_a_shared_onset_are_not_a_campaign() -> None:
    """Accounts sharing a template but turning suspicious hours apart raise no campaign alert."""
    stage = CoordinationStage(POLICY, ttl_seconds=86_400, detector_version="test")
    alerts = []
    for i in range(12):
        keys = (("template", 77),)
        alerts += stage.observe_one(fingerprint(f"acct_{i:02d}", T0 + 3 * 3600 * i, keys, specific=4.0), NOW)
    assert alerts == []


def test_a_weak_newcomer_does_not_restart_an_existing_campaign() -> None:
    """A bystander linked to campaign members but far less suspicious neither joins nor resets
    the campaign: its alert_id keeps rising revisions and the bystander is never named."""
    stage = CoordinationStage(POLICY, ttl_seconds=86_400, detector_version="test")
    alerts = []
    for i in range(8):
        alerts += stage.observe_one(
            fingerprint(f"acct_{i}", T0 + 60 * i, (("system_prompt", 5),), specific=6.0), NOW
        )
    alerts += stage.observe_one(
        fingerprint("bystander", T0 + 900, (("system_prompt", 5),), specific=2.1), NOW
    )
    for i in range(8, 12):
        alerts += stage.observe_one(
            fingerprint(f"acct_{i}", T0 + 1000 + i, (("system_prompt", 5),), specific=6.0), NOW
        )
    revisions = [a.revision for a in alerts]
    assert revisions == sorted(set(revisions)), "revisions of one campaign never go back"
    assert all("bystander" not in (a.account_id, *a.related_accounts) for a in alerts)


def test_a_campaign_still_forms_among_thousands_of_holders_of_its_keys() -> None:
    """Links are looked for among a key's most recent holders only (bounded work per
    fingerprint); a new campaign whose template is also held by 3,000 older, unrelated members
    still forms, names its members, and does not absorb the old ones."""
    stage = CoordinationStage(POLICY, ttl_seconds=10 * 86_400, detector_version="test")
    for i in range(3_000):  # older accounts sharing the user agent, spread over networks
        old_keys = (("user_agent", 7), ("network", 10_000 + i))
        stage.observe_one(fingerprint(f"old_{i:04d}", T0 + i, old_keys), NOW)
    alerts = []
    start = T0 + 86_400
    for i in range(20):
        keys = (("template", 99), ("template", 98), ("user_agent", 7), ("network", 20_000 + i % 2))
        alerts += stage.observe_one(fingerprint(f"new_{i:02d}", start + 60 * i, keys), NOW)
    assert alerts
    named = {alerts[-1].account_id, *alerts[-1].related_accounts}
    assert len(named) >= 16
    assert all(account.startswith("new_") for account in named)


def test_the_last_members_of_a_big_campaign_are_named_within_half_an_hour() -> None:
    """Revisions are bounded (a fifth more members each), but a few late joiners of a 30-account
    campaign are still named once half an hour of event time has passed since the last one."""
    stage = CoordinationStage(POLICY, ttl_seconds=86_400, detector_version="test")
    alerts = []
    for i in range(30):
        keys = (("system_prompt", 42), ("network", 1000 + i % 3))
        alerts += stage.observe_one(fingerprint(f"acct_{i:02d}", T0 + 60 * i, keys), NOW)
    before = {alerts[-1].account_id, *alerts[-1].related_accounts}
    late = []
    for i in range(30, 33):  # three more: under a fifth of 30, so no growth-triggered revision
        keys = (("system_prompt", 42), ("network", 1000 + i % 3))
        late += stage.observe_one(fingerprint(f"acct_{i:02d}", T0 + 60 * 30 + 60 * (i - 30), keys), NOW)
    assert late == []
    # The campaign's members keep reporting; 30 minutes after the last revision one names them.
    later = stage.observe_one(fingerprint("acct_00", T0 + 60 * 30 + 1_900, (("system_prompt", 42),)), NOW)
    assert len(later) == 1 and later[0].alert_id == alerts[-1].alert_id
    named = {later[0].account_id, *later[0].related_accounts}
    assert {"acct_30", "acct_31", "acct_32"} <= named and before < named


def test_one_stock_phrase_shared_with_a_campaign_links_nobody_two_do() -> None:
    """A suspicious bystander (an eval lab) that ends its prompts with the same stock phrase as a
    running campaign does not join it; one that shares two of its wrappers' phrases does."""
    stage = CoordinationStage(POLICY, ttl_seconds=86_400, detector_version="test")
    for i in range(12):  # a hydra: two wrapper phrases each, spread over networks
        keys = (("template", 11), ("template", 12), ("network", 500 + i))
        stage.observe_one(fingerprint(f"hydra_{i:02d}", T0 + 60 * i, keys), NOW)
    assert len(stage.campaigns) == 1
    (campaign,) = stage.campaigns.values()
    stage.observe_one(
        fingerprint("eval_lab", T0 + 3600, (("template", 12), ("network", 9), ("org", 3)), org_id="org_lab"),
        NOW,
    )
    assert "eval_lab" not in campaign.members
    stage.observe_one(fingerprint("late_member", T0 + 3700, (("template", 11), ("template", 12))), NOW)
    assert "late_member" in campaign.members


# --- the end of a campaign's episode ---------------------------------------------------------------
HOUR = 3600.0


def hydra(
    stage: CoordinationStage, start: float, prefix: str = "acct", size: int = 12, since: float | None = None
) -> list[Alert]:
    """``size`` accounts sharing one system prompt, a minute apart from ``start`` (suspicious
    since ``since``, else since their fingerprint)."""
    alerts: list[Alert] = []
    for i in range(size):
        keys = (("system_prompt", 42), ("network", 1000 + i % 3))
        sent = fingerprint(f"{prefix}_{i:02d}", start + 60 * i, keys)
        if since is not None:
            sent = replace(sent, suspicious_since=since + 60 * i)
        alerts += stage.observe_one(sent, NOW)
    return alerts


def tick(stage: CoordinationStage, at: float, account: str = "unrelated") -> list[Alert]:
    """A fingerprint of an unrelated account: the stage's event time moves to ``at``."""
    return stage.observe_one(fingerprint(account, at, (("network", 77),)), NOW)


def test_a_campaign_whose_members_went_quiet_closes_once() -> None:
    """Once no member has sent a fingerprint for the close delay, the campaign's alert_id gets one
    closing revision (next revision, status closed, subsided, members named); not before, and
    never twice."""
    stage = CoordinationStage(
        POLICY, ttl_seconds=86_400, detector_version="test", close_after_seconds=6 * HOUR
    )
    alerts = hydra(stage, T0)
    assert alerts
    last = alerts[-1]
    quiet_since = T0 + 60 * 11
    assert tick(stage, quiet_since + 6 * HOUR - 1) == []
    (closing,) = tick(stage, quiet_since + 6 * HOUR)
    assert (closing.alert_id, closing.revision) == (last.alert_id, last.revision + 1)
    assert (closing.status, closing.status_reason) == ("closed", "subsided")
    assert closing.category == "coordinated_extraction" and closing.score == last.score
    assert closing.severity == last.severity
    assert {closing.account_id, *closing.related_accounts} == {f"acct_{i:02d}" for i in range(12)}
    assert closing.reasons[0].signal == "episode_closed"
    assert tick(stage, quiet_since + 7 * HOUR) == []
    assert tick(stage, quiet_since + 20 * HOUR) == []
    assert not stage.campaigns and not any(a.startswith("acct_") for a in stage.members)


def test_one_active_member_keeps_a_campaign_open() -> None:
    """A campaign closes only when all its members are quiet: one still reporting keeps it open."""
    stage = CoordinationStage(
        POLICY, ttl_seconds=86_400, detector_version="test", close_after_seconds=2 * HOUR
    )
    alerts = hydra(stage, T0)
    for hour in range(1, 12):
        alerts += stage.observe_one(fingerprint("acct_03", T0 + hour * HOUR, (("system_prompt", 42),)), NOW)
    assert all(a.status == "open" for a in alerts)
    closing = tick(stage, T0 + 13 * HOUR)
    assert [a.status_reason for a in closing] == ["subsided"]


def test_the_close_delay_is_the_configured_one() -> None:
    """``close_after_seconds`` sets the quiet time (one hour here, not the six-hour default); a
    TTL shorter than it closes the campaign before its members could expire unclosed."""
    for close_after, ttl in ((HOUR, 86_400.0), (6 * HOUR, HOUR)):
        stage = CoordinationStage(
            POLICY, ttl_seconds=ttl, detector_version="test", close_after_seconds=close_after
        )
        assert hydra(stage, T0)
        quiet_since = T0 + 60 * 11
        assert tick(stage, quiet_since + HOUR - 1) == []
        assert [a.status for a in tick(stage, quiet_since + HOUR)] == ["closed"]


def test_members_that_come_back_found_a_new_campaign() -> None:
    """After the closing, the same accounts showing the same campaign again are a new campaign:
    a new alert_id starting at revision 1 (a closed alert_id is never reopened), open — also
    when they still say they have been suspicious since the same time, within the closed
    record's retention and after it."""
    for comeback in (8 * HOUR, 3 * 86_400):
        stage = CoordinationStage(POLICY, ttl_seconds=86_400, detector_version="test")
        first = hydra(stage, T0, since=T0)
        (closing,) = tick(stage, T0 + 7 * HOUR)
        again = hydra(stage, T0 + comeback, since=T0)
        assert again
        assert first[0].alert_id == closing.alert_id != again[0].alert_id
        assert again[0].revision == 1 and all(a.status == "open" for a in again)
        assert {a.alert_id for a in again} == {again[0].alert_id}


def test_a_confirmed_campaign_carries_the_verdict_and_closes_resolved() -> None:
    """``confirmed`` on a campaign's alert_id: a revision carrying the verdict, still open; later
    revisions carry it too; its closing says confirmed_resolved. Repeating it does nothing."""
    stage = CoordinationStage(POLICY, ttl_seconds=86_400, detector_version="test")
    alerts = hydra(stage, T0)
    alert_id, revision = alerts[-1].alert_id, alerts[-1].revision
    (confirmed,) = stage.apply_verdict(alert_id, "confirmed", T0 + HOUR, NOW)
    assert (confirmed.alert_id, confirmed.revision) == (alert_id, revision + 1)
    assert (confirmed.status, confirmed.verdict) == ("open", "confirmed")
    assert confirmed.reasons[0].signal == "analyst_verdict"
    assert len(confirmed.related_accounts) == 11
    assert stage.apply_verdict(alert_id, "confirmed", T0 + HOUR, NOW) == []
    grown = hydra(stage, T0 + HOUR, prefix="more", size=6)
    assert grown and all(a.verdict == "confirmed" and a.alert_id == alert_id for a in grown)
    (closing,) = tick(stage, T0 + 9 * HOUR)
    assert (closing.status_reason, closing.verdict) == ("confirmed_resolved", "confirmed")


def test_a_false_positive_closes_the_campaign_but_never_silences_its_members() -> None:
    """``false_positive`` on a campaign's alert_id closes it (carrying the verdict); members that
    keep showing the campaign are linked again, as a new campaign with a new alert_id."""
    stage = CoordinationStage(POLICY, ttl_seconds=86_400, detector_version="test")
    alerts = hydra(stage, T0)
    alert_id = alerts[-1].alert_id
    (closing,) = stage.apply_verdict(alert_id, "false_positive", T0 + 900, NOW)
    assert (closing.alert_id, closing.revision) == (alert_id, alerts[-1].revision + 1)
    assert (closing.status, closing.status_reason, closing.verdict) == (
        "closed",
        "false_positive",
        "false_positive",
    )
    assert stage.apply_verdict(alert_id, "false_positive", T0 + 901, NOW) == []
    assert stage.apply_verdict(alert_id, "confirmed", T0 + 902, NOW) == []
    again = hydra(stage, T0 + 1000)
    assert again and again[0].alert_id != alert_id and again[0].verdict is None


def test_a_verdict_on_an_id_the_stage_does_not_know_does_nothing() -> None:
    """An account's alert_id, or any other, is not a campaign's: no revision, no state."""
    stage = CoordinationStage(POLICY, ttl_seconds=86_400, detector_version="test")
    hydra(stage, T0)
    assert stage.apply_verdict("0" * 32, "false_positive", T0 + 900, NOW) == []
    assert len(stage.campaigns) == 1 and not stage.closed


def test_a_hydra_sharing_no_infrastructure_links_by_its_request_profile_and_onset() -> None:
    """Twelve org-less accounts on twelve networks with twelve user agents, no text and no system
    prompt, but one script's rare request profile and an onset in the same hours (one cohort):
    one campaign. The same profile held by accounts of twelve organisations links nobody."""

    def run(org_of: list[str | None]) -> CoordinationStage:
        stage = CoordinationStage(POLICY, ttl_seconds=86_400, detector_version="test")
        for i, org in enumerate(org_of):
            keys: tuple[tuple[str, int], ...] = (("network", 100 + i), ("user_agent", 200 + i))
            keys += (("profile", 77), ("org", 300 + i)) if org else (("cohort", 77),)
            stage.observe_one(fingerprint(f"acct_{i:02d}", T0 + 60 * i, keys, org_id=org), NOW)
        return stage

    hydra = run([None] * 12)
    assert [len(c.members) for c in hydra.campaigns.values()] == [12]
    customers = run([f"org_{i}" for i in range(12)])
    assert not customers.campaigns


def test_a_campaign_absorbed_by_another_gets_a_closing_revision_naming_its_successor() -> None:
    """Two campaigns alert on their own; an account linked to both merges them. The younger one,
    which downstream holds open, gets one closing revision (superseded, naming the survivor) and
    its id is never reopened; the older one carries on with every member."""
    stage = CoordinationStage(POLICY, ttl_seconds=86_400, detector_version="test")
    alerts = []
    for i in range(8):
        alerts += stage.observe_one(
            fingerprint(f"a_{i}", T0 + 60 * i, (("system_prompt", 1),), specific=4.0), NOW
        )
    for i in range(8):
        alerts += stage.observe_one(
            fingerprint(f"b_{i}", T0 + 3600 + 60 * i, (("system_prompt", 2),), specific=4.0), NOW
        )
    older, younger = sorted({a.alert_id for a in alerts}, key=lambda cid: stage.campaigns[cid].started)
    last_younger = max(a.revision for a in alerts if a.alert_id == younger)
    merged = stage.observe_one(
        fingerprint("bridge", T0 + 7200, (("system_prompt", 1), ("system_prompt", 2)), specific=4.0), NOW
    )
    closing = [a for a in merged if a.alert_id == younger]
    assert [(a.status, a.status_reason, a.revision) for a in closing] == [
        ("closed", "superseded", last_younger + 1)
    ]
    assert older in closing[0].reasons[0].explanation
    assert younger not in stage.campaigns and younger in stage.closed
    assert {f"b_{i}" for i in range(8)} | {f"a_{i}" for i in range(8)} <= stage.campaigns[older].members
    later = stage.observe_one(fingerprint("b_late", T0 + 7300, (("system_prompt", 2),), specific=4.0), NOW)
    assert all(a.alert_id != younger for a in later)


def test_a_newcomer_outside_the_members_spread_does_not_join() -> None:
    """Above half the typical member but far below a tight campaign's spread (a tutoring product
    that shares two of its wrappers' phrases): not one of them. The same newcomer joins a
    campaign whose members vary as much as it differs; a look-alike of the tight one joins."""
    tight = [4.0 + 0.05 * (i % 3) for i in range(12)]
    varied = [2.0 + 0.4 * i for i in range(12)]
    assert 0.5 * 4.05 < 2.6 < join_floor(sorted(tight))
    assert join_floor(sorted(varied)) < 2.6

    def named(specifics: list[float], newcomer: float) -> set[str]:
        stage = CoordinationStage(POLICY, ttl_seconds=86_400, detector_version="test")
        keys = (("template", 11), ("template", 12), ("user_agent", 3))
        alerts: list[Alert] = []
        for i, specific in enumerate(specifics):
            alerts += stage.observe_one(fingerprint(f"acct_{i}", T0 + 60 * i, keys, specific=specific), NOW)
        alerts += stage.observe_one(fingerprint("newcomer", T0 + 7200, keys, specific=newcomer), NOW)
        return stage.members.keys() & set(stage.campaign_of)

    assert "newcomer" not in named(tight, 2.6)
    assert "newcomer" in named(varied, 2.6)
    assert "newcomer" in named(tight, 3.95)


def test_a_campaign_whose_first_members_look_alike_still_admits_the_rest_of_its_playbook() -> None:
    """Five founders whose own evidence happens to agree to a hundredth (a MAD of 0.01) do not
    make the campaign's spread that narrow: the rest of the same hydra, a tenth lower, joins the
    one campaign instead of founding a second one (which later absorbed the first's alert_id)."""
    keys = (("template", 41), ("template", 42), ("network", 7))
    stage = CoordinationStage(POLICY, ttl_seconds=86_400, detector_version="test")
    alerts: list[Alert] = []
    for i, specific in enumerate([8.5, 8.51, 8.49, 8.5, 8.5]):
        alerts += stage.observe_one(fingerprint(f"founder_{i}", T0 + 60 * i, keys, specific=specific), NOW)
    assert join_floor(sorted([8.5, 8.51, 8.49, 8.5, 8.5])) < 7.6
    for i in range(6):
        alerts += stage.observe_one(fingerprint(f"later_{i}", T0 + 600 + 60 * i, keys, specific=7.6), NOW)
    assert len(set(stage.campaign_of.values())) == 1
    assert len(stage.campaign_of) == 11
    assert len({a.alert_id for a in alerts}) == 1
    assert all(a.status != "closed" for a in alerts)


def test_two_campaigns_bridged_continue_under_the_one_that_alerted() -> None:
    """A cluster that never alerted (its onsets spread over a day) and an alerted campaign are
    joined by an account linked to both: the alerted campaign absorbs the other, though the other
    began earlier, so downstream keeps the alert_id it holds open (no ``superseded`` closing)."""
    quiet_keys = (("template", 21), ("template", 22))
    loud_keys = (("template", 31), ("template", 32))
    stage = CoordinationStage(POLICY, ttl_seconds=86_400, detector_version="test")
    alerts: list[Alert] = []
    for i in range(6):
        alerts += stage.observe_one(fingerprint(f"quiet_{i}", T0 + 3 * 3600 * i, quiet_keys, 4.0), NOW)
    assert not alerts and len(stage.campaigns) == 1
    for i in range(6):
        alerts += stage.observe_one(fingerprint(f"loud_{i}", T0 + 16 * 3600 + 60 * i, loud_keys, 4.0), NOW)
    assert len({a.alert_id for a in alerts}) == 1
    loud = alerts[-1].alert_id
    bridge = stage.observe_one(fingerprint("bridge", T0 + 16.5 * 3600, quiet_keys + loud_keys, 4.0), NOW)
    assert set(stage.campaigns) == {loud}
    assert {stage.campaign_of[a] for a in stage.campaign_of} == {loud}
    assert all(a.alert_id == loud and a.status != "closed" for a in bridge)
