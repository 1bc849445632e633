"""The evaluation splits: disjoint material, sources that exist, and no reserved benchmark anywhere."""

from __future__ import annotations

import gzip
import json
import re
from importlib import resources

import pytest

from detector.simulate.reference import load_wide_pools
from detector.simulate.splits import SPLITS, TUNING, UNSEEN, Split, split_sources, wrapper_parts

RESERVED = (
    r"alpaca[-_ ]?libre",
    r"code[-_ ]?alpaca",
    r"openai/human-eval",
    r"\bhumaneval\b",
    r"\bmbpp",
    r"evalplus",
    r"wizardlm",
    r"\bmmlu\b",
    r"agieval",
    r"grade[-_]school[-_]math.*test",
    r"gsm8k[-_ ]?test",
    r"koala",
    r"alpaca[-_ ]?eval",
    r"mt[-_ ]?bench",
    r"vicuna",
    r"arena[-_]hard[-_]v2",
    r"hh[-_]rlhf",
    r"\bboolq\b",
    r"wikitext",
    r"ag[-_ ]?news",
    r"\bimdb\b",
    r"sst[-_]?2",
    r"hate[-_ ]?speech",
    r"meaeq",
)
"""Evaluation sets kept for an independent evaluator: none may reach the simulator's data."""


def _data_names() -> list[str]:
    """Every source name and provenance string the committed prompt files carry."""
    names: list[str] = []
    for pool in load_wide_pools().values():
        names += [pool.name, *pool.provenance]
    data = resources.files("detector.simulate").joinpath("data")
    old = json.loads(gzip.decompress(data.joinpath("prompts.json.gz").read_bytes()))
    names += sorted({row["source"] for group in old.values() for row in group})
    names += data.joinpath("ATTRIBUTION.md").read_text().splitlines()
    return names


def test_the_splits_share_no_prompt_source() -> None:
    """Tuning and unseen read disjoint sets of prompt sources."""
    assert split_sources(TUNING).isdisjoint(split_sources(UNSEEN))


def test_the_splits_share_no_wrapper_part() -> None:
    """No persona, opening, framing, format demand, closing, cover phrase or system prompt is shared."""
    assert wrapper_parts(TUNING).isdisjoint(wrapper_parts(UNSEEN))
    assert TUNING.bulk_shapes != UNSEEN.bulk_shapes and set(TUNING.hydra_shapes).isdisjoint(
        UNSEEN.hydra_shapes
    )


def test_the_splits_zero_width_and_homoglyph_sets_differ() -> None:
    """The evasions of unseen use characters tuning never shows."""
    assert set(TUNING.ranges.zero_width).isdisjoint(UNSEEN.ranges.zero_width)
    assert {b for _, b in TUNING.ranges.homoglyphs}.isdisjoint(b for _, b in UNSEEN.ranges.homoglyphs)


@pytest.mark.parametrize("split", list(SPLITS.values()), ids=list(SPLITS))
def test_every_source_of_a_split_is_in_the_committed_data(split: Split) -> None:
    """A split names only pools that exist and hold texts."""
    pools = load_wide_pools()
    for source in split_sources(split):
        assert pools[source].texts, source


def test_every_framing_has_exactly_one_item_slot() -> None:
    """A wrapper that lost its ``{p}`` would send no item at all."""
    for split in SPLITS.values():
        w = split.wrappers
        for framing in (*w.framings, *w.cover, *(f for _, f in w.translated)):
            assert framing.count("{p}") == 1, framing


def test_the_committed_data_carries_no_reserved_source() -> None:
    """No source name, provenance or attribution line of the data names a reserved benchmark."""
    for name in _data_names():
        for pattern in RESERVED:
            assert not re.search(pattern, name.lower()), (pattern, name)


def test_the_reserved_check_would_catch_a_reserved_name() -> None:
    """The patterns match the names they guard (a check that matches nothing proves nothing)."""
    for name in (
        "alpaca-libre",
        "HumanEval",
        "mbpp_plus",
        "MMLU",
        "gsm8k_test",
        "hh-rlhf",
        "sst2",
        "MT-bench",
    ):
        assert any(re.search(p, name.lower()) for p in RESERVED), name
