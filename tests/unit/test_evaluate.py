"""`detector evaluate` end to end on a small scenario: ground truth in, honest figures out."""

from __future__ import annotations

from detector.evaluate import format_report, run_once, summarise
from detector.simulate import CampaignSpec, Scenario


def test_small_scenario_catches_the_bulk_campaign_and_reports_every_section() -> None:
    """A bulk distiller among 60 ordinary accounts is detected; the report names every style."""
    scenario = Scenario(
        hours=8.0,
        benign_accounts=60,
        campaigns=(
            CampaignSpec(
                style="bulk_distillation", start_offset_hours=2.0, rate_per_hour=600.0, campaign_id="bulk"
            ),
        ),
    )
    outcome = run_once(scenario, seed=5)
    detector, volume, hst = (summarise(outcome, method) for method in outcome.methods)
    assert detector["styles"]["bulk_distillation"]["recall"] == 1.0
    assert detector["campaigns"]["bulk"]["named_within_6h"] == 1.0
    assert detector["false_positive_rate"] <= 0.05
    assert {volume["method"], hst["method"]} == {"volume_rule", "hst_rates"}
    report = format_report("test", outcome, [detector, volume, hst])
    assert "bulk_distillation" in report and "| detector |" in report
    # Found within minutes, so also within the no-text goal's 12 h.
    assert detector["styles"]["bulk_distillation"]["recall_within_12h"] == 1.0
    assert detector["recall_mean_over_styles_within_12h"] == detector["recall_mean_over_styles"]
    assert "recall (mean over styles, ≤ 12 h)" in report
