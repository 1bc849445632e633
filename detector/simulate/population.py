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
from detector.simulate.text import (
    AGENT_OBSERVATIONS,
    CLASSIFIER_TEMPLATES,
    COT_TEMPLATES,
    EVAL_TEMPLATES,
    HYDRA_TEMPLATES,
    LOGIT_TEMPLATES,
    POWER_USER_SUFFIXES,
    PRODUCT_TEMPLATES,
    REASONING_TEMPLATES,
    TUTOR_TEMPLATES,
    hash_text,
)

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
    variant: str = "plain"
    """The shape of the style or kind (evaluation worlds have several)."""
    evasion: str | None = None
    end_user_id: str | None = None
    """router_mixed with end-user ids: the distilling end user's id."""

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
        self._daily_scale = 1.0

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

        A random whole-day offset picks which of its days we replay (one with some activity: an
        account that never calls is not worth simulating); a region shift moves its day to another
        time zone.
        """
        series = client.hourly_rate
        days = max(1, len(series) // 24)
        shift = self.rng.choices((0, 6, 13, 16), weights=(50, 15, 20, 15))[0]
        span = min(self.hours, 24)
        active = [d for d in range(days) if np.roll(series, -(24 * d + shift))[:span].sum() > 0]
        offset = 24 * self.rng.choice(active or list(range(days))) + shift
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
        self._daily_scale = sc.benign_calls_per_account_day * len(chosen) / weights.sum() if chosen else 1.0
        for client in chosen:
            self._ordinary(client, "benign", self._identity(self._org()))

    def _ordinary(self, client: ClientProfile, kind: str, ident: Identity) -> AccountPlan:
        """One ordinary customer replaying ``client``; may move to the launched model."""
        daily = float(
            np.clip(math.sqrt(client.mean_rate) * self._daily_scale, MIN_DAILY_CALLS, MAX_DAILY_CALLS)
        )
        model = MODEL_OF_CATEGORY[client.category]
        style = self._benign_style(model, client)
        plan = self._new_plan(ident, kind)
        rates = self._shape(client) * daily / DAY_S
        source = _const(self._organic(self.rng.randint(15, 120)))
        cv = self._cv(client)
        launch = self.scenario.launch
        if launch is not None and model != "frontier-reasoning" and self.rng.random() < launch.adoption_share:
            cut = min(self.t_end, launch.offset_hours * HOUR_S)
            new_style = replace(style, models=(launch.model,) * 9 + (model,))
            plan.segments.append(Segment(0.0, cut, rates, cv, style, ident, source))
            plan.segments.append(Segment(cut, self.t_end, rates, cv, new_style, ident, source))
            if kind == "benign":
                plan.kind = "launch_adopter"
        else:
            plan.segments.append(Segment(0.0, self.t_end, rates, cv, style, ident, source))
        return plan

    def _human_shape(self, shift: int | None = None) -> FloatArray:
        """Relative hourly activity of people at work: weekdays 8-19 local time, little at night."""
        if shift is None:
            shift = self.rng.choice((0, 1, 5, 8, 13, 16, 17))
        local = [
            0.05,
            0.03,
            0.02,
            0.02,
            0.03,
            0.05,
            0.1,
            0.3,
            0.8,
            1.4,
            1.7,
            1.6,
            1.1,
            1.4,
            1.7,
            1.6,
            1.4,
            1.0,
            0.6,
            0.5,
            0.45,
            0.35,
            0.2,
            0.1,
        ]
        start = self.scenario.start
        out = np.empty(self.hours)
        for h in range(self.hours):
            hour_utc = start.hour + h
            local_hour = (hour_utc - shift) % 24
            day = (start.weekday() + (hour_utc - shift) // 24) % 7
            out[h] = local[local_hour] * (0.25 if day >= 5 else 1.0)
        result: FloatArray = out / (sum(local) / 24)
        return result

    def _flat(self, rate_per_hour: float, jitter: float = 0.07) -> FloatArray:
        """A script's constant rate, with a few percent of hour-to-hour wobble."""
        out: FloatArray = np.full(self.hours, rate_per_hour / HOUR_S) * self.np_rng.uniform(
            1 - jitter, 1 + jitter, self.hours
        )
        return out

    def _instruction(self, sources: tuple[str, ...] | None = None) -> tuple[str, ...]:
        pool = self.ref.instruction
        if sources is None:
            return pool.texts
        return tuple(t for t, s in zip(pool.texts, pool.sources, strict=True) if s in sources)

    def _crawl(
        self,
        texts: tuple[str, ...],
        templates: tuple[str, ...],
        *,
        suffix: str = "",
        edit: bool = False,
        order: tuple[int, ...] | None = None,
    ) -> Callable[[], PromptSource]:
        """A fresh crawl of a dataset for every run, in ``order`` (default: a new shuffle)."""
        if order is None:
            order = tuple(self.np_rng.permutation(len(texts)).tolist())
        return partial(TemplatedSource, texts, templates, order, suffix, edit)

    # --- planted campaigns --------------------------------------------------------------------
    def campaign(self, spec: CampaignSpec, index: int) -> None:
        """Plan every account of one campaign."""
        campaign_id = spec.campaign_id or f"camp_{index + 1:02d}_{spec.style}"
        t0 = min(self.t_end, spec.start_offset_hours * HOUR_S)
        t1 = self.t_end if spec.duration_hours is None else min(self.t_end, t0 + spec.duration_hours * HOUR_S)
        builders = {
            "bulk_distillation": self._bulk,
            "hydra": self._hydra,
            "low_and_slow": self._low_and_slow,
            "logit_extraction": self._logit_extraction,
            "reasoning_harvest": self._reasoning_harvest,
            "router_mixed": self._router_mixed,
        }
        builders[spec.style](spec, campaign_id, t0, t1)

    def _attacker(
        self, spec: CampaignSpec, campaign_id: str, t0: float, t1: float, ident: Identity
    ) -> AccountPlan:
        plan = self._new_plan(ident, spec.style)
        plan.campaign_id, plan.attack_t0, plan.attack_t1 = campaign_id, t0, t1
        if spec.prior_history:
            self._prior_history(plan, t0)
        return plan

    def _script_identity(self, org_share: float = 0.6, hosts: tuple[int, int] = (1, 3)) -> Identity:
        """A crawler's identity: one key, one script user agent, a few hosts of one cloud /24."""
        rng = self.rng
        org = self.ids.org_id() if rng.random() < org_share else None
        ips = self.ids.same_prefix(self.ids.ipv4("cloud"), rng.randint(*hosts))
        return Identity(
            self.ids.account_id(), org, self.ids.api_keys(1), (1.0,), ips, (rng.choice(SCRIPT_USER_AGENTS),)
        )

    def _prior_history(self, plan: AccountPlan, t_attack: float) -> None:
        """Before the onset, the account is a light ordinary customer with its own habits."""
        if t_attack <= 0:
            return
        client = self.rng.choice(self.language)
        model = MODEL_OF_CATEGORY[client.category]
        style = self._benign_style(model, client)
        daily = self.rng.uniform(20, 150)
        rates = self._shape(client) * daily / DAY_S
        # A history nobody can see is no history: at least ~10 calls before the onset.
        whole = int(t_attack // HOUR_S)
        expected = float(
            rates[:whole].sum() * HOUR_S + rates[min(whole, self.hours - 1)] * (t_attack % HOUR_S)
        )
        if expected <= 0:
            rates = np.full(self.hours, daily / DAY_S)
        elif expected < 10:
            rates = rates * (10 / expected)
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

    def _distill_style(
        self,
        campaign_id: str,
        cap: int,
        *,
        temperature: float,
        near_cap: float,
        p429: float,
        model: str = "frontier-large",
    ) -> CallStyle:
        qp = self.ref.quantile_probs
        return CallStyle(
            models=(model,),
            input_q=None,
            output_q=_ramp(qp, 0.35 * cap, cap, 0.6),
            near_cap=near_cap,
            temperatures=(temperature,),
            top_ps=(1.0,),
            max_tokens=(cap,),
            stream_share=0.0,
            system_prompts=(hash_text(f"{campaign_id}-system"),),
            system_tokens=self.rng.randint(30, 120),
            p429=p429,
            p5xx=0.004,
            p400=0.001,
            tokens_per_s=TOKENS_PER_S[model],
            first_ua_share=1.0,
        )

    def _bulk(self, spec: CampaignSpec, campaign_id: str, t0: float, t1: float) -> None:
        """One account, machine rhythm, CoT-wrapped dataset prompts, answers near a high cap."""
        rng = self.rng
        for _ in range(spec.accounts):
            plan = self._attacker(spec, campaign_id, t0, t1, self._script_identity())
            cap = rng.choice((4096, 4096, 8192))
            style = self._distill_style(
                campaign_id, cap, temperature=rng.choice((0.0, 0.7, 1.0)), near_cap=0.5, p429=0.04
            )
            prompts = self._crawl(self._instruction(), tuple(rng.sample(COT_TEMPLATES, k=2)))
            plan.segments.append(
                Segment(t0, t1, self._flat(spec.rate_per_hour), 0.3, style, plan.identity, prompts)
            )

    def _hydra(self, spec: CampaignSpec, campaign_id: str, t0: float, t1: float) -> None:
        """Many accounts at ordinary volume that split one dataset and share one playbook.

        What they share only shows across accounts: templates and system prompt, a few /24
        prefixes, a user agent, some organisations, and an onset within minutes.
        """
        rng = self.rng
        n = spec.accounts
        prefixes = [self.ids.ipv4("cloud") for _ in range(max(1, n // 15))]
        prefixes += [self.ids.ipv4("access") for _ in range(max(1, n // 30))]
        orgs = [self.ids.org_id() for _ in range(max(1, n // 8))]
        shared_ua = rng.choice(SCRIPT_USER_AGENTS)
        texts = self._instruction()
        shuffled = tuple(self.np_rng.permutation(len(texts)).tolist())
        cap = rng.choice((2048, 4096))
        temperature = rng.choice((0.7, 1.0))
        style_base = self._distill_style(campaign_id, cap, temperature=temperature, near_cap=0.3, p429=0.01)
        for i in range(n):
            roll = rng.random()
            org = rng.choice(orgs) if roll < 0.5 else (self.ids.org_id() if roll < 0.8 else None)
            if rng.random() < 0.75:
                ips = self.ids.same_prefix(rng.choice(prefixes), 1)
            else:
                ips = (self.ids.ipv4("access"),)
            ua = shared_ua if rng.random() < 0.7 else self.ids.user_agent()
            ident = Identity(self.ids.account_id(), org, self.ids.api_keys(1), (1.0,), ips, (ua,))
            start = min(t1, t0 + rng.uniform(0, 600))
            plan = self._attacker(spec, campaign_id, start, t1, ident)
            style = style_base if rng.random() < 0.8 else replace(style_base, system_prompts=(None,))
            templates = tuple(rng.sample(HYDRA_TEMPLATES, k=rng.randint(1, 2)))
            suffix = rng.choice(("", "", " ", "\n", " Be thorough."))
            rate = spec.rate_per_hour * rng.uniform(0.6, 1.4)
            prompts = self._crawl(texts, templates, suffix=suffix, order=shuffled[i::n] or shuffled)
            plan.segments.append(Segment(start, t1, self._flat(rate, 0.2), 0.7, style, ident, prompts))

    def _low_and_slow(self, spec: CampaignSpec, campaign_id: str, t0: float, t1: float) -> None:
        """One account that crawls at a person's pace and hours, with a person's edits and SDK."""
        rng = self.rng
        for _ in range(spec.accounts):
            org = self._org()
            ident = Identity(
                self.ids.account_id(),
                org,
                self.ids.api_keys(1),
                (1.0,),
                (self.ids.ipv4("access"),),
                (self.ids.user_agent(),),
            )
            plan = self._attacker(spec, campaign_id, t0, t1, ident)
            cap = rng.choice((2048, 4096))
            style = replace(
                self._distill_style(campaign_id, cap, temperature=0.7, near_cap=0.25, p429=0.003),
                temperatures=(None,),
                top_ps=(None,),
                stream_share=1.0,
                system_prompts=(None,),
            )
            rates = self._human_shape() * spec.rate_per_hour / HOUR_S
            prompts = self._crawl(self._instruction(), COT_TEMPLATES, edit=True)
            plan.segments.append(Segment(t0, t1, rates, 1.2, style, ident, prompts))

    def _logit_extraction(self, spec: CampaignSpec, campaign_id: str, t0: float, t1: float) -> None:
        """Single-token probes with the widest top_logprobs and logit_bias sweeps."""
        rng = self.rng
        qp = self.ref.quantile_probs
        for _ in range(spec.accounts):
            plan = self._attacker(spec, campaign_id, t0, t1, self._script_identity())
            style = CallStyle(
                models=("frontier-large",),
                input_q=None,
                output_q=np.ones_like(qp),
                temperatures=(0.0,),
                max_tokens=(1,),
                logprobs_share=1.0,
                top_logprobs=(20,),
                logit_bias=(0, 1, 2, 5, 10, 20, 50, 100, 200, 300),
                seed=rng.randint(0, 1000),
                p429=0.02,
                tokens_per_s=TOKENS_PER_S["frontier-large"],
                first_ua_share=1.0,
            )
            short = tuple(t[: rng.randint(40, 200)] for t in self._instruction())
            prompts = self._crawl(short, LOGIT_TEMPLATES)
            plan.segments.append(
                Segment(t0, t1, self._flat(spec.rate_per_hour), 0.4, style, plan.identity, prompts)
            )

    def _reasoning_harvest(self, spec: CampaignSpec, campaign_id: str, t0: float, t1: float) -> None:
        """Hard problems to the reasoning model, asking for all of the thinking, at a high cap."""
        rng = self.rng
        qp = self.ref.quantile_probs
        for _ in range(spec.accounts):
            plan = self._attacker(spec, campaign_id, t0, t1, self._script_identity())
            cap = rng.choice((16384, 32768))
            style = replace(
                self._distill_style(
                    campaign_id, cap, temperature=0.6, near_cap=0.2, p429=0.03, model="frontier-reasoning"
                ),
                output_q=_ramp(qp, 1500, 0.7 * cap, 1.3),
                reason_ratio_q=_ramp(qp, 0.7, 0.96, 1.0),
                top_ps=(0.95,),
            )
            texts = self._instruction(("gsm8k_train", "gpteacher_codegen", "self_instruct_seed_tasks"))
            prompts = self._crawl(texts, REASONING_TEMPLATES)
            plan.segments.append(
                Segment(t0, t1, self._flat(spec.rate_per_hour), 0.5, style, plan.identity, prompts)
            )

    def _router_mixed(self, spec: CampaignSpec, campaign_id: str, t0: float, t1: float) -> None:
        """A reseller's account whose end users include a crawler: campaign calls inside real traffic."""
        rng = self.rng
        for _ in range(spec.accounts):
            plan = self._router(rng.uniform(250, 600), 0.0, self.t_end, spec.style)
            plan.campaign_id, plan.attack_t0, plan.attack_t1 = campaign_id, t0, t1
            cap = rng.choice((4096, 8192))
            style = replace(
                self._distill_style(campaign_id, cap, temperature=0.7, near_cap=0.5, p429=0.02),
                first_ua_share=0.92,
            )
            prompts = self._crawl(self._instruction(), tuple(rng.sample(COT_TEMPLATES, k=2)))
            plan.segments.append(
                Segment(t0, t1, self._flat(spec.rate_per_hour), 0.4, style, plan.identity, prompts)
            )

    # --- hard negatives -------------------------------------------------------------------------
    def hard_negative(self, spec: HardNegativeSpec) -> None:
        """Plan a group of benign accounts whose behaviour resembles an attack in some way."""
        t0 = min(self.t_end, spec.start_offset_hours * HOUR_S)
        t1 = self.t_end if spec.duration_hours is None else min(self.t_end, t0 + spec.duration_hours * HOUR_S)
        if spec.kind == "shared_nat":
            self._shared_nat(spec)
            return
        builders = {
            "heavy_batch": self._heavy_batch,
            "eval_harness": self._eval_harness,
            "templated_product": self._templated_product,
            "router": self._router_group,
            "logprob_classifier": self._logprob_classifier,
            "tutoring_app": self._tutoring_app,
            "agent_loop": self._agent_loop,
            "reasoning_power_user": self._reasoning_power_user,
        }
        for _ in range(spec.accounts):
            builders[spec.kind](spec, t0, t1)

    def _service_identity(self, hosts: tuple[int, int] = (3, 12)) -> Identity:
        """A company backend: an org, a couple of keys, a fleet of cloud hosts, one SDK."""
        ips = self.ids.same_prefix(self.ids.ipv4("cloud"), self.rng.randint(*hosts))
        return self._identity(self._org(), ips=ips, uas=(self.ids.user_agent(),))

    def _heavy_batch(self, spec: HardNegativeSpec, t0: float, t1: float) -> None:
        """A top ServeGen client as one account: a product's backend processing documents."""
        rng = self.rng
        # The busiest clients with real answers (the very top ones answer in 1-6 tokens, which
        # the logprob classifier already covers).
        heavy = sorted(
            (c for c in self.with_lengths if c.output_q is not None and float(np.median(c.output_q)) >= 20),
            key=lambda c: c.mean_rate,
            reverse=True,
        )[:8]
        client = rng.choice(heavy)
        assert client.input_q is not None and client.output_q is not None
        plan = self._new_plan(self._service_identity(), spec.kind)
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
            first_ua_share=1.0,
        )
        rate = spec.rate_per_hour or rng.uniform(300, 700)
        rates = self._shape(client) * rate / HOUR_S
        prompts = self._crawl(self.ref.organic.texts, tuple(rng.sample(PRODUCT_TEMPLATES, k=2)))
        plan.segments.append(Segment(t0, t1, rates, self._cv(client), style, plan.identity, prompts))

    def _eval_harness(self, spec: HardNegativeSpec, t0: float, t1: float) -> None:
        """A benchmark run: dataset questions at temperature 0 and a fixed seed, for a few hours."""
        rng = self.rng
        qp = self.ref.quantile_probs
        ips = self.ids.same_prefix(self.ids.ipv4("cloud"), 1)
        plan = self._new_plan(self._identity(self._org(), ips=ips, uas=("python-httpx/0.27.2",)), spec.kind)
        model = rng.choice(("frontier-large", "frontier-mini"))
        style = CallStyle(
            models=(model,),
            input_q=_ramp(qp, 600, 1500, 1.0),  # few-shot examples precede the question
            output_q=_ramp(qp, 30, 450, 1.5),
            temperatures=(0.0,),
            max_tokens=(rng.choice((256, 512, 1024)),),
            seed=1234,
            p429=0.03,
            tokens_per_s=TOKENS_PER_S[model],
            first_ua_share=1.0,
        )
        if spec.duration_hours is None:
            t1 = min(self.t_end, t0 + 3 * HOUR_S)
        texts = self._instruction(("gsm8k_train", "self_instruct_seed_tasks"))
        prompts = self._crawl(texts, EVAL_TEMPLATES)
        rate = spec.rate_per_hour or rng.uniform(1000, 2000)
        plan.segments.append(Segment(t0, t1, self._flat(rate, 0.02), 0.3, style, plan.identity, prompts))

    def _templated_product(self, spec: HardNegativeSpec, t0: float, t1: float) -> None:
        """A writing-assistant feature: one fixed system prompt and template around users' text."""
        rng = self.rng
        client = rng.choice(self.with_lengths)
        plan = self._new_plan(self._service_identity(), spec.kind)
        model = rng.choice(("frontier-mini", "frontier-large"))
        style = CallStyle(
            models=(model,),
            input_q=None,
            output_q=self.ref.chat_output_q,
            temperatures=(0.3,),
            max_tokens=(1024,),
            stream_share=1.0,
            system_prompts=(hash_text(f"product-{rng.getrandbits(64)}"),),
            system_tokens=rng.randint(150, 700),
            tokens_per_s=TOKENS_PER_S[model],
            first_ua_share=1.0,
        )
        rate = spec.rate_per_hour or rng.uniform(150, 400)
        rates = self._human_shape() * rate / HOUR_S
        prompts = self._crawl(self.ref.organic.texts, (rng.choice(PRODUCT_TEMPLATES),), edit=True)
        plan.segments.append(Segment(t0, t1, rates, self._cv(client), style, plan.identity, prompts))

    def _shared_nat(self, spec: HardNegativeSpec) -> None:
        """Many ordinary accounts behind one address: a university or a company's NAT."""
        ips = self.ids.same_prefix(self.ids.ipv4("access"), 2)
        org = self.ids.org_id() if self.rng.random() < 0.5 else None
        for _ in range(spec.accounts):
            own_org = org if org is not None and self.rng.random() < 0.6 else self._org()
            self._ordinary(self.rng.choice(self.language), spec.kind, self._identity(own_org, ips=ips))

    def _router(self, rate: float, t0: float, t1: float, kind: str) -> AccountPlan:
        """A reseller: many end users' chats through one account, every habit at once."""
        rng = self.rng
        busy = sorted(self.language, key=lambda c: c.mean_rate, reverse=True)[5:30]
        client = rng.choice(busy)
        ident = self._identity(
            self.ids.org_id(),
            ips=self.ids.same_prefix(self.ids.ipv4("cloud"), 6),
            uas=("python-httpx/0.27.2", "OpenAI/JS 4.67.3"),
        )
        plan = self._new_plan(ident, kind)
        style = CallStyle(
            models=(
                "frontier-large",
                "frontier-large",
                "frontier-mini",
                "frontier-mini",
                "frontier-nano",
                "frontier-reasoning",
            ),
            input_q=self.ref.chat_input_q,
            output_q=self.ref.chat_output_q,
            continue_prob=self.ref.continue_prob,
            temperatures=(None, None, 0.0, 0.2, 0.5, 0.7, 0.7, 1.0),
            top_ps=(None, None, None, 0.9, 1.0),
            max_tokens=(None, None, 512, 1024, 2048, 4096),
            stream_share=0.8,
            tools=(0, 0, 0, 0, 3, 8),
            system_prompts=system_prompt_set(rng, 25, 3),
            system_tokens=300,
            p429=0.015,
            tokens_per_s=70.0,
            first_ua_share=0.7,
        )
        rates = self._shape(client) * rate / HOUR_S
        source = _const(OrganicSource(self.ref.organic.texts))
        plan.segments.append(Segment(t0, t1, rates, 1.0, style, ident, source))
        return plan

    def _router_group(self, spec: HardNegativeSpec, t0: float, t1: float) -> None:
        self._router(spec.rate_per_hour or self.rng.uniform(300, 700), t0, t1, spec.kind)

    def _logprob_classifier(self, spec: HardNegativeSpec, t0: float, t1: float) -> None:
        """A moderation or routing classifier: one label token, its logprobs, biased to the labels."""
        rng = self.rng
        qp = self.ref.quantile_probs
        plan = self._new_plan(self._service_identity(), spec.kind)
        style = CallStyle(
            models=("frontier-nano",),
            input_q=None,
            output_q=np.ones_like(qp),
            temperatures=(0.0,),
            max_tokens=(1,),
            logprobs_share=1.0,
            top_logprobs=(rng.choice((1, 2, 5)),),
            logit_bias=(rng.choice((0, 2, 2, 4)),),
            system_prompts=(hash_text(f"classifier-{rng.getrandbits(64)}"),),
            system_tokens=rng.randint(200, 500),
            tokens_per_s=TOKENS_PER_S["frontier-nano"],
            ttft_ms=120.0,
            first_ua_share=1.0,
        )
        rate = spec.rate_per_hour or rng.uniform(200, 500)
        rates = self._human_shape() * rate / HOUR_S
        prompts = self._crawl(self.ref.organic.texts, (rng.choice(CLASSIFIER_TEMPLATES),), edit=True)
        plan.segments.append(Segment(t0, t1, rates, 1.3, style, plan.identity, prompts))

    def _tutoring_app(self, spec: HardNegativeSpec, t0: float, t1: float) -> None:
        """Students asking for step-by-step maths explanations, follow-ups, long answers."""
        rng = self.rng
        qp = self.ref.quantile_probs
        plan = self._new_plan(self._service_identity(), spec.kind)
        style = CallStyle(
            models=("frontier-mini",),
            input_q=None,
            output_q=_ramp(qp, 250, 1600, 1.2),
            continue_prob=np.minimum(0.9, self.ref.continue_prob * 1.5),
            temperatures=(0.7,),
            max_tokens=(2048,),
            stream_share=1.0,
            system_prompts=(hash_text(f"tutor-{rng.getrandbits(64)}"),),
            system_tokens=rng.randint(200, 600),
            tokens_per_s=TOKENS_PER_S["frontier-mini"],
            first_ua_share=1.0,
        )
        rate = spec.rate_per_hour or rng.uniform(80, 200)
        rates = self._human_shape(shift=rng.choice((0, 5))) * rate / HOUR_S
        prompts = self._crawl(self._instruction(("gsm8k_train",)), TUTOR_TEMPLATES, edit=True)
        plan.segments.append(Segment(t0, t1, rates, 1.2, style, plan.identity, prompts))

    def _agent_loop(self, spec: HardNegativeSpec, t0: float, t1: float) -> None:
        """A coding agent: bursts of tool calls on a growing context, short outputs, many tools."""
        rng = self.rng
        qp = self.ref.quantile_probs
        plan = self._new_plan(self._service_identity((1, 3)), spec.kind)
        style = CallStyle(
            models=("frontier-large",),
            input_q=self.ref.code_input_q,
            output_q=_ramp(qp, 15, 700, 2.0),
            continue_prob=np.full(40, 0.88),
            follow_ups=AGENT_OBSERVATIONS,
            temperatures=(rng.choice((0.0, 0.2)),),
            max_tokens=(4096,),
            tools=(rng.randint(6, 18),),
            system_prompts=(hash_text(f"agent-{rng.getrandbits(64)}"),),
            system_tokens=rng.randint(1500, 4000),
            tokens_per_s=TOKENS_PER_S["frontier-large"],
            first_ua_share=1.0,
        )
        rate = spec.rate_per_hour or rng.uniform(100, 300)
        rates = self._human_shape() * rate / HOUR_S
        source = _const(OrganicSource(self._organic(40).texts, edit=False))
        plan.segments.append(Segment(t0, t1, rates, 2.5, style, plan.identity, source))

    def _reasoning_power_user(self, spec: HardNegativeSpec, t0: float, t1: float) -> None:
        """A person who asks the reasoning model hard questions and wants the reasoning shown."""
        rng = self.rng
        client = rng.choice(self.reasoning)
        plan = self._new_plan(self._identity(self._org()), spec.kind)
        style = replace(
            self._benign_style("frontier-reasoning", client),
            models=("frontier-reasoning",),
            max_tokens=(rng.choice((None, 32768)),),
            embeddings_share=0.0,
        )
        rate = spec.rate_per_hour or rng.uniform(15, 50)
        rates = self._human_shape() * rate / HOUR_S
        source = _const(OrganicSource(self._organic(80).texts, suffixes=POWER_USER_SUFFIXES))
        plan.segments.append(Segment(t0, t1, rates, 1.2, style, plan.identity, source))


def _const(source: PromptSource) -> Callable[[], PromptSource]:
    """A factory for an immutable prompt source: every run can share the same object."""
    return lambda: source


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
