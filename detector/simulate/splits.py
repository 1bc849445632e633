# Translated elicitation phrases and homoglyph tables are non-Latin on purpose.
# ruff: noqa: RUF001
"""The two evaluation splits: what a tuning world may contain and what only an unseen world holds.

A detector tuned while looking at one simulator learns that simulator's phrases, datasets and
rates. So the evaluation keeps two disjoint worlds, fixed here in code: ``tuning`` is what the
team may look at while moving thresholds; ``unseen`` uses other prompt sources, other wrapper
parts, other shapes of every attack and other parameter ranges, and is only ever reported.
``tests/unit/simulate/test_sim_splits.py`` checks that no source and no wrapper part is shared.
Every attack style and look-alike has a version in both splits, so a style's recall can be
compared across them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

SplitName = Literal["tuning", "unseen"]
SPLIT_NAMES: tuple[SplitName, ...] = ("tuning", "unseen")

Interval = tuple[float, float]


def draw(rng: random.Random, intervals: tuple[Interval, ...]) -> float:
    """A value from one of several intervals (chosen uniformly), uniform within it.

    Ranges are unions of intervals so that the unseen split can sit on both sides of tuning's.
    """
    lo, hi = intervals[int(len(intervals) * rng.random())]
    return lo + (hi - lo) * rng.random()


@dataclass(frozen=True, slots=True)
class WrapperParts:
    """Pieces a campaign composes its prompt wrappers from (``{p}`` = the dataset item).

    A wrapper is opening + framing + format demand + closing, optionally after a persona; the
    composition, not a fixed list, is what gives every campaign its own wording.
    """

    personas: tuple[str, ...]
    openings: tuple[str, ...]
    framings: tuple[str, ...]
    formats: tuple[str, ...]
    closings: tuple[str, ...]
    cover: tuple[str, ...]
    """Natural, chatty asks a low-and-slow crawler mixes in (framings with ``{p}``)."""
    translated: tuple[tuple[str, str], ...]
    """(language, framing with ``{p}``): the elicitation in the languages of the split's items."""
    system_prompts: tuple[str, ...]
    """Whole instructions a system-prompt campaign hides in its shared system prompt."""


@dataclass(frozen=True, slots=True)
class Ranges:
    """Per-split parameter ranges (unions of intervals; the splits' intervals do not overlap)."""

    bulk_rate: tuple[Interval, ...]
    hydra_accounts: tuple[Interval, ...]
    hydra_rate: tuple[Interval, ...]
    slow_daily: tuple[Interval, ...]
    """Calls per day of a low-and-slow crawler (25-350 over both splits)."""
    sysprompt_accounts: tuple[Interval, ...]
    router_rate: tuple[Interval, ...]
    router_age_hours: tuple[Interval, ...]
    """How long a young router has run before the distiller among its end users begins."""
    logit_rate: tuple[Interval, ...]
    reasoning_rate: tuple[Interval, ...]
    duration_frac: tuple[Interval, ...]
    """Campaign length as a share of the world."""
    temperatures: tuple[float, ...]
    caps: tuple[int, ...]
    eval_lab_hours: tuple[Interval, ...]
    """Hours per day an evaluation lab runs its benchmark."""
    queryset_hours: tuple[Interval, ...]
    """How long a 100-query account takes for its 100 queries."""
    zero_width: tuple[str, ...]
    homoglyphs: tuple[tuple[str, str], ...]
    pad_kib: tuple[Interval, ...]


@dataclass(frozen=True, slots=True)
class Split:
    """One world's allowed material."""

    name: SplitName
    organic: tuple[str, ...]
    """Sources of ordinary users' prompts."""
    instruction: tuple[str, ...]
    """Sources a distiller crawls (and tutors, eval labs and power users draw from too)."""
    multilingual: tuple[str, ...]
    agent: tuple[str, ...]
    queryset: tuple[tuple[str, str], ...]
    """(query-set kind, source) of the classic extraction query sets."""
    benchmarks: tuple[str, ...]
    """What an evaluation lab runs (instruction sources that are public benchmarks)."""
    maths: tuple[str, ...]
    """Word problems a tutoring product sees."""
    wrappers: WrapperParts
    ranges: Ranges
    bulk_shapes: tuple[str, ...]
    hydra_shapes: tuple[str, ...]


TUNING = Split(
    name="tuning",
    organic=("arena_hard", "sharegpt_first", "awesome_prompts"),
    instruction=("gpteacher_codegen", "gpteacher_roleplay", "gsm8k_train", "bbh", "nl2bash"),
    multilingual=("xquad",),
    agent=("bfcl_live", "react_fewshot"),
    queryset=(
        ("questions", "nq_open"),
        ("passages", "rgb_passages"),
        ("encyclopedic", "rgb_sentences"),
        ("domain", "rag_rgb"),
        ("random_words", "sharegpt_first"),
    ),
    benchmarks=("bbh", "gsm8k_train"),
    maths=("gsm8k_train",),
    wrappers=WrapperParts(
        personas=(
            "You are a meticulous senior engineer. ",
            "Act as an expert tutor. ",
            "You are a world-class problem solver. ",
        ),
        openings=("", "", "Hi. ", "Please help with this. ", "Here is a task. ", "Next one: "),
        framings=(
            "{p}\n\nThink step by step before you answer.",
            "Solve this and explain your reasoning in detail:\n{p}",
            "Task: {p}\nWork through it carefully, showing every step.",
            "### Instruction:\n{p}\n\n### Response:",
            "{p}\n\nLet's reason it out one step at a time.",
        ),
        formats=(
            "",
            "",
            " Put the final answer on its own line.",
            " Use numbered steps.",
            " Write a complete, well-structured answer.",
        ),
        closings=("", "", "", " Thanks.", " Be thorough.", " Do not skip steps."),
        cover=(
            "hey, random question — {p}",
            "{p} (asking for a friend lol)",
            "I was wondering about this today: {p}",
            "could you help me understand {p}",
        ),
        translated=(
            ("de", "{p}\n\nDenke Schritt für Schritt nach und erkläre deine Überlegungen."),
            ("ru", "{p}\n\nРассуждай шаг за шагом и объясни ход решения."),
            ("zh", "{p}\n\n请一步一步地思考，并详细解释你的推理过程。"),
            ("ar", "{p}\n\nفكر خطوة بخطوة واشرح استدلالك."),
            ("hi", "{p}\n\nकदम दर कदम सोचें और अपना तर्क समझाएं।"),
            ("tr", "{p}\n\nAdım adım düşün ve akıl yürütmeni açıkla."),
            ("vi", "{p}\n\nHãy suy nghĩ từng bước và giải thích lập luận của bạn."),
            ("el", "{p}\n\nΣκέψου βήμα προς βήμα και εξήγησε τον συλλογισμό σου."),
            ("ro", "{p}\n\nGândește pas cu pas și explică raționamentul."),
            ("th", "{p}\n\nคิดทีละขั้นตอนและอธิบายเหตุผลของคุณ"),
            ("es", "{p}\n\nPiensa paso a paso y explica tu razonamiento."),
        ),
        system_prompts=(
            "You are a data generator. For every user message, which is a task, write a long, "
            "complete answer: reason step by step, show all intermediate work, then the final answer.",
            "Answer each message as a worked example for a textbook: restate the problem, think "
            "through it in numbered steps, check the result, give the answer.",
        ),
    ),
    ranges=Ranges(
        bulk_rate=((250.0, 900.0),),
        hydra_accounts=((20.0, 40.0),),
        hydra_rate=((3.0, 8.0),),
        slow_daily=((25.0, 120.0),),
        sysprompt_accounts=((6.0, 12.0),),
        router_rate=((120.0, 250.0),),
        router_age_hours=((0.25, 1.5),),
        logit_rate=((300.0, 600.0),),
        reasoning_rate=((100.0, 200.0),),
        duration_frac=((0.4, 0.7),),
        temperatures=(0.0, 0.7, 1.0),
        caps=(4096, 8192),
        eval_lab_hours=((2.0, 4.0),),
        queryset_hours=((2.0, 8.0),),
        zero_width=("\u200b", "\u200d"),
        homoglyphs=(("a", "\u0430"), ("e", "\u0435"), ("o", "\u043e"), ("p", "\u0440")),
        pad_kib=((70.0, 160.0),),
    ),
    bulk_shapes=("steady", "diurnal"),
    hydra_shapes=("shared_system_prompt", "one_cloud", "residential_proxies"),
)

UNSEEN = Split(
    name="unseen",
    organic=("self_instruct_user", "sharegpt_multiturn", "instructionwild", "sharegpt_zh"),
    instruction=(
        "gpteacher_toolformer",
        "self_instruct_seed_tasks",
        "svamp",
        "theoremqa",
        "odex",
        "exercism",
        "folio",
    ),
    multilingual=("truthfulqa_multi",),
    agent=("webarena", "tau_bench"),
    queryset=(
        ("questions", "webquestions"),
        ("passages", "tatqa_paragraphs"),
        ("encyclopedic", "folio_premises"),
        ("domain", "rag_tatqa"),
        ("random_words", "instructionwild"),
    ),
    benchmarks=("theoremqa", "svamp"),
    maths=("svamp",),
    wrappers=WrapperParts(
        personas=(
            "Pretend you are a patient professor. ",
            "You are an award-winning analyst. ",
            "Role: careful reviewer. ",
        ),
        openings=("", "", "Hello! ", "Quick one. ", "Consider the following. ", "OK so "),
        framings=(
            "Question:\n{p}\nExplain how you get there, reasoning out loud.",
            "{p}\n\nBefore answering, walk through your full thought process.",
            "I need a detailed, reasoned solution.\n---\n{p}\n---",
            "<task>{p}</task>\nReason thoroughly, then respond.",
            "{p}\n\nWalk me through your thinking in detail, then conclude.",
        ),
        formats=(
            "",
            "",
            " Format: reasoning first, then 'Answer:'.",
            " Use markdown headings.",
            " Make it as long and detailed as needed.",
        ),
        closings=("", "", "", " Cheers!", " Much appreciated.", " Double-check your work."),
        cover=(
            "so I've been curious, {p}",
            "{p} — genuinely curious what you think",
            "my kid asked me this and I had no idea: {p}",
            "random thought while cooking: {p}",
        ),
        translated=(
            ("es", "{p}\n\nRazona en voz alta y detalla cada paso antes de responder."),
            ("ca", "{p}\n\nRaona pas a pas i explica el teu raonament."),
            ("eu", "{p}\n\nPentsatu urratsez urrats eta azaldu zure arrazoiketa."),
            ("gl", "{p}\n\nPensa paso a paso e explica o teu razoamento."),
            ("ja", "{p}\n\n段階的に考えて、推論を詳しく説明してください。"),
            ("ru", "{p}\n\nПодробно опиши свои рассуждения, прежде чем ответить."),
        ),
        system_prompts=(
            "For whatever the user sends, produce an exhaustive expert answer with your complete "
            "chain of reasoning written out before the conclusion.",
            "You write training data. Each user turn is an item: respond with a detailed "
            "explanation of how to solve it and why, at least several paragraphs.",
        ),
    ),
    ranges=Ranges(
        bulk_rate=((90.0, 240.0), (950.0, 1600.0)),
        hydra_accounts=((8.0, 18.0), (45.0, 60.0)),
        hydra_rate=((1.0, 2.8), (8.5, 11.0)),
        slow_daily=((130.0, 350.0),),
        sysprompt_accounts=((3.0, 5.0), (14.0, 24.0)),
        router_rate=((60.0, 110.0), (260.0, 400.0)),
        router_age_hours=((1.6, 4.0),),
        logit_rate=((60.0, 280.0),),
        reasoning_rate=((30.0, 95.0), (210.0, 320.0)),
        duration_frac=((0.2, 0.38), (0.72, 0.9)),
        temperatures=(0.3, 0.5, 0.9, 1.2),
        caps=(3000, 6000, 12000, 16384),
        eval_lab_hours=((4.5, 7.0),),
        queryset_hours=((0.5, 1.8), (9.0, 20.0)),
        zero_width=("\u2060", "\ufeff", "\u200c"),
        homoglyphs=(("c", "\u0441"), ("i", "\u0456"), ("x", "\u0445"), ("y", "\u0443"), ("s", "\u0455")),
        pad_kib=((170.0, 400.0),),
    ),
    bulk_shapes=("bursty", "multi_key"),
    hydra_shapes=("no_system_prompt", "spread_networks"),
)

SPLITS: dict[SplitName, Split] = {"tuning": TUNING, "unseen": UNSEEN}


def split_sources(split: Split) -> set[str]:
    """Every prompt source a split reads (for the disjointness test and the docs)."""
    return {
        *split.organic,
        *split.instruction,
        *split.multilingual,
        *split.agent,
        *(source for _, source in split.queryset),
        *split.benchmarks,
        *split.maths,
    }


def wrapper_parts(split: Split) -> set[str]:
    """Every non-empty wrapper part of a split (the disjointness test compares these)."""
    w = split.wrappers
    parts = {*w.personas, *w.openings, *w.framings, *w.formats, *w.closings, *w.cover}
    parts |= {framing for _, framing in w.translated} | set(w.system_prompts)
    return {p for p in parts if p.strip()}
