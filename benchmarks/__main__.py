"""``python -m benchmarks [--quick] [--runs N] [--only NAME ...]``: run the benchmarks, write the report."""

from __future__ import annotations

import argparse
import importlib
import sys
import time

from benchmarks import ORDER
from benchmarks.common import LABEL, Options, format_result, log, quiet_logs, save
from benchmarks.report import write_report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny inputs, one run: checks that all run")
    parser.add_argument("--runs", type=int, default=None, help="repetitions per figure (median reported)")
    parser.add_argument("--only", nargs="+", choices=ORDER, default=None, help="run only these")
    args = parser.parse_args(argv)
    options = Options(quick=args.quick, runs=args.runs or (1 if args.quick else 3))
    quiet_logs()
    failed = []
    for name in args.only or ORDER:
        module = importlib.import_module(f"benchmarks.{name}")
        log(f"=== {name}")
        started = time.perf_counter()
        try:
            result = module.run(options)
        except Exception as error:  # one broken benchmark must not hide the others
            log(f"{name} failed: {error!r}")
            failed.append(name)
            continue
        result.quick = options.quick
        result.seconds = round(time.perf_counter() - started, 1)
        save(result)
        print(format_result(result), flush=True)
    if not options.quick and not LABEL:
        write_report()
    if failed:
        log(f"failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
