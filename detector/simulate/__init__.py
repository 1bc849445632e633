"""Traffic simulator: benign API customers built from real traces, plus planted extraction campaigns.

Usage::

    from detector.simulate import default_scenario, generate
    sim = generate(default_scenario(hours=24.0, benign_accounts=400), seed=42)
    for event in sim.events():   # contract v1 dicts, sorted by timestamp, streamed
        ...
    sim.write_labels("labels.json")

The simulator is the only part of the project that knows who attacks; it says so in
``Simulation.labels`` and ``Simulation.benign_kinds`` and never in the events themselves.
"""

from detector.simulate.generator import Simulation, generate
from detector.simulate.scenario import (
    CampaignSpec,
    HardNegativeSpec,
    LaunchSpec,
    Scenario,
    default_scenario,
)

__all__ = [
    "CampaignSpec",
    "HardNegativeSpec",
    "LaunchSpec",
    "Scenario",
    "Simulation",
    "default_scenario",
    "generate",
]
