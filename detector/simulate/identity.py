"""Who calls: account, organisation and key ids, client addresses and user agents.

Every id of every account — attacker or not — comes from the same factory with the same format
(``acct_`` + 6 random base-62 characters), so nothing in an id or its order tells a label.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass

_ALPHABET = string.ascii_letters + string.digits

_CLOUD_FIRST_OCTETS = (
    3,
    13,
    18,
    20,
    34,
    35,
    44,
    52,
    54,
    104,
    107,
    130,
    138,
    139,
    143,
    146,
    157,
    159,
    161,
    165,
    167,
    168,
    178,
    185,
    188,
)
"""First octets of large cloud and hosting allocations (public, not reserved)."""
_ACCESS_FIRST_OCTETS = (
    24,
    47,
    66,
    67,
    68,
    71,
    73,
    75,
    76,
    81,
    82,
    86,
    90,
    92,
    95,
    98,
    99,
    101,
    106,
    112,
    114,
    116,
    119,
    121,
    122,
    124,
    125,
    176,
    177,
    180,
    182,
    183,
    187,
    189,
    190,
    201,
    212,
    213,
    217,
    219,
    220,
    221,
    222,
)
"""First octets of ISP access networks: offices, homes, universities."""
_DOC_PREFIXES = ("192.0.2", "198.51.100", "203.0.113")
"""RFC 5737 documentation ranges, used for a share of addresses so examples stay obviously fake."""

USER_AGENTS: tuple[tuple[str, float], ...] = (
    ("openai-python/1.54.0", 14.0),
    ("openai-python/1.51.2", 8.0),
    ("openai-python/1.47.1", 5.0),
    ("OpenAI/Python 1.40.6", 4.0),
    ("OpenAI/JS 4.67.3", 8.0),
    ("OpenAI/JS 4.56.0", 4.0),
    ("langchain-openai/0.2.5 openai-python/1.54.0", 6.0),
    ("llama-index/0.11.20 openai-python/1.51.2", 2.0),
    ("python-requests/2.32.3", 7.0),
    ("python-httpx/0.27.2", 5.0),
    ("aiohttp/3.10.10", 3.0),
    ("axios/1.7.7", 4.0),
    ("node-fetch/1.0 (+https://github.com/bitinn/node-fetch)", 2.0),
    ("curl/8.5.0", 2.0),
    ("curl/7.81.0", 1.0),
    ("Go-http-client/2.0", 3.0),
    ("okhttp/4.12.0", 2.0),
    ("Vercel AI SDK/3.4.9", 3.0),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/130.0.0.0 Safari/537.36",
        2.0,
    ),
    ("PostmanRuntime/7.42.0", 1.0),
)
"""Plausible SDK and HTTP client agents with rough popularity weights."""


@dataclass(frozen=True, slots=True)
class Identity:
    """The stable, per-account parts of an event."""

    account_id: str
    org_id: str | None
    api_keys: tuple[str, ...]
    key_cum_weights: tuple[float, ...]
    ips: tuple[str, ...]
    user_agents: tuple[str, ...]


class IdentityFactory:
    """Makes unique ids and plausible addresses from one seeded random stream."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._used: set[str] = set()
        self._ua_values = tuple(ua for ua, _ in USER_AGENTS)
        self._ua_weights = tuple(w for _, w in USER_AGENTS)

    def _token(self, prefix: str, length: int) -> str:
        while True:
            value = prefix + "".join(self._rng.choices(_ALPHABET, k=length))
            if value not in self._used:
                self._used.add(value)
                return value

    def account_id(self) -> str:
        """``acct_`` + 6 base-62 characters, never repeated within a simulation."""
        return self._token("acct_", 6)

    def org_id(self) -> str:
        """``org_`` + 5 base-62 characters."""
        return self._token("org_", 5)

    def api_keys(self, count: int) -> tuple[str, ...]:
        """Key ids in the shape gateways log (never the secret itself)."""
        return tuple(self._token("key_", 8) for _ in range(count))

    def user_agent(self) -> str:
        """One agent drawn by popularity."""
        return self._rng.choices(self._ua_values, weights=self._ua_weights)[0]

    def ipv4(self, kind: str = "any") -> str:
        """A public-looking IPv4 address: cloud (``cloud``), ISP (``access``) or documentation."""
        rng = self._rng
        roll = rng.random()
        if kind == "any":
            kind = "doc" if roll < 0.15 else ("cloud" if roll < 0.55 else "access")
        if kind == "doc":
            return f"{rng.choice(_DOC_PREFIXES)}.{rng.randint(1, 254)}"
        first = rng.choice(_CLOUD_FIRST_OCTETS if kind == "cloud" else _ACCESS_FIRST_OCTETS)
        return f"{first}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"

    def ipv6(self) -> str:
        """An address in the documentation prefix 2001:db8::/32."""
        rng = self._rng
        return f"2001:db8:{rng.randint(0, 0xFFFF):x}:{rng.randint(0, 0xFFFF):x}::{rng.randint(1, 0xFFFF):x}"

    def same_prefix(self, ip: str, count: int) -> tuple[str, ...]:
        """Several hosts of one /24: an office NAT pool or a small fleet of workers."""
        if ":" in ip:
            return (ip,)
        base = ip.rsplit(".", 1)[0]
        hosts = self._rng.sample(range(1, 255), k=min(count, 254))
        return tuple(f"{base}.{h}" for h in hosts)

    def address_pool(self) -> tuple[str, ...]:
        """Where an ordinary account calls from: mostly one NAT address, sometimes a server fleet."""
        rng = self._rng
        roll = rng.random()
        if roll < 0.08:
            return (self.ipv6(),)
        if roll < 0.55:
            return (self.ipv4("any"),)
        if roll < 0.8:
            return self.same_prefix(self.ipv4("cloud"), rng.randint(2, 6))
        return (self.ipv4("access"), self.ipv4("cloud"))

    def key_set(self) -> tuple[tuple[str, ...], tuple[float, ...]]:
        """1-4 keys; the first carries most calls (production key vs. staging / personal keys)."""
        count = self._rng.choices((1, 2, 3, 4), weights=(55, 28, 12, 5))[0]
        keys = self.api_keys(count)
        weights = [1.0] if count == 1 else [0.8] + [0.2 / (count - 1)] * (count - 1)
        cum: list[float] = []
        total = 0.0
        for w in weights:
            total += w
            cum.append(total)
        return keys, tuple(cum)
