"""The population learners that are plain Python (no river): template prevalence."""

from __future__ import annotations

from detector.pipeline.learners import COMMON_TEMPLATE_MIN_SAMPLES, TemplatePrevalence


def test_a_phrasing_many_ordinary_accounts_share_is_common() -> None:
    prevalence = TemplatePrevalence()
    for _ in range(int(COMMON_TEMPLATE_MIN_SAMPLES)):
        prevalence.learn_one([11], suspicious=False)
    prevalence.learn_one([11], suspicious=True)
    assert prevalence.is_common(11)
    assert not prevalence.is_common(12)  # never seen


def test_a_template_used_mostly_by_suspicious_accounts_is_not_common() -> None:
    prevalence = TemplatePrevalence()
    for _ in range(5):
        prevalence.learn_one([7], suspicious=False)  # the campaign's first accounts, not yet suspicious
    for _ in range(20):
        prevalence.learn_one([7], suspicious=True)
    assert not prevalence.is_common(7)


def test_a_template_few_accounts_use_is_not_common() -> None:
    prevalence = TemplatePrevalence()
    prevalence.learn_one([3], suspicious=False)
    prevalence.learn_one([3], suspicious=False)
    assert not prevalence.is_common(3)


def test_the_table_stays_bounded_and_keeps_keys_that_keep_coming_back() -> None:
    prevalence = TemplatePrevalence(max_keys=100)
    for key in range(1_000, 3_000):
        prevalence.learn_one([key], suspicious=False)  # one-off phrasings
        if key % 25 == 0:
            prevalence.learn_one([1], suspicious=False)  # a phrasing everyone keeps using
    assert len(prevalence) <= 101
    assert prevalence.is_common(1)
    assert not prevalence.is_common(2_999)
