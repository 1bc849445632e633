"""Whether an account's calls can yield new training data: repeats at deterministic sampling.

A distiller pays for answers it has not got yet. Sending the same prompt again at temperature
~0 buys the same answer again: nothing to train on. That is exactly what an evaluation lab
re-running its benchmark, a regression suite or a cache-less product retrying does. So the share
of an account's calls that repeat an earlier prompt *at deterministic sampling* is the share of
its "harvest" that harvests nothing, and its extraction evidence counts only for the rest
(``harvest_yield``). Mimicking it costs an attacker exactly the calls it wastes.

Repeats are found over the account's lifetime in bounded memory by adaptive distinct sampling
(Gibbons' "distinct sampling"): a prompt's 32-bit content hash is *sampled* when its low
``level`` bits are zero; the sampled hashes seen so far are kept, and when they exceed
``SLOTS`` the level rises by one and the hashes no longer sampled are dropped. The set is a
uniform sample of the distinct prompts ever sent, so a sampled prompt already in it is a repeat
of an earlier prompt however long ago (a benchmark re-run the next day), and a crawl of new items
never finds one. Only sampled prompts touch the set: one modulo per prompt, a C-level scan of at
most ``SLOTS`` integers per sampled one.

The state is one ``array('I')``: level, sampled prompts and repeats among them (both halved
together once the count reaches ``MEMORY``, so the share follows the account's recent
behaviour, and when the level rises, since a sampled prompt then stands for twice as many
calls), then the sampled hashes. Hashes of normalised prompts cannot be turned into text.
"""

from __future__ import annotations

from array import array

SLOTS = 96  # sampled distinct prompts kept (a benchmark of 1,000 items is remembered at level 4)
MEMORY = 32  # the share is over about this many recent sampled prompts
MIN_SAMPLED = 8  # below this the share is not read (too few to say)

_LEVEL = 0
_SAMPLED = 1
_REPEATS = 2
_HASHES = 3


def new_memory() -> array[int]:
    """An empty memory (level 0: every prompt sampled)."""
    return array("I", [0, 0, 0])


def is_consistent(memory: array[int]) -> bool:
    """The shape ``observe_one`` relies on (a restored array is checked with this)."""
    return (
        memory.typecode == "I"
        and _HASHES <= len(memory) <= _HASHES + SLOTS
        and memory[_LEVEL] < 32
        and memory[_REPEATS] <= memory[_SAMPLED] <= MEMORY
    )


def observe_one(memory: array[int] | None, content_key: int, deterministic: bool) -> array[int] | None:
    """The memory after one prompt with hash ``content_key``; ``deterministic``: sampled at a
    temperature where a repeat returns the same answer. Returns None while nothing was sampled."""
    level = 0 if memory is None else memory[_LEVEL]
    if content_key & ((1 << level) - 1):
        return memory  # not in the sample at this level
    if memory is None:
        memory = new_memory()
    seen = content_key in memory[_HASHES:]
    if memory[_SAMPLED] >= MEMORY:
        memory[_SAMPLED] //= 2
        memory[_REPEATS] //= 2
    memory[_SAMPLED] += 1
    if seen:
        if deterministic:
            memory[_REPEATS] += 1
        return memory
    memory.append(content_key)
    while len(memory) - _HASHES > SLOTS:
        level = memory[_LEVEL] + 1
        mask = (1 << level) - 1
        kept = [key for key in memory[_HASHES:] if not key & mask]
        del memory[_HASHES:]
        memory.extend(kept)
        memory[_LEVEL] = level
        # A sampled prompt now stands for twice as many calls: the counts so far weigh half.
        memory[_SAMPLED] //= 2
        memory[_REPEATS] //= 2
    return memory


def wasted_share(memory: array[int] | None) -> float:
    """Share of recent (sampled) calls that repeated an earlier prompt at deterministic sampling
    (0 until ``MIN_SAMPLED`` prompts were sampled)."""
    if memory is None or memory[_SAMPLED] < MIN_SAMPLED:
        return 0.0
    return memory[_REPEATS] / memory[_SAMPLED]


def harvest_yield(memory: array[int] | None) -> float:
    """Share of the account's calls that could have bought a new answer: what its extraction
    evidence counts for."""
    return 1.0 - wasted_share(memory)
