"""What a simulation contains: the benign population, planted campaigns and hard negatives.

A scenario is plain, frozen data (pydantic, so it can be written next to the labels and read
back); ``generate(scenario, seed)`` turns it into events. Nothing here is random.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

AttackStyle = Literal[
    "bulk_distillation",
    "hydra",
    "low_and_slow",
    "logit_extraction",
    "reasoning_harvest",
    "router_mixed",
    "system_prompt_elicitation",
    "query_set",
    "launch_pivot",
]
"""Campaign styles; every account of a campaign is labelled as attacking."""

HardNegativeKind = Literal[
    "heavy_batch",
    "eval_harness",
    "templated_product",
    "shared_nat",
    "router",
    "logprob_classifier",
    "tutoring_app",
    "agent_loop",
    "reasoning_power_user",
    "eval_lab",
    "automation_long",
    "org_fleet",
    "classroom",
    "router_end_user_id",
    "agent_framework",
    "query_set_benign",
]
"""Legitimate behaviours that resemble an attack in one way or another; labelled benign."""

Evasion = Literal["zero_width", "homoglyph", "case_whitespace", "translation", "split_turns", "padding"]
"""How a campaign disguises its prompts once it knows it is watched (see ``wording.py``)."""

DEFAULT_START = datetime(2026, 11, 2, tzinfo=UTC)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CampaignSpec(_Frozen):
    """One planted extraction campaign."""

    style: AttackStyle
    accounts: int = Field(1, ge=1, description="Accounts the campaign runs on.")
    start_offset_hours: float = Field(0.0, ge=0, description="Onset, in hours after the scenario start.")
    duration_hours: float | None = Field(None, gt=0, description="How long it runs; None = to the end.")
    rate_per_hour: float = Field(..., gt=0, description="Mean calls per hour of *each* account.")
    prior_history: bool = Field(
        False, description="The accounts behave like ordinary customers before the onset."
    )
    campaign_id: str | None = Field(None, description="Label id; generated from the index if None.")
    variant: str = Field("plain", description="The shape of the style (evaluation worlds have several).")
    evasion: Evasion | None = Field(None, description="An evasion of detectors the campaign applies.")
    end_user_ids: bool = Field(False, description="router_mixed: the router passes end_user_id.")
    mix: float = Field(1.0, gt=0, le=1, description="query_set: share of the account's calls that probe.")


class HardNegativeSpec(_Frozen):
    """A group of benign accounts with a behaviour that a naive detector would flag."""

    kind: HardNegativeKind
    accounts: int = Field(1, ge=1)
    start_offset_hours: float = Field(0.0, ge=0)
    duration_hours: float | None = Field(None, gt=0)
    rate_per_hour: float | None = Field(None, gt=0, description="Per account; None = the kind's default.")
    variant: str = "plain"


class LaunchSpec(_Frozen):
    """A model launch: from the offset on, a share of ordinary accounts moves to the new model."""

    model: str = "frontier-large-2"
    offset_hours: float = Field(12.0, ge=0)
    adoption_share: float = Field(0.3, ge=0, le=1)


class Scenario(_Frozen):
    """Everything ``generate`` needs besides the seed."""

    start: datetime = Field(DEFAULT_START, description="Scenario start (UTC).")
    hours: float = Field(24.0, gt=0, le=24 * 90)
    benign_accounts: int = Field(400, ge=0, description="Ordinary customer accounts.")
    benign_calls_per_account_day: float = Field(
        200.0, gt=0, description="Mean daily calls of an ordinary account (the median is far lower)."
    )
    reasoning_share: float = Field(
        0.1, ge=0, le=1, description="Share of ordinary accounts using the reasoning model."
    )
    campaigns: tuple[CampaignSpec, ...] = ()
    hard_negatives: tuple[HardNegativeSpec, ...] = ()
    launch: LaunchSpec | None = None
    include_prompt_text: bool = Field(True, description="False = the gateway shares no prompt text.")
    split: Literal["tuning", "unseen"] | None = Field(
        None, description="An evaluation world: draw prompts, wording and shapes from this split only."
    )

    @field_validator("start")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        """Naive datetimes are taken as UTC so that a scenario means one instant everywhere."""
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def default_scenario(hours: float = 24.0, benign_accounts: int = 400) -> Scenario:
    """A day of traffic with one campaign of every style and every kind of hard negative.

    Sized so that 24 h x 400 accounts gives roughly 250k events. Onsets are fractions of the
    scenario so that each campaign has a clean "before" stretch whatever ``hours`` is; group
    sizes scale with ``benign_accounts`` so small test scenarios stay small.
    """
    scale = benign_accounts / 400.0

    def n(base: int) -> int:
        return max(1, round(base * scale))

    campaigns = (
        CampaignSpec(
            style="bulk_distillation",
            start_offset_hours=0.25 * hours,
            rate_per_hour=900.0,
            prior_history=True,
            campaign_id="camp_bulk_1",
        ),
        CampaignSpec(
            style="bulk_distillation",
            start_offset_hours=0.5 * hours,
            rate_per_hour=400.0,
            duration_hours=0.4 * hours,
            campaign_id="camp_bulk_2",
        ),
        CampaignSpec(
            style="hydra",
            accounts=n(60),
            start_offset_hours=0.4 * hours,
            rate_per_hour=4.0,
            campaign_id="camp_hydra_1",
        ),
        CampaignSpec(
            style="low_and_slow",
            start_offset_hours=0.0,
            rate_per_hour=15.0,
            prior_history=False,
            campaign_id="camp_slow_1",
        ),
        CampaignSpec(
            style="logit_extraction",
            start_offset_hours=0.6 * hours,
            duration_hours=0.25 * hours,
            rate_per_hour=400.0,
            campaign_id="camp_logit_1",
        ),
        CampaignSpec(
            style="reasoning_harvest",
            start_offset_hours=0.35 * hours,
            rate_per_hour=150.0,
            prior_history=True,
            campaign_id="camp_reason_1",
        ),
        CampaignSpec(
            style="router_mixed",
            start_offset_hours=0.55 * hours,
            rate_per_hour=120.0,
            campaign_id="camp_router_1",
        ),
    )
    hard = (
        HardNegativeSpec(kind="heavy_batch", accounts=n(2)),
        HardNegativeSpec(
            kind="eval_harness",
            accounts=1,
            start_offset_hours=0.3 * hours,
            duration_hours=min(3.0, 0.2 * hours),
        ),
        HardNegativeSpec(kind="templated_product", accounts=n(2)),
        HardNegativeSpec(kind="shared_nat", accounts=n(20)),
        HardNegativeSpec(kind="router", accounts=1),
        HardNegativeSpec(kind="logprob_classifier", accounts=1),
        HardNegativeSpec(kind="tutoring_app", accounts=1),
        HardNegativeSpec(kind="agent_loop", accounts=n(2)),
        HardNegativeSpec(kind="reasoning_power_user", accounts=n(5)),
    )
    return Scenario(
        hours=hours,
        benign_accounts=benign_accounts,
        campaigns=campaigns,
        hard_negatives=hard,
        launch=LaunchSpec(offset_hours=0.5 * hours, adoption_share=0.3),
    )
