"""Per-account state: O(1) updates, flat size, windows, eviction, deduplication."""

from __future__ import annotations

import pickle
from datetime import timedelta

from detector.events import ApiCallEvent
from detector.pipeline.features import event_signals
from detector.pipeline.state import AccountState, AccountStore, DedupWindow
from tests.factories import START, event

HALF_LIFE = 3600.0
BUCKET = 1800.0


def signals(**overrides: object):  # type: ignore[no-untyped-def]
    return event_signals(ApiCallEvent.model_validate(event(**overrides)))  # type: ignore[arg-type]


def test_state_size_does_not_grow_with_event_count() -> None:
    """Pickled state after 10,000 events is no larger than after 100 (bounded memory)."""
    state = AccountState("acct", "org", START.timestamp())
    sizes = {}
    for i in range(10_000):
        at = START.timestamp() + i * 2.0
        state.update_one(signals(prompt=f"task number {i % 37} please"), at, HALF_LIFE, BUCKET)
        if i + 1 in (100, 10_000):
            sizes[i + 1] = len(pickle.dumps(state))
    assert sizes[10_000] <= sizes[100] + 16


def test_decayed_rate_tracks_a_steady_rate() -> None:
    """A steady 120 calls/h reads as ~120 calls/h once the account is a few half-lives old."""
    state = AccountState("acct", None, START.timestamp())
    for i in range(120 * 6):
        state.update_one(signals(), START.timestamp() + i * 30.0, HALF_LIFE, BUCKET)
    rate = state.features(HALF_LIFE)["calls_per_hour"]
    assert 110 < rate < 130


def test_window_counts_only_the_last_window() -> None:
    """Requests older than the 12-bucket window drop out of the alert window totals."""
    state = AccountState("acct", None, START.timestamp())
    for hour in range(12):
        state.update_one(signals(), START.timestamp() + hour * 3600.0, HALF_LIFE, BUCKET)
    start, requests, tokens = state.window_totals(BUCKET)
    assert requests == 6  # hours 6..11 fall inside 12 x 30 min
    assert tokens == 6 * 700
    assert start == START.timestamp() + 6 * 3600.0


def test_shares_describe_the_calls() -> None:
    """Share features are the decayed fraction of calls with the property."""
    state = AccountState("acct", None, START.timestamp())
    for i in range(100):
        multi = i % 4 == 0
        state.update_one(
            signals(messages=3 if multi else 1, prompt="Solve it. Think step by step."),
            START.timestamp() + i,
            HALF_LIFE,
            BUCKET,
        )
    features = state.features(HALF_LIFE)
    assert abs(features["single_turn_share"] - 0.75) < 0.02
    assert features["cot_elicitation_share"] > 0.99
    assert features["template_repeat_share"] > 0.95


def test_state_keeps_no_prompt_text() -> None:
    """The pickled state holds no fragment of the prompts it has seen."""
    state = AccountState("acct", None, START.timestamp())
    canary = "zebra-canary-quokka"
    for i in range(50):
        state.update_one(signals(prompt=f"{canary} question {i}"), START.timestamp() + i, HALF_LIFE, BUCKET)
    assert canary.encode() not in pickle.dumps(state)


def test_store_expires_idle_accounts_and_caps_size() -> None:
    """Idle accounts are forgotten after the TTL; the cap evicts the least recently seen."""
    store = AccountStore(ttl_seconds=3600, max_accounts=3)
    t0 = START.timestamp()
    for name in ("a", "b", "c"):
        store.get_or_create(name, None, t0)
    store.get_or_create("a", None, t0 + 10).last_seen = t0 + 7200
    store.get_or_create("d", None, t0 + 7200)  # over the cap: "b" (least recent) goes
    assert store.get("b") is None and len(store) == 3
    assert store.expire(t0 + 7200) == 1  # "c" idle for 2 h > TTL
    assert {s.account_id for s in store} == {"a", "d"}


def test_dedup_window_is_bounded() -> None:
    """Redelivered ids are recognised within the window, and the window keeps only N ids."""
    window = DedupWindow(capacity=3)
    assert [window.seen_before(x) for x in ("e1", "e2", "e1")] == [False, False, True]
    for x in ("e3", "e4", "e5"):
        window.seen_before(x)
    assert window.seen_before("e1") is False  # pushed out of the window


def test_late_event_does_not_rewind_the_clock() -> None:
    """An out-of-order event is counted without moving the account's time backwards."""
    state = AccountState("acct", None, START.timestamp())
    state.update_one(signals(), (START + timedelta(hours=1)).timestamp(), HALF_LIFE, BUCKET)
    state.update_one(signals(), START.timestamp(), HALF_LIFE, BUCKET)
    assert state.last_seen == (START + timedelta(hours=1)).timestamp()
    assert state.total_events == 2


def test_logit_bias_sweep_separates_probing_from_a_fixed_label_set() -> None:
    """Varying logit_bias sizes read as a sweep; one fixed size (a classifier's labels) does not."""
    sweep = AccountState("probe", None, START.timestamp())
    fixed = AccountState("classifier", None, START.timestamp())
    for i in range(200):
        at = START.timestamp() + i * 10.0
        sweep.update_one(signals(params={"logit_bias_size": [0, 5, 50, 300][i % 4]}), at, HALF_LIFE, BUCKET)
        fixed.update_one(signals(params={"logit_bias_size": 4}), at, HALF_LIFE, BUCKET)
    assert sweep.features(HALF_LIFE)["logit_bias_sweep"] > 1.0
    assert fixed.features(HALF_LIFE)["logit_bias_sweep"] < 0.01


def test_rhythm_regularity_separates_a_scheduler_from_people() -> None:
    """Evenly spaced calls read as machine rhythm; exponential gaps (people, Poisson) do not."""
    import random

    rng = random.Random(3)
    machine = AccountState("machine", None, START.timestamp())
    person = AccountState("person", None, START.timestamp())
    t_machine = t_person = START.timestamp()
    for _ in range(300):
        t_machine += 4.0
        t_person += rng.expovariate(1 / 60.0)
        machine.update_one(signals(), t_machine, HALF_LIFE, BUCKET)
        person.update_one(signals(), t_person, HALF_LIFE, BUCKET)
    assert machine.features(HALF_LIFE)["rhythm_regularity"] > 0.9
    assert person.features(HALF_LIFE)["rhythm_regularity"] < 0.3


def test_system_prompt_is_not_a_conversation_turn() -> None:
    """messages=2 with a system prompt is single-turn; messages=3 with one is a conversation."""
    assert signals(messages=2, system_prompt_hash="h").call[0] == 1.0
    assert signals(messages=3, system_prompt_hash="h").call[0] == 0.0
    assert signals(messages=2, system_prompt_hash=None).call[0] == 0.0


def test_distillation_calls_are_counted_only_with_the_whole_pattern() -> None:
    """A templated step-by-step task with a capped single-turn answer counts; a chat does not."""
    state = AccountState("acct", None, START.timestamp())
    for i in range(60):
        state.update_one(
            signals(
                prompt=f"Solve task {i}: add the numbers. Think step by step and show your reasoning.",
                completion_tokens=4000,
                params={"max_tokens": 4096},
            ),
            START.timestamp() + i * 60.0,
            HALF_LIFE,
            BUCKET,
        )
    chat = AccountState("chat", None, START.timestamp())
    for i in range(60):
        chat.update_one(
            signals(prompt=f"hi there {i}", completion_tokens=300),
            START.timestamp() + i * 60.0,
            HALF_LIFE,
            BUCKET,
        )
    assert state.features(HALF_LIFE)["distillation_call_share"] > 0.9
    assert chat.features(HALF_LIFE)["distillation_call_share"] == 0.0


def test_lazy_decay_reads_as_eager_decay_across_rebases_and_long_idles() -> None:
    """Scaled sums read out as sums decayed at every event, also after the reference time was
    moved (every REBASE_HALF_LIVES) and after an idle spell long enough to forget everything."""
    import random

    half_life = 10.0
    rng = random.Random(7)
    state = AccountState("acct", None, START.timestamp())
    at = START.timestamp()
    weight = tokens = 0.0
    last = at
    for i in range(3_000):
        at += rng.expovariate(1 / 2.0) if i != 1_500 else 50_000 * half_life
        decay = 0.5 ** ((at - last) / half_life)
        last = at
        weight = weight * decay + 1.0
        tokens = tokens * decay + 700
        state.update_one(signals(), at, half_life, BUCKET)
        if i % 100 == 0 or i == 1_500:
            assert abs(state.decayed("weight", half_life) - weight) <= 1e-9 * weight
            assert abs(state.decayed("token_weight", half_life) - tokens) <= 1e-9 * tokens
    rate = state.features(half_life)["calls_per_hour"]
    assert abs(rate - state.rate_per_hour(weight, half_life)) <= 1e-9 * rate


def test_template_counting_matches_space_saving_over_an_insertion_ordered_dict() -> None:
    """The packed top-8 keeps the keys, counts, order and victims of the dict it replaced."""
    import random

    rng = random.Random(11)
    state = AccountState("acct", None, START.timestamp())
    reference: dict[int, int] = {}
    for _ in range(5_000):
        head, tail = rng.randrange(14), rng.choice((rng.randrange(14), 2**32 - 1))
        seen = head in reference or tail in reference
        for key in (head, tail):
            if key in reference:
                reference[key] += 1
            elif len(reference) < 8:
                reference[key] = 1
            else:
                victim = min(reference, key=reference.__getitem__)
                reference[key] = reference.pop(victim) + 1
        assert state._count_template(head, tail) is seen
        assert list(zip(state.template_keys, state.template_counts, strict=True)) == list(reference.items())
    ranked = sorted(reference.items(), key=lambda item: (-item[1], item[0]))
    assert state.top_templates() == [key for key, count in ranked[:2] if count >= 3]


def _distillation_call(i: int):  # type: ignore[no-untyped-def]
    return signals(
        prompt=f"Solve task {i}: add the numbers. Think step by step and show your reasoning.",
        completion_tokens=4000,
        params={"max_tokens": 4096},
    )


def test_a_run_of_distillation_calls_in_an_old_account_reads_at_its_own_rate() -> None:
    """A router that starts relaying a crawler at 120 calls/h reads ~120/h within half an hour,
    not the ~40/h a decayed count diluted by the router's quiet past would show."""
    t0 = START.timestamp()
    state = AccountState("router", None, t0)
    for i in range(10 * 360):  # ten hours of ordinary chat at 360 calls/h
        state.update_one(
            signals(prompt=f"hi there {i}", completion_tokens=300), t0 + i * 10.0, HALF_LIFE, BUCKET
        )
    onset = t0 + 10 * 3600.0
    for i in range(60):  # then 30 minutes of distillation calls at 120/h among the chat
        state.update_one(_distillation_call(i), onset + i * 30.0, HALF_LIFE, BUCKET)
        state.update_one(
            signals(prompt=f"hello {i}", completion_tokens=300), onset + i * 30.0 + 10.0, HALF_LIFE, BUCKET
        )
    rate = state.features(HALF_LIFE)["distillation_calls_per_hour"]
    assert 100 < rate < 140


def test_a_lone_distillation_call_does_not_read_as_a_high_rate() -> None:
    """One such call in an otherwise quiet account is measured over at least the minimum run age."""
    t0 = START.timestamp()
    state = AccountState("acct", None, t0)
    for i in range(100):
        state.update_one(
            signals(prompt=f"hi there {i}", completion_tokens=300), t0 + i * 60.0, HALF_LIFE, BUCKET
        )
    state.update_one(_distillation_call(0), t0 + 100 * 60.0, HALF_LIFE, BUCKET)
    assert state.features(HALF_LIFE)["distillation_calls_per_hour"] < 5.0  # one call per 15 min


def test_an_answer_at_a_small_cap_is_not_a_harvested_answer() -> None:
    """A benchmark capping answers at 256 tokens hits its cap, but harvests nothing; an answer
    at a 4,096-token cap does."""
    t0 = START.timestamp()
    small, large = AccountState("small", None, t0), AccountState("large", None, t0)
    for i in range(30):
        small.update_one(
            signals(completion_tokens=256, params={"max_tokens": 256}), t0 + i * 60.0, HALF_LIFE, BUCKET
        )
        large.update_one(
            signals(completion_tokens=4000, params={"max_tokens": 4096}), t0 + i * 60.0, HALF_LIFE, BUCKET
        )
    assert small.features(HALF_LIFE)["near_output_cap_share"] == 0.0
    assert small.features(HALF_LIFE)["harvest_call_share"] == 0.0
    assert large.features(HALF_LIFE)["near_output_cap_share"] > 0.99
    assert large.features(HALF_LIFE)["harvest_call_share"] > 0.99
