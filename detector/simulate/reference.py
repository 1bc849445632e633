"""The committed reference data (see ``data/ATTRIBUTION.md``), loaded once and kept read-only.

The files are produced by ``scripts/derive_sim_data.py`` from public traces and prompt sets; this
module only parses them into typed, immutable objects so the rest of the simulator never touches
JSON or file paths.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ClientProfile:
    """One real API client of ServeGen: how often it called, how bursty, how long its calls were."""

    id: str
    category: str
    """``m-large``, ``m-mid``, ``m-small`` (language models) or ``deepseek-r1`` (reasoning)."""
    mean_rate: float
    """Mean requests per second over the whole trace (14 days, or 1 day for deepseek-r1)."""
    cv_median: float
    """Median coefficient of variation of inter-arrival times over the active 10-minute windows."""
    hourly_rate: FloatArray
    """Mean request rate of every trace hour, in requests per second."""
    input_q: FloatArray | None
    output_q: FloatArray | None
    reason_ratio_q: FloatArray | None


@dataclass(frozen=True, slots=True)
class PromptPool:
    """Prompt texts with where each came from (the source names of ATTRIBUTION.md)."""

    texts: tuple[str, ...]
    sources: tuple[str, ...]
    topics: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Reference:
    """Everything the simulator takes from real data."""

    quantile_probs: FloatArray
    clients: tuple[ClientProfile, ...]
    organic: PromptPool
    instruction: PromptPool
    continue_prob: FloatArray
    """P(the next call continues the conversation | current turn t), index t-1, from Mooncake."""
    multi_turn_share: float
    chat_input_q: FloatArray
    """Azure conversation context tokens: for clients without their own length data."""
    chat_output_q: FloatArray
    code_input_q: FloatArray
    code_output_q: FloatArray


def _read(name: str) -> Any:
    raw = resources.files("detector.simulate").joinpath("data", name).read_bytes()
    return json.loads(gzip.decompress(raw))


def _arr(values: list[float] | None) -> FloatArray | None:
    return None if values is None else np.asarray(values, dtype=np.float64)


def _continue_probs(turn_pmf: dict[str, float], max_turn: int = 12) -> FloatArray:
    """Share of turn t+1 over turn t = the chance a conversation at turn t goes on.

    In a steady stream of conversations, requests at turn t+1 are exactly the conversations
    that went on after turn t, so the ratio of the two request shares is that chance. The last
    bucket of the trace is "12 or more", for which we keep one half.
    """
    pmf = np.array([turn_pmf.get(str(t), 0.0) for t in range(1, max_turn + 1)])
    probs = np.zeros(max_turn)
    for t in range(max_turn - 1):
        probs[t] = min(0.9, pmf[t + 1] / pmf[t]) if pmf[t] > 0 else 0.0
    probs[-1] = 0.5
    return probs


@cache
def load_reference() -> Reference:
    """Parse the committed files (about 0.4 MB gzip); cached, so the cost is paid once."""
    profiles = _read("servegen_profiles.json.gz")
    shapes = _read("token_shapes.json.gz")
    prompts = _read("prompts.json.gz")
    clients = tuple(
        ClientProfile(
            id=c["id"],
            category=c["category"],
            mean_rate=float(c["mean_rate"]),
            cv_median=float(c["cv_median"]),
            hourly_rate=np.asarray(c["hourly_rate"], dtype=np.float64),
            input_q=_arr(c.get("input_q")),
            output_q=_arr(c.get("output_q")),
            reason_ratio_q=_arr(c.get("reason_ratio_q")),
        )
        for c in profiles["clients"]
    )

    def pool(rows: list[dict[str, str]]) -> PromptPool:
        return PromptPool(
            texts=tuple(r["text"] for r in rows),
            sources=tuple(r["source"] for r in rows),
            topics=tuple(r.get("topic", r["source"]) for r in rows),
        )

    mooncake = shapes["mooncake"]
    azure = shapes["azure"]
    return Reference(
        quantile_probs=np.asarray(profiles["quantile_probs"], dtype=np.float64),
        clients=clients,
        organic=pool(prompts["organic"]),
        instruction=pool(prompts["instruction"]),
        continue_prob=_continue_probs(mooncake["turn_pmf"]),
        multi_turn_share=float(mooncake["multi_turn_share"]),
        chat_input_q=np.asarray(azure["conv"]["input_q"], dtype=np.float64),
        chat_output_q=np.asarray(azure["conv"]["output_q"], dtype=np.float64),
        code_input_q=np.asarray(azure["code"]["input_q"], dtype=np.float64),
        code_output_q=np.asarray(azure["code"]["output_q"], dtype=np.float64),
    )


@dataclass(frozen=True, slots=True)
class WidePool:
    """One prompt source of the wide sample (``prompts_wide.json.gz``)."""

    name: str
    group: str
    """organic, instruction, multilingual, agent or queryset."""
    provenance: tuple[str, ...]
    """``owner/repo@commit`` (or the shared-data path) the texts came from."""
    texts: tuple[str, ...]
    languages: tuple[str, ...]
    tools: tuple[int, ...]
    """Tool schemas sent with each request (function-calling sources; 0 elsewhere)."""


@cache
def load_wide_pools() -> dict[str, WidePool]:
    """Parse the wide prompt sample (about 0.5 MB gzip) once: the evaluation splits read it."""
    pools = _read("prompts_wide.json.gz")["pools"]
    return {
        name: WidePool(
            name=name,
            group=str(p["group"]),
            provenance=tuple(p["provenance"]),
            texts=tuple(p["texts"]),
            languages=tuple(p["languages"]),
            tools=tuple(int(t) for t in p["tools"]),
        )
        for name, p in sorted(pools.items())
    }
