"""From a scenario to account plans: who exists, how each one calls, and which ones attack.

Planning is cheap and holds no events: an ``AccountPlan`` is an identity plus a few ``Segment``
objects (behaviour by time span). ``Simulation.events()`` later turns the plans into calls.

Ordinary accounts are built from ServeGen client profiles: each one takes a real client's hourly
rate series (a random stretch of its 14 days, so its busy and idle hours are real), its CV, and
its token-length quantiles, and is scaled to a per-account volume. The scaling compresses the
real range (clients span 0.002-900 requests/s because a ServeGen client is a whole application)
with a square root, which keeps the ordering of who is heavy and who is light while giving
single-account volumes between a few calls and a few thousand calls a day.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial

import numpy as np

from detector.simulate.behaviours import (
    CallStyle,
    OrganicSource,
    PromptSource,
    Segment,
    TemplatedSource,
    system_prompt_set,
)
from detector.simulate.identity import Identity, IdentityFactory
from detector.simulate.reference import ClientProfile, FloatArray, Reference
from detector.simulate.scenario import CampaignSpec, HardNegativeSpec, Scenario
from detector.simulate.text import COT_TEMPLATES, PRODUCT_TEMPLATES, hash_text

HOUR_S = 3600.0
DAY_S = 86400.0
MIN_DAILY_CALLS = 1.0
MAX_DAILY_CALLS = 6000.0

MODEL_OF_CATEGORY = {
    "m-large": "frontier-large",
    "m-mid": "frontier-mini",
    "m-small": "frontier-nano",
    "deepseek-r1": "frontier-reasoning",
}
"""ServeGen groups clients by model size; we name the simulated models after the same sizes."""
TOKENS_PER_S = {
    "frontier-large": 45.0,
    "frontier-large-2": 50.0,
    "frontier-mini": 110.0,
    "frontier-nano": 180.0,
    "frontier-reasoning": 60.0,
}
SCRIPT_USER_AGENTS = (
    "python-requests/2.31.0",
    "openai-python/1.35.3",
    "aiohttp/3.9.5",
    "python-httpx/0.27.0",
    "openai-python/1.54.0",
)
"""What a scripted crawler typically sends: a plain HTTP library or a slightly old SDK."""


@dataclass(slots=True)
class AccountPlan:
    """One account: identity, behaviour segments and (for attackers) the label."""

    seed_key: int
    """Creation order: with the simulation seed it seeds the account's own random streams."""
    identity: Identity
    segments: list[Segment] = field(default_factory=list)
    kind: str = "benign"
    """"benign", a hard-negative kind, or an attack style."""
    campaign_id: str | None = None
    attack_t0: float | None = None
    attack_t1: float | None = None

    @property
    def attacking(self) -> bool:
        """True for accounts of a planted campaign."""
        return self.campaign_id is not None


def _ramp(qp: FloatArray, lo: float, hi: float, power: float) -> FloatArray:
    """A quantile table rising from lo to hi: for synthetic lengths (templates, caps)."""
    out: FloatArray = lo + (hi - lo) * qp**power
    return out


class Planner:
    """Turns a scenario and a seed into account plans, drawing from one seeded stream."""

    def __init__(self, scenario: Scenario, seed: int, ref: Reference) -> None:
        self.scenario = scenario
        self.ref = ref
        self.seed = seed
        self.rng = random.Random(seed)
        self.np_rng = np.random.default_rng([seed, 1])
        self.ids = IdentityFactory(random.Random(seed * 1_000_003 + 7))
        self.hours = max(1, math.ceil(scenario.hours))
        self.t_end = scenario.hours * HOUR_S
        self.plans: list[AccountPlan] = []
        self._orgs: list[str] = []
        self._org_weights: list[int] = []
        self.language = [c for c in ref.clients if c.category != "deepseek-r1"]
        self.reasoning = [c for c in ref.clients if c.category == "deepseek-r1"]
        self.with_lengths = [c for c in ref.clients if c.category == "m-small" and c.input_q is not None]

    # --- helpers ----------------------------------------------------------------------------
    def _new_plan(self, identity: Identity, kind: str) -> AccountPlan:
        plan = AccountPlan(seed_key=len(self.plans), identity=identity, kind=kind)
        self.plans.append(plan)
        return plan

    def _org(self) -> str | None:
        """Ordinary accounts: 8% without org, 30% join an existing one (bigger orgs attract more)."""
        roll = self.rng.random()
        if roll < 0.08:
            return None
        if roll < 0.38 and self._orgs:
            org = self.rng.choices(self._orgs, weights=self._org_weights)[0]
            self._org_weights[self._orgs.index(org)] += 1
            return org
        org = self.ids.org_id()
        self._orgs.append(org)
        self._org_weights.append(1)
        return org

    def _identity(
        self, org: str | None, ips: tuple[str, ...] | None = None, uas: tuple[str, ...] | None = None
    ) -> Identity:
        keys, cum = self.ids.key_set()
        if uas is None:
            uas = (
                (self.ids.user_agent(),)
                if self.rng.random() < 0.8
                else (self.ids.user_agent(), self.ids.user_agent())
            )
        return Identity(
            account_id=self.ids.account_id(),
            org_id=org,
            api_keys=keys,
            key_cum_weights=cum,
            ips=ips if ips is not None else self.ids.address_pool(),
            user_agents=uas,
        )

    def _shape(self, client: ClientProfile) -> FloatArray:
        """The client's hourly rates over the scenario hours, relative to its own mean (mean 1).

        A random whole-day offset picks which of its days we replay; a region shift moves its
        day to another time zone.
        """
        series = client.hourly_rate
        days = max(1, len(series) // 24)
        shift = self.rng.choices((0, 6, 13, 16), weights=(50, 15, 20, 15))[0]
        offset = 24 * self.rng.randrange(days) + shift
        window = np.resize(np.roll(series, -offset), self.hours)
        mean = float(series.mean())
        out: FloatArray = window / mean if mean > 0 else window
        return out

    def _cv(self, client: ClientProfile) -> float:
        """Real CVs measure whole applications; one account is kept between 0.8 and 3."""
        return float(min(3.0, max(0.8, client.cv_median)))

    def _lengths(self, client: ClientProfile) -> tuple[FloatArray, FloatArray]:
        if client.input_q is not None and client.output_q is not None:
            return client.input_q, client.output_q
        roll = self.rng.random()
        if roll < 0.5:
            return self.ref.chat_input_q, self.ref.chat_output_q
        if roll < 0.65:
            return self.ref.code_input_q, self.ref.code_output_q
        donor = self.rng.choice(self.with_lengths)
        assert donor.input_q is not None and donor.output_q is not None
        return donor.input_q, donor.output_q

    def _organic(self, size: int) -> OrganicSource:
        texts = self.ref.organic.texts
        picked = self.rng.sample(range(len(texts)), k=min(size, len(texts)))
        return OrganicSource(tuple(texts[i] for i in picked))

    def _benign_style(self, model: str, client: ClientProfile) -> CallStyle:
        """Per-account parameter habits of an ordinary customer (each call varies within them)."""
        rng = self.rng
        temperatures = rng.choices(
            [(None,), (0.7,), (1.0,), (0.0,), (0.2,), (0.3,), (0.5,), (0.8,), (0.7, 0.7, 1.0, 0.2, 0.0)],
            weights=[30, 20, 12, 10, 6, 6, 6, 4, 6],
        )[0]
        top_ps = rng.choices([(None,), (0.95,), (1.0,), (0.9,)], weights=[80, 10, 5, 5])[0]
        if rng.random() < 0.45:
            max_tokens: tuple[int | None, ...] = (None,)
        else:
            cap = rng.choice((256, 512, 1000, 1024, 2000, 2048, 2048, 4096, 4096, 8192, 16384))
            max_tokens = (cap,) if rng.random() < 0.8 else (cap, None, rng.choice((512, 1024, 4096)))
        stream_share = rng.choices((1.0, 0.0, 0.5), weights=(55, 35, 10))[0]
        tools = (0,) if rng.random() < 0.78 else (0, *([rng.randint(1, 12)] * rng.randint(1, 4)))
        logprobs_share = 0.0 if rng.random() < 0.97 else rng.uniform(0.1, 1.0)
        cont: FloatArray | None = None
        if rng.random() > 0.22:
            cont = np.minimum(0.9, self.ref.continue_prob * rng.uniform(0.6, 1.6))
        n_sys = rng.choices((0, 1, 2, 3), weights=(40, 35, 15, 10))[0]
        embeddings = rng.uniform(0.3, 0.9) if rng.random() < 0.07 else 0.0
        responses = rng.uniform(0.3, 1.0) if rng.random() < 0.15 else 0.0
        completions = rng.uniform(0.5, 1.0) if rng.random() < 0.04 else 0.0
        input_q, output_q = self._lengths(client)
        return CallStyle(
            models=(model,) * 9 + (rng.choice(("frontier-large", "frontier-mini", "frontier-nano")),),
            input_q=input_q,
            output_q=output_q,
            reason_ratio_q=client.reason_ratio_q,
            temperatures=temperatures,
            top_ps=top_ps,
            max_tokens=max_tokens,
            stream_share=stream_share,
            tools=tools,
            n_values=(1,) if rng.random() < 0.97 else (1, 1, 1, 2, 3),
            logprobs_share=logprobs_share,
            top_logprobs=(0, 1, 3, 5),
            logit_bias=(0,) if rng.random() < 0.98 else (0, 0, 0, rng.randint(1, 6)),
            seed=None if rng.random() < 0.95 else rng.randint(0, 2**31 - 1),
            continue_prob=cont,
            system_prompts=system_prompt_set(rng, n_sys, rng.randint(0, 5)),
            system_tokens=rng.randint(20, 600),
            embeddings_share=embeddings,
            responses_share=responses * (1 - embeddings),
            completions_share=completions * (1 - embeddings) * (1 - responses),
            p429=min(0.1, rng.expovariate(1 / 0.006)),
            p5xx=rng.uniform(0.001, 0.004),
            p400=rng.uniform(0.001, 0.005),
            tokens_per_s=TOKENS_PER_S.get(model, 60.0),
        )

    # --- ordinary accounts ------------------------------------------------------------------
    def benign(self) -> None:
        """The ordinary population, scaled to the scenario's mean daily calls per account."""
        sc = self.scenario
        chosen: list[ClientProfile] = []
        for _ in range(sc.benign_accounts):
            pool = self.reasoning if self.rng.random() < sc.reasoning_share else self.language
            chosen.append(self.rng.choice(pool))
        weights = np.array([math.sqrt(c.mean_rate) for c in chosen])
        scale = sc.benign_calls_per_account_day * len(chosen) / weights.sum() if chosen else 0.0
        launch = sc.launch
        for client, weight in zip(chosen, weights, strict=True):
            daily = float(np.clip(weight * scale, MIN_DAILY_CALLS, MAX_DAILY_CALLS))
            model = MODEL_OF_CATEGORY[client.category]
            style = self._benign_style(model, client)
            plan = self._new_plan(self._identity(self._org()), "benign")
            rates = self._shape(client) * daily / DAY_S
            source = self._organic(self.rng.randint(15, 120))
            ident = plan.identity
            cv = self._cv(client)
            if (
                launch is not None
                and model != "frontier-reasoning"
                and self.rng.random() < launch.adoption_share
            ):
                cut = min(self.t_end, launch.offset_hours * HOUR_S)
                new_style = _replace_models(style, (launch.model,) * 9 + (model,))
                plan.segments.append(Segment(0.0, cut, rates, cv, style, ident, _const(source)))
                plan.segments.append(Segment(cut, self.t_end, rates, cv, new_style, ident, _const(source)))
                plan.kind = "launch_adopter"
            else:
                plan.segments.append(Segment(0.0, self.t_end, rates, cv, style, ident, _const(source)))

    # --- planted campaigns --------------------------------------------------------------------
    def campaign(self, spec: CampaignSpec, index: int) -> None:
        """Plan every account of one campaign."""
        campaign_id = spec.campaign_id or f"camp_{index + 1:02d}_{spec.style}"
        t0 = min(self.t_end, spec.start_offset_hours * HOUR_S)
        t1 = self.t_end if spec.duration_hours is None else min(self.t_end, t0 + spec.duration_hours * HOUR_S)
        if spec.style == "bulk_distillation":
            self._bulk(spec, campaign_id, t0, t1)
        else:
            raise NotImplementedError(f"campaign style {spec.style!r} is not simulated yet")

    def _prior_history(self, plan: AccountPlan, t_attack: float) -> None:
        """Before the onset, the account is a light ordinary customer with its own habits."""
        if t_attack <= 0:
            return
        client = self.rng.choice(self.language)
        model = MODEL_OF_CATEGORY[client.category]
        style = self._benign_style(model, client)
        daily = self.rng.uniform(20, 150)
        rates = self._shape(client) * daily / DAY_S
        prior = Identity(
            account_id=plan.identity.account_id,
            org_id=plan.identity.org_id,
            api_keys=self.ids.api_keys(1),
            key_cum_weights=(1.0,),
            ips=self.ids.address_pool(),
            user_agents=(self.ids.user_agent(),),
        )
        source = self._organic(self.rng.randint(15, 60))
        plan.segments.append(Segment(0.0, t_attack, rates, self._cv(client), style, prior, _const(source)))

    def _bulk(self, spec: CampaignSpec, campaign_id: str, t0: float, t1: float) -> None:
        """One account, machine rhythm, CoT-wrapped dataset prompts, answers near a high cap."""
        rng = self.rng
        qp = self.ref.quantile_probs
        pool = self.ref.instruction.texts
        for _ in range(spec.accounts):
            org = None if rng.random() < 0.4 else self.ids.org_id()
            ips = self.ids.same_prefix(self.ids.ipv4("cloud"), rng.randint(1, 3))
            ident = self._identity(org, ips=ips, uas=(rng.choice(SCRIPT_USER_AGENTS),))
            ident = Identity(
                ident.account_id, ident.org_id, ident.api_keys[:1], (1.0,), ident.ips, ident.user_agents
            )
            plan = self._new_plan(ident, spec.style)
            plan.campaign_id, plan.attack_t0, plan.attack_t1 = campaign_id, t0, t1
            if spec.prior_history:
                self._prior_history(plan, t0)
            templates = tuple(rng.sample(COT_TEMPLATES, k=2))
            cap = rng.choice((4096, 4096, 8192))
            style = CallStyle(
                models=("frontier-large",),
                input_q=None,
                output_q=_ramp(qp, 0.35 * cap, cap, 0.6),
                near_cap=0.5,
                temperatures=(rng.choice((0.0, 0.7, 1.0)),),
                top_ps=(1.0,),
                max_tokens=(cap,),
                stream_share=0.0,
                system_prompts=(hash_text(f"{campaign_id}-system"),),
                system_tokens=rng.randint(30, 120),
                p429=0.04,
                p5xx=0.004,
                p400=0.001,
                tokens_per_s=TOKENS_PER_S["frontier-large"],
                first_ua_share=1.0,
            )
            rates = np.full(self.hours, spec.rate_per_hour / HOUR_S) * self.np_rng.uniform(
                0.93, 1.07, self.hours
            )
            order = tuple(self.np_rng.permutation(len(pool)).tolist())
            factory = partial(TemplatedSource, pool, templates, order)
            plan.segments.append(Segment(t0, t1, rates, 0.3, style, ident, factory))

    # --- hard negatives -------------------------------------------------------------------------
    def hard_negative(self, spec: HardNegativeSpec) -> None:
        """Plan a group of benign accounts whose behaviour resembles an attack in some way."""
        t0 = min(self.t_end, spec.start_offset_hours * HOUR_S)
        t1 = self.t_end if spec.duration_hours is None else min(self.t_end, t0 + spec.duration_hours * HOUR_S)
        if spec.kind == "heavy_batch":
            self._heavy_batch(spec, t0, t1)
        else:
            raise NotImplementedError(f"hard negative {spec.kind!r} is not simulated yet")

    def _heavy_batch(self, spec: HardNegativeSpec, t0: float, t1: float) -> None:
        """A top ServeGen client as one account: a product's backend processing documents."""
        rng = self.rng
        heavy = sorted(self.with_lengths, key=lambda c: c.mean_rate, reverse=True)[:8]
        for _ in range(spec.accounts):
            client = rng.choice(heavy)
            assert client.input_q is not None and client.output_q is not None
            ips = self.ids.same_prefix(self.ids.ipv4("cloud"), rng.randint(3, 12))
            plan = self._new_plan(self._identity(self._org(), ips=ips), spec.kind)
            model = rng.choice(("frontier-mini", "frontier-nano", "frontier-large"))
            style = CallStyle(
                models=(model,),
                input_q=client.input_q,
                output_q=client.output_q,
                temperatures=(rng.choice((0.0, 0.2, 0.3)),),
                max_tokens=(rng.choice((None, 1024, 2048)),),
                stream_share=0.0,
                system_prompts=system_prompt_set(rng, rng.randint(1, 2), 0),
                system_tokens=rng.randint(100, 900),
                p429=0.02,
                tokens_per_s=TOKENS_PER_S[model],
            )
            rate = spec.rate_per_hour or rng.uniform(600, 2000)
            rates = self._shape(client) * rate / HOUR_S
            templates = tuple(rng.sample(PRODUCT_TEMPLATES, k=2))
            texts = self.ref.organic.texts
            order = tuple(self.np_rng.permutation(len(texts)).tolist())
            factory = partial(TemplatedSource, texts, templates, order)
            plan.segments.append(Segment(t0, t1, rates, self._cv(client), style, plan.identity, factory))


def _const(source: PromptSource) -> Callable[[], PromptSource]:
    """A factory for an immutable prompt source: every run can share the same object."""
    return lambda: source


def _replace_models(style: CallStyle, models: tuple[str, ...]) -> CallStyle:
    return replace(style, models=models)


def plan_accounts(scenario: Scenario, seed: int, ref: Reference) -> list[AccountPlan]:
    """All account plans of a scenario, in a seeded random order (so order tells no label)."""
    planner = Planner(scenario, seed, ref)
    planner.benign()
    for spec in scenario.hard_negatives:
        planner.hard_negative(spec)
    for index, campaign in enumerate(scenario.campaigns):
        planner.campaign(campaign, index)
    plans = planner.plans
    random.Random(seed + 17).shuffle(plans)
    return plans
