"""The pure detection pipeline: bytes in, alerts and dead letters out, no I/O.

Read top to bottom in ``step.py``: validate → deduplicate → features → account state →
learners → decide.
"""
