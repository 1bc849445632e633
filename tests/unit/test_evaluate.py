"""`detector evaluate` end to end on a small scenario: ground truth in, honest figures out."""

from __future__ import annotations

from detector.evaluate import (
    Detection,
    MethodResult,
    RunOutcome,
    Truth,
    evaluate_splits,
    format_evaluation,
    format_report,
    pool,
    run_once,
    split_metrics,
    summarise,
)
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


def _hand_made() -> RunOutcome:
    """Ten attackers and ten benign accounts with known detections (see each assert's arithmetic)."""
    hour = 3600.0
    attackers = {
        # account: (style, variant, evasion, start)
        "b1": ("bulk_distillation", "steady", None, 0.0),
        "b2": ("bulk_distillation", "diurnal", None, 0.0),
        "h1": ("hydra", "one_cloud", None, 0.0),
        "h2": ("hydra", "one_cloud", None, 0.0),
        "s1": ("low_and_slow", "cover_prompts", None, 0.0),
        "e0": ("bulk_distillation", "evasion_base", None, 0.0),
        "e1": ("bulk_distillation", "evasion_base", "homoglyph", 0.0),
        "q1": ("query_set", "questions_pure", None, 0.0),
        "q2": ("query_set", "passages_mix5", None, 0.0),
        "q3": ("query_set", "domain_pure", None, 0.0),
    }
    benign = {f"n{i}": "benign" for i in range(6)} | {"qb1": "query_set_benign", "qb2": "query_set_benign"}
    benign |= {"t1": "tutoring_app", "t2": "tutoring_app"}
    truth = Truth(
        attacker_start={a: v[3] for a, v in attackers.items()},
        attacker_style={a: v[0] for a, v in attackers.items()},
        attacker_campaign={a: v[0] for a, v in attackers.items()},
        benign_kind=benign,
        attacker_variant={a: v[1] for a, v in attackers.items()},
        attacker_evasion={a: v[2] for a, v in attackers.items()},
    )
    found = {
        "b1": 1 * hour,
        "h1": 2 * hour,
        "h2": 9 * hour,  # named, but after 6 h
        "s1": 30 * hour,
        "e0": 0.5 * hour,
        "q1": 1 * hour,
        "qb1": 1 * hour,
        "t1": 5 * hour,
    }
    detector = MethodResult("detector", {a: Detection(t, 1, 1, 0) for a, t in found.items()})
    return RunOutcome(truth, [detector], set(attackers) | set(benign), events=0, invalid=0)


def test_split_metrics_on_a_hand_made_outcome() -> None:
    """Every goal figure matches the arithmetic done by hand on a tiny outcome."""
    m = split_metrics(pool([_hand_made()], "detector"))
    # Styles (evasion group and query sets apart): bulk 1/2, hydra 2/2, low_and_slow 1/1.
    assert m["styles"]["bulk_distillation"]["recall"] == 0.5
    assert m["recall_mean_over_styles"] == (0.5 + 1.0 + 1.0) / 3
    assert (m["min_style"], m["min_style_recall"]) == ("bulk_distillation", 0.5)
    assert m["styles"]["query_set"]["accounts"] == 3  # listed, but not in the mean above
    # Benign: qb1 and t1 alerted among 10.
    assert (m["false_positives"], m["benign_accounts"]) == (2, 10)
    assert m["benign_kinds"]["tutoring_app"]["fpr"] == 0.5
    # Hydra: h1 within 6 h, h2 not.
    assert m["hydra_named_within_6h"] == 0.5
    # Delays of the counted attackers found: b1 1 h, h1 2 h, h2 9 h, s1 30 h, q1 1 h -> median 2 h.
    assert m["median_delay_h"] == 2.0
    assert m["median_delay_low_and_slow_h"] == 30.0
    # Evasion: plain found, homoglyph not.
    assert m["evasion"]["plain"]["recall"] == 1.0
    assert m["evasion"]["homoglyph"] == {"accounts": 1, "recall": 0.0, "vs_plain": -1.0}
    # Query sets: pure 1/2 found, benign windows 1/2 alerted -> BA (0.5 + 0.5) / 2.
    assert m["query_set_benign_fpr"] == 0.5
    assert m["query_sets"]["pure"] == {"accounts": 2, "recall": 0.5, "balanced_accuracy": 0.5}
    assert m["query_sets"]["mix5"]["balanced_accuracy"] == 0.25


def test_pooling_two_runs_counts_each_account_once_per_run() -> None:
    """Two copies of one outcome double every count and keep every ratio."""
    one = split_metrics(pool([_hand_made()], "detector"))
    two = split_metrics(pool([_hand_made(), _hand_made()], "detector"))
    assert two["benign_accounts"] == 2 * one["benign_accounts"]
    assert two["styles"]["hydra"]["accounts"] == 4
    assert two["recall_mean_over_styles"] == one["recall_mean_over_styles"]
    assert two["false_positive_rate"] == one["false_positive_rate"]


def test_the_report_puts_splits_side_by_side() -> None:
    """The compact report has one column per split x condition and every section."""
    m = {"detector": split_metrics(pool([_hand_made()], "detector"))}
    text = format_evaluation(
        {"tuning / text": m, "unseen / text": m}, {"tuning / text": 1, "unseen / text": 2}
    )
    assert "| metric | tuning / text | unseen / text |" in text
    for section in ("min style", "hydra named", "evasion", "query sets", "benign kind", "homoglyph", "mix5"):
        assert section in text


def test_evaluate_splits_runs_both_conditions_from_one_world() -> None:
    """A tiny tuning world gives one column per condition, from the same events, with every method."""
    results, events = evaluate_splits(["tuning"], [True, False], [1], hours=3.0, benign_accounts=10)
    assert set(results) == {"tuning / text", "tuning / no-text"}
    assert events["tuning / text"] == events["tuning / no-text"] > 0
    for column in results.values():
        assert set(column) == {"detector", "volume_rule", "hst_rates"}
        assert column["detector"]["benign_accounts"] > 10
        assert "padding" in column["detector"]["evasion"]
    # The baselines read no text, so both conditions give them the same figures.
    assert results["tuning / text"]["hst_rates"] == results["tuning / no-text"]["hst_rates"]
