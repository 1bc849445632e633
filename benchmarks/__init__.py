"""Benchmarks of the detector: throughput, latency, memory, scaling and cost growth.

``python -m benchmarks [--quick]`` runs them all; ``python -m benchmarks.<name>`` runs one.
Results go to ``benchmarks/results/<name>.json`` and to the Performance section of
``docs/benchmarks.md``. Not part of the test suite: nothing here asserts a timing.
"""

# Run order (cheap and single-process first; the Kafka ones start brokers of their own).
ORDER = ("replay", "kafka_throughput", "latency", "memory", "scaling", "cost_growth")
