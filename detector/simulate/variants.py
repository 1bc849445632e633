"""Evaluation worlds: every attack variant and benign look-alike, drawn from one split.

``WidePlanner`` plans a scenario whose ``split`` is set: all prompt text comes from that split's
sources (``splits.py``), attack wording is composed from its wrapper parts, and every knob
(rates, caps, temperatures, sizes, durations) is drawn from its ranges. The default scenario's
planner (``population.Planner``) is left as it was, so the demo and the pipeline tests keep
their traffic.

The look-alikes are built to share one trait each with an attack (step-by-step phrasing, long
answers, temperature 0 on a benchmark, many accounts on one network with one system prompt,
100 short queries) and to differ where the real world differs: who they are, when they call,
how the traffic spreads. ``evaluation_scenario`` puts all of them in one world.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import replace
from functools import partial

import numpy as np

from detector.simulate.behaviours import CallStyle, OrganicSource, PromptSource, Segment
from detector.simulate.identity import Identity
from detector.simulate.population import (
    DAY_S,
    HOUR_S,
    MODEL_OF_CATEGORY,
    SCRIPT_USER_AGENTS,
    TOKENS_PER_S,
    AccountPlan,
    Planner,
    _const,
    _ramp,
)
from detector.simulate.reference import FloatArray, PromptPool, Reference, WidePool, load_wide_pools
from detector.simulate.scenario import CampaignSpec, Evasion, HardNegativeSpec, LaunchSpec, Scenario
from detector.simulate.splits import SPLITS, Split, SplitName, draw
from detector.simulate.text import AGENT_OBSERVATIONS, PRODUCT_TEMPLATES, hash_text
from detector.simulate.wording import (
    EVASIONS,
    CrawlSource,
    MixedSource,
    RandomWordSource,
    compose_template,
    compose_templates,
)

QUERY_SET_MIXES: tuple[float, ...] = (1.0, 0.5, 0.25, 0.1, 0.05)
"""Share of a 100-query account's calls that come from the query set (1.0 = pure)."""
QUERY_SET_CALLS = 100


def mix_name(mix: float) -> str:
    """``pure`` or the percentage, as the report's columns name a mix."""
    return "pure" if mix >= 1.0 else f"mix{round(100 * mix)}"


def _pool(pools: dict[str, WidePool], names: tuple[str, ...]) -> PromptPool:
    texts: list[str] = []
    sources: list[str] = []
    for name in names:
        texts += pools[name].texts
        sources += [name] * len(pools[name].texts)
    return PromptPool(tuple(texts), tuple(sources), tuple(sources))


class WidePlanner(Planner):
    """Plans an evaluation world from one split; see the module docstring."""

    def __init__(self, scenario: Scenario, seed: int, ref: Reference, split: SplitName) -> None:
        self.split: Split = SPLITS[split]
        self.pools = load_wide_pools()
        sp = self.split
        ref = replace(
            ref, organic=_pool(self.pools, sp.organic), instruction=_pool(self.pools, sp.instruction)
        )
        super().__init__(scenario, seed, ref)

    # --- material -----------------------------------------------------------------------------
    def _texts(self, names: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(t for name in names for t in self.pools[name].texts)

    def _instruction(self, sources: tuple[str, ...] | None = None) -> tuple[str, ...]:
        """The split's instruction items; a source of another split is never substituted in."""
        if sources is None:
            return self.ref.instruction.texts
        picked = tuple(
            t
            for t, s in zip(self.ref.instruction.texts, self.ref.instruction.sources, strict=True)
            if s in sources
        )
        return picked or self.ref.instruction.texts

    def _campaign_crawl(
        self,
        texts: tuple[str, ...],
        templates: tuple[str, ...],
        *,
        evasion: Evasion | None = None,
        edit: bool = False,
        order: tuple[int, ...] | None = None,
        languages: tuple[str, ...] = (),
        renew: bool = True,
    ) -> Callable[[], PromptSource]:
        if order is None:
            order = tuple(self.np_rng.permutation(len(texts)).tolist())
        kib = draw(self.rng, self.split.ranges.pad_kib)
        pad_bytes = (int(kib * 1024), int(kib * 1024 * 1.25))
        return partial(
            CrawlSource,
            texts,
            templates,
            order,
            self.split,
            evasion,
            edit,
            self.ref.organic.texts,
            pad_bytes,
            0,
            languages,
            renew,
        )

    def _templates(self, low: int = 2, high: int = 4) -> tuple[str, ...]:
        return compose_templates(self.rng, self.split.wrappers, self.rng.randint(low, high))

    def _new_identity(self, kind: str = "cloud", hosts: int = 1, ua: str | None = None) -> Identity:
        """An org-less account made for the campaign: one key, a script agent, fresh hosts."""
        ips = self.ids.same_prefix(self.ids.ipv4(kind), hosts) if kind != "doc" else (self.ids.ipv4("doc"),)
        return Identity(
            self.ids.account_id(),
            None,
            self.ids.api_keys(1),
            (1.0,),
            ips,
            (ua or self.rng.choice(SCRIPT_USER_AGENTS),),
        )

    def _cap(self) -> int:
        return int(self.rng.choice(self.split.ranges.caps))

    def _temperature(self) -> float:
        return float(self.rng.choice(self.split.ranges.temperatures))

    def _bursts(self, rate_per_hour: float) -> FloatArray:
        """On/off hours: a crawler that runs in bursts to stay under hourly limits."""
        on = self.np_rng.random(self.hours) < 0.35
        out: FloatArray = np.where(on, rate_per_hour / 0.35, 0.0) / HOUR_S
        if not on.any():
            out[0] = rate_per_hour / HOUR_S
        return out

    def _label(self, plan: AccountPlan, spec: CampaignSpec, variant: str) -> None:
        plan.variant = variant
        plan.evasion = spec.evasion

    # --- campaigns ----------------------------------------------------------------------------
    def campaign(self, spec: CampaignSpec, index: int) -> None:
        """Plan one campaign; the split decides each style's shape (its ``variant``)."""
        campaign_id = spec.campaign_id or f"camp_{index + 1:02d}_{spec.style}"
        t0 = min(self.t_end, spec.start_offset_hours * HOUR_S)
        t1 = self.t_end if spec.duration_hours is None else min(self.t_end, t0 + spec.duration_hours * HOUR_S)
        builders: dict[str, Callable[[CampaignSpec, str, float, float], None]] = {
            "bulk_distillation": self._w_bulk,
            "hydra": self._w_hydra,
            "low_and_slow": self._w_low_and_slow,
            "logit_extraction": self._w_logit,
            "reasoning_harvest": self._w_reasoning,
            "router_mixed": self._w_router_mixed,
            "system_prompt_elicitation": self._w_system_prompt,
            "query_set": self._w_query_set,
            "launch_pivot": self._w_launch_pivot,
        }
        builders[spec.style](spec, campaign_id, t0, t1)

    def _w_bulk(self, spec: CampaignSpec, campaign_id: str, t0: float, t1: float) -> None:
        """Bulk distillation in the split's shapes; also the base of every evasion variant."""
        rng = self.rng
        variant = spec.variant
        for _ in range(spec.accounts):
            ident = self._script_identity(org_share=0.5, hosts=(1, 3))
            if variant == "multi_key":
                keys = self.ids.api_keys(rng.randint(3, 6))
                step = 1.0 / len(keys)
                ident = replace(
                    ident,
                    api_keys=keys,
                    key_cum_weights=tuple(step * (i + 1) for i in range(len(keys))),
                    ips=self.ids.same_prefix(self.ids.ipv4("cloud"), rng.randint(4, 10)),
                )
            plan = self._attacker(spec, campaign_id, t0, t1, ident)
            self._label(plan, spec, variant)
            cap = self._cap()
            style = self._distill_style(
                campaign_id, cap, temperature=self._temperature(), near_cap=rng.uniform(0.2, 0.6), p429=0.03
            )
            if variant == "multi_key":
                style = replace(style, temperatures=tuple(self.split.ranges.temperatures))
            if spec.evasion == "split_turns":
                style = replace(style, min_messages=rng.choice((3, 5)))
            texts = self.ref.instruction.texts
            languages: tuple[str, ...] = ()
            if spec.evasion == "translation":
                names = self.split.multilingual
                texts = self._texts(names)
                languages = tuple(lang for n in names for lang in self.pools[n].languages)
            prompts = self._campaign_crawl(
                texts, self._templates(), evasion=spec.evasion, languages=languages
            )
            if variant == "diurnal":
                rates, cv = self._human_shape() * spec.rate_per_hour / HOUR_S, 1.0
            elif variant == "bursty":
                rates, cv = self._bursts(spec.rate_per_hour), 1.8
            else:
                rates, cv = self._flat(spec.rate_per_hour), rng.uniform(0.25, 0.6)
            plan.segments.append(Segment(t0, t1, rates, cv, style, plan.identity, prompts))

    def _w_hydra(self, spec: CampaignSpec, campaign_id: str, t0: float, t1: float) -> None:
        """Org-less new accounts splitting one dataset; what they share depends on the shape."""
        rng = self.rng
        variant = spec.variant
        n = spec.accounts
        texts = self.ref.instruction.texts
        shuffled = tuple(self.np_rng.permutation(len(texts)).tolist())
        templates = self._templates(2, 3)
        one_net = self.ids.ipv4("cloud")
        prefixes = [self.ids.ipv4("cloud") for _ in range(max(1, n // 12))]
        shared_ua = rng.choice(SCRIPT_USER_AGENTS)
        base = self._distill_style(
            campaign_id, self._cap(), temperature=self._temperature(), near_cap=0.3, p429=0.01
        )
        stagger = 900.0 if self.split.name == "tuning" else 4 * HOUR_S
        for i in range(n):
            if variant == "spread_networks":
                ident = self._new_identity(
                    rng.choice(("cloud", "access", "access", "doc")), ua=self.ids.user_agent()
                )
            elif variant == "one_cloud":
                ident = replace(self._new_identity(ua=shared_ua), ips=self.ids.same_prefix(one_net, 1))
            elif variant == "residential_proxies":
                # Each member behind its own residential exit with its own browser agent: nothing
                # of the infrastructure is shared.
                ident = self._new_identity("access", hosts=rng.randint(2, 4), ua=self.ids.user_agent())
            else:
                ident = replace(
                    self._new_identity(ua=shared_ua), ips=self.ids.same_prefix(rng.choice(prefixes), 1)
                )
            start = min(t1, t0 + rng.uniform(0, stagger))
            plan = self._attacker(spec, campaign_id, start, t1, ident)
            self._label(plan, spec, variant)
            if variant == "shared_system_prompt":
                style = base
            elif variant == "one_cloud":
                style = base if rng.random() < 0.5 else replace(base, system_prompts=(None,))
            else:
                style = replace(base, system_prompts=(None,))
            rate = spec.rate_per_hour * rng.uniform(0.6, 1.4)
            prompts = self._campaign_crawl(texts, templates, order=shuffled[i::n] or shuffled)
            plan.segments.append(Segment(start, t1, self._flat(rate, 0.2), 0.7, style, ident, prompts))

    def _w_low_and_slow(self, spec: CampaignSpec, campaign_id: str, t0: float, t1: float) -> None:
        """A person's pace, hours and SDK, natural phrasing, and a share of cover prompts."""
        rng = self.rng
        for _ in range(spec.accounts):
            ident = Identity(
                self.ids.account_id(),
                self._org(),
                self.ids.api_keys(1),
                (1.0,),
                (self.ids.ipv4("access"),),
                (self.ids.user_agent(),),
            )
            plan = self._attacker(spec, campaign_id, t0, t1, ident)
            self._label(plan, spec, spec.variant)
            style = replace(
                self._distill_style(campaign_id, self._cap(), temperature=0.7, near_cap=0.2, p429=0.003),
                temperatures=(None,),
                top_ps=(None,),
                stream_share=1.0,
                system_prompts=(None,),
                continue_prob=np.minimum(0.9, self.ref.continue_prob * 0.5),
            )
            wording = tuple(self.split.wrappers.cover) + self._templates(1, 2)
            crawl = self._campaign_crawl(self.ref.instruction.texts, wording, edit=True)
            cover = OrganicSource(self._organic(40).texts)
            share = rng.uniform(0.55, 0.8)
            rates = self._human_shape() * spec.rate_per_hour / HOUR_S

            def prompts(
                crawl: Callable[[], PromptSource] = crawl, cover: PromptSource = cover, share: float = share
            ) -> PromptSource:
                return MixedSource(cover, crawl(), share)

            plan.segments.append(Segment(t0, t1, rates, 1.3, style, ident, prompts))

    def _w_logit(self, spec: CampaignSpec, campaign_id: str, t0: float, t1: float) -> None:
        """Single-token probes with logprobs; tuning sweeps logit_bias, unseen binary-searches it."""
        rng = self.rng
        qp = self.ref.quantile_probs
        wide = self.split.name == "tuning"
        for _ in range(spec.accounts):
            plan = self._attacker(spec, campaign_id, t0, t1, self._script_identity())
            self._label(plan, spec, "bias_sweep" if wide else "bias_search")
            style = CallStyle(
                models=("frontier-large",),
                input_q=None,
                output_q=np.ones_like(qp),
                temperatures=(0.0,),
                max_tokens=(1,) if wide else (1, 1, 2),
                logprobs_share=1.0,
                top_logprobs=(20,) if wide else (5, 10),
                logit_bias=(0, 1, 2, 5, 10, 20, 50, 100, 200, 300) if wide else (1, 1, 2),
                seed=rng.randint(0, 1000),
                p429=0.02,
                tokens_per_s=TOKENS_PER_S["frontier-large"],
                first_ua_share=1.0,
            )
            short = tuple(t[: rng.randint(30, 200)] for t in self.ref.organic.texts)
            prompts = self._campaign_crawl(short, ("{p}",))
            plan.segments.append(
                Segment(t0, t1, self._flat(spec.rate_per_hour), 0.4, style, plan.identity, prompts)
            )

    def _w_reasoning(self, spec: CampaignSpec, campaign_id: str, t0: float, t1: float) -> None:
        """Hard items to the reasoning model, asking for all of the thinking."""
        rng = self.rng
        qp = self.ref.quantile_probs
        for _ in range(spec.accounts):
            plan = self._attacker(spec, campaign_id, t0, t1, self._script_identity())
            self._label(plan, spec, spec.variant)
            cap = (
                rng.choice((16384, 32768))
                if self.split.name == "tuning"
                else rng.choice((12000, 24000, 65536))
            )
            style = replace(
                self._distill_style(
                    campaign_id,
                    cap,
                    temperature=self._temperature(),
                    near_cap=0.2,
                    p429=0.03,
                    model="frontier-reasoning",
                ),
                output_q=_ramp(qp, 1500, 0.7 * cap, 1.3),
                reason_ratio_q=_ramp(qp, 0.7, 0.96, 1.0),
            )
            texts = self._texts(self.split.benchmarks) + self.ref.instruction.texts
            prompts = self._campaign_crawl(texts, self._templates())
            plan.segments.append(
                Segment(t0, t1, self._flat(spec.rate_per_hour), 0.5, style, plan.identity, prompts)
            )

    def _end_users(self, count: int) -> tuple[str, ...]:
        return tuple(f"user-{self.rng.getrandbits(48):012x}" for _ in range(count))

    def _w_router_mixed(self, spec: CampaignSpec, campaign_id: str, t0: float, t1: float) -> None:
        """A distiller among a router's many end users, with or without ``end_user_id`` on events."""
        rng = self.rng
        young = spec.variant == "young_router"
        for _ in range(spec.accounts):
            begins = max(0.0, t0 - draw(rng, self.split.ranges.router_age_hours) * HOUR_S) if young else 0.0
            plan = self._router(draw(rng, self.split.ranges.router_rate), begins, self.t_end, spec.style)
            plan.campaign_id, plan.attack_t0, plan.attack_t1 = campaign_id, t0, t1
            variant = "end_user_id" if spec.end_user_ids else "no_end_user_id"
            self._label(plan, spec, "young_router" if young else variant)
            distiller: tuple[str, ...] = ()
            if spec.end_user_ids:
                users = self._end_users(rng.randint(200, 2000))
                plan.segments = [replace(s, style=replace(s.style, end_users=users)) for s in plan.segments]
                distiller = self._end_users(1)
                plan.end_user_id = distiller[0]
            style = replace(
                self._distill_style(
                    campaign_id, self._cap(), temperature=self._temperature(), near_cap=0.4, p429=0.02
                ),
                first_ua_share=0.92,
                end_users=distiller,
            )
            prompts = self._campaign_crawl(self.ref.instruction.texts, self._templates())
            plan.segments.append(
                Segment(t0, t1, self._flat(spec.rate_per_hour), 0.5, style, plan.identity, prompts)
            )

    def _w_system_prompt(self, spec: CampaignSpec, campaign_id: str, t0: float, t1: float) -> None:
        """The elicitation lives in one shared system prompt; the user turn is a bare dataset item."""
        rng = self.rng
        instruction = rng.choice(self.split.wrappers.system_prompts)
        shared = hash_text(f"{campaign_id}:{instruction}")
        texts = self.ref.instruction.texts
        shuffled = tuple(self.np_rng.permutation(len(texts)).tolist())
        n = spec.accounts
        ua = rng.choice(SCRIPT_USER_AGENTS)
        cap = self._cap()
        temperature = self._temperature()
        for i in range(n):
            ident = self._new_identity(rng.choice(("cloud", "cloud", "access")), ua=ua)
            start = min(t1, t0 + rng.uniform(0, 1800))
            plan = self._attacker(spec, campaign_id, start, t1, ident)
            self._label(plan, spec, spec.variant)
            style = replace(
                self._distill_style(campaign_id, cap, temperature=temperature, near_cap=0.35, p429=0.01),
                system_prompts=(shared,),
                system_tokens=len(instruction) // 4 + 1,
            )
            rate = spec.rate_per_hour * rng.uniform(0.7, 1.3)
            prompts = self._campaign_crawl(texts, ("{p}",), order=shuffled[i::n] or shuffled)
            plan.segments.append(Segment(start, t1, self._flat(rate, 0.2), 0.8, style, ident, prompts))

    def _queryset_source(self, kind: str, source: str) -> Callable[[], PromptSource]:
        """A fresh walk of one query set per run (its order fixed at planning time)."""
        if kind == "random_words":
            words = {w.strip(".,!?;:()\"'").lower() for t in self.pools[source].texts for w in t.split()}
            vocabulary = tuple(sorted(w for w in words if w.isalpha() and 2 < len(w) < 14))
            return _const(RandomWordSource(vocabulary))
        texts = self.pools[source].texts
        order = tuple(self.np_rng.permutation(len(texts)).tolist())
        return partial(CrawlSource, texts, ("{p}",), order, self.split)

    def _hundred(self, t_len: float) -> tuple[float, float, FloatArray]:
        """A window of ``t_len`` seconds somewhere in the world and the rate of 100 calls in it."""
        t0 = self.rng.uniform(0, max(0.0, self.t_end - t_len))
        return t0, min(self.t_end, t0 + t_len), self._flat(QUERY_SET_CALLS * HOUR_S / t_len, 0.05)

    def _w_query_set(self, spec: CampaignSpec, campaign_id: str, t0: float, t1: float) -> None:
        """A 100-query account: a classic extraction query set, pure or mixed into normal traffic."""
        rng = self.rng
        sets = self.split.queryset
        for i in range(spec.accounts):
            kind, source = sets[i % len(sets)]
            start, end, rates = self._hundred(draw(rng, self.split.ranges.queryset_hours) * HOUR_S)
            plan = self._attacker(spec, campaign_id, start, end, self._identity(self._org()))
            self._label(plan, spec, f"{kind}_{mix_name(spec.mix)}")
            client = rng.choice(self.language)
            style = self._benign_style(MODEL_OF_CATEGORY[client.category], client)
            probes = self._queryset_source(kind, source)
            own = self._organic(rng.randint(15, 60))
            mix = spec.mix

            def prompts(
                probes: Callable[[], PromptSource] = probes, own: PromptSource = own, mix: float = mix
            ) -> PromptSource:
                return probes() if mix >= 1.0 else MixedSource(own, probes(), mix)

            style = replace(style, continue_prob=None)
            plan.segments.append(Segment(start, end, rates, 1.0, style, plan.identity, prompts))

    def _w_launch_pivot(self, spec: CampaignSpec, campaign_id: str, t0: float, t1: float) -> None:
        """A running distillation that moves half its calls to a new model within a day of launch."""
        rng = self.rng
        launch = self.scenario.launch
        new_model = launch.model if launch is not None else "frontier-large-2"
        launch_t = (launch.offset_hours if launch is not None else 0.5 * self.scenario.hours) * HOUR_S
        delay = draw(rng, ((1.0, 8.0),) if self.split.name == "tuning" else ((12.0, 23.0),)) * HOUR_S
        pivot = min(t1, max(t0, launch_t + delay))
        for _ in range(spec.accounts):
            plan = self._attacker(spec, campaign_id, t0, t1, self._script_identity())
            self._label(plan, spec, spec.variant)
            style = self._distill_style(
                campaign_id, self._cap(), temperature=self._temperature(), near_cap=0.4, p429=0.03
            )
            after = replace(style, models=(new_model, style.models[0]))
            templates = self._templates()
            rates = self._flat(spec.rate_per_hour)
            texts = self.ref.instruction.texts
            order = tuple(self.np_rng.permutation(len(texts)).tolist())
            plan.segments.append(
                Segment(
                    t0,
                    pivot,
                    rates,
                    0.4,
                    style,
                    plan.identity,
                    self._campaign_crawl(texts, templates, order=order),
                )
            )
            plan.segments.append(
                Segment(
                    pivot,
                    t1,
                    rates,
                    0.4,
                    after,
                    plan.identity,
                    self._campaign_crawl(texts, templates, order=order[::-1]),
                )
            )

    # --- look-alikes ----------------------------------------------------------------------------
    def hard_negative(self, spec: HardNegativeSpec) -> None:
        """The split's version of every look-alike; the old kinds keep their builders."""
        t0 = min(self.t_end, spec.start_offset_hours * HOUR_S)
        t1 = self.t_end if spec.duration_hours is None else min(self.t_end, t0 + spec.duration_hours * HOUR_S)
        groups: dict[str, Callable[[HardNegativeSpec, float, float], None]] = {
            "org_fleet": self._h_org_fleet,
            "classroom": self._h_classroom,
        }
        each: dict[str, Callable[[HardNegativeSpec, float, float], None]] = {
            "eval_lab": self._h_eval_lab,
            "eval_harness": self._h_eval_lab,
            "tutoring_app": self._h_tutoring,
            "reasoning_power_user": self._h_power_user,
            "automation_long": self._h_automation_long,
            "router_end_user_id": self._h_router_end_users,
            "agent_framework": self._h_agent_framework,
            "agent_loop": self._h_agent_framework,
            "query_set_benign": self._h_query_set_benign,
            "router": self._h_router,
        }
        if spec.kind in groups:
            groups[spec.kind](spec, t0, t1)
        elif spec.kind in each:
            for _ in range(spec.accounts):
                each[spec.kind](spec, t0, t1)
        else:
            super().hard_negative(spec)

    def _benign_cot(self) -> tuple[str, ...]:
        """Step-by-step asks in the split's own wording: what makes a look-alike look alike."""
        return tuple(compose_template(self.rng, self.split.wrappers) for _ in range(2))

    def _h_eval_lab(self, spec: HardNegativeSpec, t0: float, t1: float) -> None:
        """CoT benchmarks at temperature 0 and a fixed seed, a few hours every day."""
        rng = self.rng
        qp = self.ref.quantile_probs
        ips = self.ids.same_prefix(self.ids.ipv4("cloud"), rng.randint(1, 2))
        plan = self._new_plan(self._identity(self._org(), ips=ips, uas=("python-httpx/0.27.2",)), spec.kind)
        model = rng.choice(("frontier-large", "frontier-mini", "frontier-reasoning"))
        style = CallStyle(
            models=(model,),
            input_q=_ramp(qp, 200, 1500, 1.0),
            output_q=_ramp(qp, 200, 2500, 1.2),
            temperatures=(0.0,),
            max_tokens=(rng.choice((2048, 4096)),),
            seed=rng.choice((0, 42, 1234)),
            p429=0.03,
            tokens_per_s=TOKENS_PER_S[model],
            first_ua_share=1.0,
        )
        texts = self._texts(self.split.benchmarks)
        templates = self._benign_cot()
        rate = spec.rate_per_hour or rng.uniform(300, 1200)
        start_hour = rng.uniform(7, 15)
        for day in range(max(1, math.ceil(self.scenario.hours / 24))):
            a = day * DAY_S + start_hour * HOUR_S
            b = min(self.t_end, a + draw(rng, self.split.ranges.eval_lab_hours) * HOUR_S)
            if a >= self.t_end:
                break
            plan.segments.append(
                Segment(
                    a,
                    b,
                    self._flat(rate, 0.02),
                    0.3,
                    style,
                    plan.identity,
                    self._campaign_crawl(texts, templates, renew=False),  # the same benchmark every day
                )
            )

    def _h_tutoring(self, spec: HardNegativeSpec, t0: float, t1: float) -> None:
        """A tutoring product: students' word problems with step-by-step asks, follow-ups, long answers."""
        rng = self.rng
        qp = self.ref.quantile_probs
        plan = self._new_plan(self._service_identity(), spec.kind)
        style = CallStyle(
            models=("frontier-mini",),
            input_q=None,
            output_q=_ramp(qp, 250, 1800, 1.2),
            continue_prob=np.minimum(0.9, self.ref.continue_prob * 1.5),
            temperatures=(rng.choice((0.3, 0.7)),),
            max_tokens=(rng.choice((2048, 4096)),),
            stream_share=1.0,
            system_prompts=(hash_text(f"tutor-{rng.getrandbits(64)}"),),
            system_tokens=rng.randint(200, 600),
            tokens_per_s=TOKENS_PER_S["frontier-mini"],
            first_ua_share=1.0,
        )
        rate = spec.rate_per_hour or rng.uniform(60, 250)
        rates = self._human_shape(shift=rng.choice((0, 5, 13))) * rate / HOUR_S
        prompts = self._campaign_crawl(self._texts(self.split.maths), self._benign_cot(), edit=True)
        plan.segments.append(Segment(t0, t1, rates, 1.2, style, plan.identity, prompts))

    def _h_power_user(self, spec: HardNegativeSpec, t0: float, t1: float) -> None:
        """Tens of calls a day to the reasoning model, long reasoning answers, a person's timing."""
        rng = self.rng
        client = rng.choice(self.reasoning)
        plan = self._new_plan(self._identity(self._org()), spec.kind)
        style = replace(
            self._benign_style("frontier-reasoning", client),
            models=("frontier-reasoning",),
            max_tokens=(rng.choice((None, 32768, 16384)),),
            embeddings_share=0.0,
            output_q=_ramp(self.ref.quantile_probs, 800, 12000, 1.1),
            reason_ratio_q=_ramp(self.ref.quantile_probs, 0.6, 0.95, 1.0),
        )
        rate = spec.rate_per_hour or rng.uniform(0.8, 3.5)
        rates = self._human_shape() * rate / HOUR_S
        suffixes = ("", "", *self.split.wrappers.formats, *self.split.wrappers.closings)
        texts = self._organic(60).texts + self._texts(self.split.benchmarks)[: rng.randint(5, 30)]
        source = _const(OrganicSource(texts, suffixes=suffixes))
        plan.segments.append(Segment(t0, t1, rates, 1.2, style, plan.identity, source))

    def _h_automation_long(self, spec: HardNegativeSpec, t0: float, t1: float) -> None:
        """A report generator: a script's rhythm and long answers near its cap, for real work."""
        rng = self.rng
        qp = self.ref.quantile_probs
        plan = self._new_plan(self._service_identity((1, 4)), spec.kind)
        cap = rng.choice((4096, 8192, 16384))
        model = rng.choice(("frontier-large", "frontier-mini"))
        style = CallStyle(
            models=(model,),
            input_q=_ramp(qp, 400, 6000, 1.2),
            output_q=_ramp(qp, 0.3 * cap, cap, 0.7),
            near_cap=0.3,
            temperatures=(rng.choice((0.2, 0.3, 0.7)),),
            max_tokens=(cap,),
            system_prompts=(hash_text(f"report-{rng.getrandbits(64)}"),),
            system_tokens=rng.randint(300, 1200),
            tokens_per_s=TOKENS_PER_S[model],
            first_ua_share=1.0,
        )
        rate = spec.rate_per_hour or rng.uniform(30, 250)
        prompts = self._crawl(self.ref.organic.texts, tuple(rng.sample(PRODUCT_TEMPLATES, k=2)))
        plan.segments.append(
            Segment(t0, t1, self._flat(rate, 0.1), rng.uniform(0.3, 0.9), style, plan.identity, prompts)
        )

    def _h_org_fleet(self, spec: HardNegativeSpec, t0: float, t1: float) -> None:
        """One organisation's accounts: one office network, one UA, one internal system prompt."""
        rng = self.rng
        org = self.ids.org_id()
        ips = self.ids.same_prefix(self.ids.ipv4("access"), rng.randint(1, 3))
        ua = self.ids.user_agent()
        system = (hash_text(f"org-{org}"),)
        for _ in range(spec.accounts):
            client = rng.choice(self.language)
            plan = self._ordinary(client, spec.kind, self._identity(org, ips=ips, uas=(ua,)))
            plan.segments = [
                replace(s, style=replace(s.style, system_prompts=system, first_ua_share=1.0))
                for s in plan.segments
            ]

    def _h_classroom(self, spec: HardNegativeSpec, t0: float, t1: float) -> None:
        """A class: many accounts on the school network working on the same assignment at once."""
        rng = self.rng
        ips = self.ids.same_prefix(self.ids.ipv4("access"), 2)
        org = self.ids.org_id() if rng.random() < 0.5 else None
        assignment = tuple(rng.sample(self._texts(self.split.maths + self.split.benchmarks), 8))
        templates = self._benign_cot()
        qp = self.ref.quantile_probs
        lesson = rng.uniform(0, max(0.0, self.t_end - 3 * HOUR_S))
        for _ in range(spec.accounts):
            plan = self._new_plan(self._identity(org, ips=ips, uas=(self.ids.user_agent(),)), spec.kind)
            style = CallStyle(
                models=("frontier-mini",),
                input_q=None,
                output_q=_ramp(qp, 200, 1500, 1.2),
                continue_prob=self.ref.continue_prob,
                temperatures=(None,),
                stream_share=1.0,
                tokens_per_s=TOKENS_PER_S["frontier-mini"],
            )
            a = lesson + rng.uniform(0, 600)
            b = min(self.t_end, a + rng.uniform(1.0, 2.5) * HOUR_S)
            order = tuple(self.np_rng.permutation(len(assignment)).tolist())
            prompts = self._campaign_crawl(assignment, templates, edit=True, order=order, renew=False)
            plan.segments.append(
                Segment(a, b, self._flat(rng.uniform(6, 20), 0.3), 1.5, style, plan.identity, prompts)
            )

    def _h_router(self, spec: HardNegativeSpec, t0: float, t1: float) -> None:
        """A router whose end users stay anonymous: the split's router rates."""
        self._router(spec.rate_per_hour or draw(self.rng, self.split.ranges.router_rate), t0, t1, spec.kind)

    def _h_router_end_users(self, spec: HardNegativeSpec, t0: float, t1: float) -> None:
        """A router that passes its end users' ids (no distiller among them)."""
        plan = self._router(
            spec.rate_per_hour or draw(self.rng, self.split.ranges.router_rate), t0, t1, spec.kind
        )
        users = self._end_users(self.rng.randint(200, 2000))
        plan.segments = [replace(s, style=replace(s.style, end_users=users)) for s in plan.segments]

    def _h_agent_framework(self, spec: HardNegativeSpec, t0: float, t1: float) -> None:
        """An agent product: the split's real agent requests, tool schemas, observation turns."""
        rng = self.rng
        qp = self.ref.quantile_probs
        plan = self._new_plan(self._service_identity((1, 4)), spec.kind)
        tools = tuple(t for n in self.split.agent for t in self.pools[n].tools if t) or (4,)
        style = CallStyle(
            models=(rng.choice(("frontier-large", "frontier-mini")),),
            input_q=self.ref.code_input_q,
            output_q=_ramp(qp, 15, 900, 2.0),
            continue_prob=np.full(30, rng.uniform(0.7, 0.9)),
            follow_ups=AGENT_OBSERVATIONS,
            temperatures=(rng.choice((0.0, 0.2, None)),),
            max_tokens=(rng.choice((2048, 4096)),),
            tools=tools[:20],
            system_prompts=(hash_text(f"agent-{rng.getrandbits(64)}"),),
            system_tokens=rng.randint(800, 4000),
            tokens_per_s=TOKENS_PER_S["frontier-large"],
            first_ua_share=1.0,
        )
        rate = spec.rate_per_hour or rng.uniform(80, 400)
        rates = self._human_shape() * rate / HOUR_S
        source = _const(OrganicSource(self._texts(self.split.agent), edit=False))
        plan.segments.append(Segment(t0, t1, rates, 2.2, style, plan.identity, source))

    def _h_query_set_benign(self, spec: HardNegativeSpec, t0: float, t1: float) -> None:
        """A benign account seen in a 100-query window: its own questions, nothing probing."""
        rng = self.rng
        start, end, rates = self._hundred(draw(rng, self.split.ranges.queryset_hours) * HOUR_S)
        client = rng.choice(self.language)
        plan = self._new_plan(self._identity(self._org()), spec.kind)
        style = replace(self._benign_style(MODEL_OF_CATEGORY[client.category], client), continue_prob=None)
        source = _const(self._organic(rng.randint(15, 80)))
        plan.segments.append(Segment(start, end, rates, 1.0, style, plan.identity, source))


def evaluation_scenario(
    split: SplitName,
    seed: int,
    *,
    hours: float = 48.0,
    benign_accounts: int = 300,
    include_prompt_text: bool = True,
) -> Scenario:
    """One evaluation world: every variant of the split and every look-alike, sized by the seed.

    Parameters are drawn from the split's ranges with a stream of their own, so the same seed
    gives the same world and another seed gives other rates, sizes and onsets.
    """
    sp = SPLITS[split]
    r = sp.ranges
    rng = random.Random(f"{split}:{seed}")
    scale = benign_accounts / 300.0

    def frac() -> float:
        return draw(rng, r.duration_frac) * hours

    def onset(latest: float = 0.5) -> float:
        return rng.uniform(0.05, latest) * hours

    campaigns: list[CampaignSpec] = []

    def add(style: str, **kw: object) -> None:
        index = sum(1 for c in campaigns if c.style == style) + 1
        campaigns.append(
            CampaignSpec.model_validate({"style": style, "campaign_id": f"{split[:2]}_{style}_{index}", **kw})
        )

    for shape in sp.bulk_shapes:
        add(
            "bulk_distillation",
            variant=shape,
            start_offset_hours=onset(),
            duration_hours=frac(),
            rate_per_hour=draw(rng, r.bulk_rate),
            prior_history=rng.random() < 0.5,
        )
    for shape in sp.hydra_shapes:
        add(
            "hydra",
            variant=shape,
            accounts=max(3, round(draw(rng, r.hydra_accounts) * min(1.0, scale))),
            start_offset_hours=onset(0.4),
            rate_per_hour=draw(rng, r.hydra_rate),
        )
    for _ in range(2):
        add(
            "low_and_slow",
            variant="cover_prompts",
            start_offset_hours=0.0,
            rate_per_hour=draw(rng, r.slow_daily) / 24,
        )
    add(
        "logit_extraction",
        start_offset_hours=onset(),
        duration_hours=min(frac(), 12.0),
        rate_per_hour=draw(rng, r.logit_rate),
    )
    add(
        "reasoning_harvest",
        variant="cap_fixed" if split == "tuning" else "cap_mixed",
        start_offset_hours=onset(),
        rate_per_hour=draw(rng, r.reasoning_rate),
        prior_history=True,
    )
    for with_ids in (True, False):
        add(
            "router_mixed",
            end_user_ids=with_ids,
            start_offset_hours=onset(),
            rate_per_hour=draw(rng, r.bulk_rate) / 4,
        )
    add(
        "system_prompt_elicitation",
        variant="shared_system_prompt",
        accounts=round(draw(rng, r.sysprompt_accounts)),
        start_offset_hours=onset(0.4),
        rate_per_hour=4 * draw(rng, r.hydra_rate),
    )
    for mix in QUERY_SET_MIXES:
        add("query_set", variant=mix_name(mix), mix=mix, accounts=len(sp.queryset), rate_per_hour=1.0)
    add(
        "launch_pivot",
        variant="half_to_new_model",
        start_offset_hours=0.1 * hours,
        rate_per_hour=draw(rng, r.bulk_rate) / 2,
    )
    evasion_rate = draw(rng, ((40.0, 120.0),))
    evasion_start = onset(0.4)
    for evasion in (None, *EVASIONS):
        add(
            "bulk_distillation",
            variant="evasion_base",
            evasion=evasion,
            start_offset_hours=evasion_start,
            duration_hours=min(8.0, hours / 3) if evasion == "padding" else min(16.0, hours / 2),
            rate_per_hour=evasion_rate / 3 if evasion == "padding" else evasion_rate,
        )

    # A router that began shortly before the distiller among its end users, so that its own
    # "usual" is still young. Added last, from a stream of its own, so that it leaves every
    # other campaign and account of the world as it was before it existed.
    young = random.Random(f"{split}:{seed}:young_router")
    add(
        "router_mixed",
        variant="young_router",
        start_offset_hours=young.uniform(0.05, 0.5) * hours,
        rate_per_hour=draw(young, r.bulk_rate) / 4,
    )

    def n(base: int) -> int:
        return max(1, round(base * scale))

    hard = (
        HardNegativeSpec(kind="heavy_batch", accounts=1),
        HardNegativeSpec(kind="eval_lab", accounts=n(4)),
        HardNegativeSpec(kind="templated_product", accounts=n(2)),
        HardNegativeSpec(kind="shared_nat", accounts=n(15)),
        HardNegativeSpec(kind="router", accounts=1),
        HardNegativeSpec(kind="router_end_user_id", accounts=1),
        HardNegativeSpec(kind="logprob_classifier", accounts=1),
        HardNegativeSpec(kind="tutoring_app", accounts=n(2)),
        HardNegativeSpec(kind="agent_framework", accounts=n(3)),
        HardNegativeSpec(kind="reasoning_power_user", accounts=n(8)),
        HardNegativeSpec(kind="automation_long", accounts=n(3)),
        HardNegativeSpec(kind="org_fleet", accounts=5),
        HardNegativeSpec(kind="classroom", accounts=n(25)),
        HardNegativeSpec(kind="query_set_benign", accounts=n(25)),
    )
    return Scenario(
        hours=hours,
        benign_accounts=benign_accounts,
        campaigns=tuple(campaigns),
        hard_negatives=hard,
        launch=LaunchSpec(offset_hours=rng.uniform(0.3, 0.6) * hours, adoption_share=rng.uniform(0.15, 0.4)),
        include_prompt_text=include_prompt_text,
        split=split,
    )


def plan_wide_accounts(scenario: Scenario, seed: int, ref: Reference) -> list[AccountPlan]:
    """All account plans of an evaluation world, in a seeded random order (order tells no label)."""
    assert scenario.split is not None
    planner = WidePlanner(scenario, seed, ref, scenario.split)
    planner.benign()
    for spec in scenario.hard_negatives:
        planner.hard_negative(spec)
    for index, campaign in enumerate(scenario.campaigns):
        planner.campaign(campaign, index)
    plans = planner.plans
    random.Random(seed + 17).shuffle(plans)
    return plans
