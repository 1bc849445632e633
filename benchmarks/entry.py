"""Entry point of one benchmark module: run it, save its JSON, refresh the report.

Apart from ``common.py`` because it needs the report, and the report needs ``common.py``'s
results: with it here, neither imports the other back.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from benchmarks.common import LABEL, REPO, Options, Result, format_result, log, quiet_logs, save
from benchmarks.report import write_report


def main_for(run: Callable[[Options], Result], description: str) -> None:
    """Entry point of one benchmark module: run it, save its JSON, refresh the report."""
    options = Options.parse(description=description)
    quiet_logs()
    started = time.perf_counter()
    result = run(options)
    result.quick = options.quick
    result.seconds = round(time.perf_counter() - started, 1)
    path = save(result)
    log(f"{result.benchmark}: wrote {path.relative_to(REPO)}")
    print(format_result(result))
    if not options.quick and not LABEL:
        write_report()
