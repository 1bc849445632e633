"""Shared pieces of the benchmarks: options, medians, cached input files, results and the report.

Every benchmark measures its reference figure in the same run, on the same machine, right next
to the figure it is compared with (interleaved run by run), and reports medians: the machine is
shared and noisy, so only a ratio measured together means anything.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO / "benchmarks" / "results"
DOC = REPO / "docs" / "benchmarks.md"
# DETECTOR_BENCH_CODE=/path/to/a/copy measures that copy's ``detector`` package instead of this
# one (to record "before" figures next to "after" ones on the same machine and inputs).
CODE = Path(os.environ.get("DETECTOR_BENCH_CODE") or REPO)
# A label for such a run: results go to ``<name>-<label>.json`` and stay out of the report.
LABEL = os.environ.get("DETECTOR_BENCH_LABEL", "")
# Generated inputs (a 1M-event file is ~1 GB) live outside the repo and are reused across runs.
CACHE = Path(os.environ.get("DETECTOR_BENCH_CACHE", "/tmp/detector-bench"))


@dataclass(frozen=True, slots=True)
class Options:
    """How big and how often: ``quick`` is a smoke run (seconds, figures meaningless)."""

    quick: bool = False
    runs: int = 3

    @classmethod
    def parse(cls, argv: Sequence[str] | None = None, description: str = "") -> Options:
        parser = argparse.ArgumentParser(description=description)
        parser.add_argument("--quick", action="store_true", help="tiny inputs, one run: checks it works")
        parser.add_argument("--runs", type=int, default=None, help="repetitions (median reported)")
        args = parser.parse_args(argv)
        return cls(quick=args.quick, runs=args.runs or (1 if args.quick else 3))


@dataclass(frozen=True, slots=True)
class SimSize:
    """A ``detector simulate`` input: event-time length and ordinary accounts."""

    hours: float
    accounts: int


# ~1.0M events with prompt text: a simulated day of 2,400 ordinary accounts plus the campaigns.
FULL_SIZE = SimSize(24.0, 2_400)
QUICK_SIZE = SimSize(2.0, 200)


def sim_size(options: Options) -> SimSize:
    return QUICK_SIZE if options.quick else FULL_SIZE


@dataclass(slots=True)
class Figure:
    """One reported number, its unit, the runs behind it, and what it is compared with."""

    name: str
    value: float
    unit: str
    runs: list[float] = field(default_factory=list)
    reference: str | None = None
    note: str = ""


@dataclass(slots=True)
class Result:
    """What one benchmark found: its figures and free-form details for the record."""

    benchmark: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    quick: bool = False
    seconds: float = 0.0

    def add(self, name: str, runs: Sequence[float], unit: str, **kwargs: Any) -> Figure:
        figure = Figure(name, median(runs), unit, [round(r, 6) for r in runs], **kwargs)
        self.figures.append(figure)
        return figure

    def figure(self, name: str) -> Figure:
        return next(f for f in self.figures if f.name == name)


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in [0, 100]) of ``values``."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100.0 * len(ordered))))
    return ordered[rank - 1]


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    load = os.getloadavg()
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_avg_1m_at_start": round(load[0], 2),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
    }


def git_revision() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


# --- inputs -------------------------------------------------------------------------------------
def simulated_file(size: SimSize, seed: int = 42) -> Path:
    """A simulated JSONL file (with prompt text) and its labels, generated once and cached."""
    hours, accounts = size.hours, size.accounts
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"sim-h{hours:g}-a{accounts}-s{seed}.jsonl"
    labels = path.with_suffix(".labels.json")
    if path.exists() and labels.exists():
        return path
    log(f"generating {path.name} (simulated {hours:g} h, {accounts} accounts) ...")
    tmp = path.with_suffix(".tmp")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "detector",
            "simulate",
            "--hours",
            str(hours),
            "--accounts",
            str(accounts),
            "--seed",
            str(seed),
            "--output",
            str(tmp),
            "--labels",
            str(labels),
        ],
        check=True,
        env=quiet_env(),
    )
    tmp.rename(path)
    return path


def count_lines(path: Path) -> int:
    with open(path, "rb") as stream:
        return sum(1 for _ in stream)


def read_events(path: Path, limit: int | None = None) -> Iterator[tuple[bytes, bytes]]:
    """(key = account_id, raw line) of the first ``limit`` events of a JSONL file."""
    opener: Callable[..., Any] = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as stream:
        for number, line in enumerate(stream):
            if limit is not None and number >= limit:
                return
            raw = line.rstrip(b"\r\n")
            yield orjson.loads(raw)["account_id"].encode(), raw


# --- processes ----------------------------------------------------------------------------------
def quiet_env(**extra: str) -> dict[str, str]:
    """Environment for child processes: repo importable, detector logs at warning."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("DETECTOR_LOG_LEVEL", "warning")
    env["DETECTOR_METRICS_PORT"] = "0"
    env.update(extra)
    return env


def run_probe(args: Sequence[str], *, cpu: int | None = None, timeout: float = 3600.0) -> dict[str, Any]:
    """Run ``python -m benchmarks.probes ARGS`` and return the JSON it prints last on stdout."""
    command = [sys.executable, "-m", "benchmarks.probes", *args]
    if cpu is not None:
        command = ["taskset", "-c", str(cpu), *command]
    done = subprocess.run(
        command, capture_output=True, text=True, env=quiet_env(), timeout=timeout, cwd=REPO, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"probe {args[0]} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"probe {args[0]} printed no result:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def pick_cpu() -> int:
    """The core the one-core benchmarks are pinned to (the last one; shells and tests favour 0)."""
    cores = sorted(os.sched_getaffinity(0))
    return cores[-1]


def quiet_logs() -> None:
    """The benchmark driver's own detector calls (topic creation) log at warning, to stderr."""
    from detector.logs import configure_logging

    configure_logging("warning", "json")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- results ------------------------------------------------------------------------------------
def save(result: Result) -> Path:
    """Write ``benchmarks/results/<name>.json`` (one file per benchmark, last run wins)."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    suffix = ("-quick" if result.quick else "") + (f"-{LABEL}" if LABEL else "")
    path = RESULTS_DIR / f"{result.benchmark}{suffix}.json"
    payload = {
        "label": LABEL,
        "code": str(CODE),
        "settings": {k: v for k, v in sorted(os.environ.items()) if k.startswith("DETECTOR_")},
        "result": asdict(result),
        "machine": machine(),
        "revision": git_revision(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    path.write_bytes(orjson.dumps(payload, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
    return path


def load_saved(quick: bool = False) -> list[dict[str, Any]]:
    """Every saved result (full runs, or quick ones), in benchmark order."""
    from benchmarks import ORDER

    found = []
    for name in ORDER:
        path = RESULTS_DIR / f"{name}{'-quick' if quick else ''}.json"
        if path.exists():
            found.append(orjson.loads(path.read_bytes()))
    return found


def format_result(result: Result) -> str:
    lines = [f"== {result.title}"]
    for figure in result.figures:
        ref = f"   [{figure.reference}]" if figure.reference else ""
        lines.append(f"  {figure.name:<58} {fmt(figure.value)} {figure.unit}{ref}")
    lines.extend(f"  note: {note}" for note in result.notes)
    return "\n".join(lines)


def fmt(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:,.1f}"
    return f"{value:,.3g}"
