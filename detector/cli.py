"""The `detector` command: wiring only (settings → logging → source/sink → runner)."""

from __future__ import annotations

import argparse
import gc
import sys
import threading
from pathlib import Path
from typing import Any, Literal

import orjson
import structlog
from pydantic import BaseModel

from detector import __version__
from detector.events import Alert, ApiCallEvent
from detector.logs import configure_logging
from detector.process import install_stop_handlers, paced, wall_clock
from detector.settings import Settings
from detector.verdicts import AnalystVerdict, WorkloadDeclaration

log = structlog.get_logger("detector.cli")


# --- run ------------------------------------------------------------------------------------------
def attach_declarations(detector: Any, settings: Settings) -> None:
    """Workload declarations from DETECTOR_DECLARATIONS_FILE (the file stays their source of
    truth: read at every start, not checkpointed)."""
    if settings.declarations_file:
        from detector.verdicts import parse_declarations

        declared = parse_declarations(Path(settings.declarations_file).read_text())
        detector.lifecycle.static_declarations = declared
        log.info("declarations_loaded", path=settings.declarations_file, accounts=len(declared))


def cmd_run(settings: Settings, _args: argparse.Namespace) -> int:
    from detector.kafka import ChangelogTopicError, DeliveryError, KafkaWorker, changelog_topic, start_worker
    from detector.metrics import Metrics, serve_http
    from detector.pipeline.step import Detector

    stop = threading.Event()
    install_stop_handlers(stop)
    metrics = Metrics(liveness_timeout_s=settings.liveness_timeout_seconds)
    server = serve_http(metrics, settings.metrics_port) if settings.metrics_port else None
    log.info(
        "worker_starting",
        version=__version__,
        bootstrap_servers=settings.bootstrap_servers,
        security_protocol=settings.security_protocol,
        group_id=settings.group_id,
        events_topic=settings.events_topic,
        alerts_topic=settings.alerts_topic,
        dlq_topic=settings.dlq_topic,
        changelog_topic=changelog_topic(settings) if settings.state_changelog else None,
    )
    detector = Detector(settings, clock=wall_clock)
    attach_declarations(detector, settings)
    worker: KafkaWorker | None = None
    exit_code = 0
    try:
        # Waits for the broker and the changelog topic (not ready meanwhile); None = stopped.
        worker = start_worker(settings, detector, metrics, stop)
        if worker is not None:
            stats = worker.run()
            log.info(
                "worker_stopped",
                events=stats.events,
                invalid=stats.invalid,
                duplicates=stats.duplicates,
                alerts=stats.alerts,
            )
    except DeliveryError as error:
        # Stopped while a batch was undelivered: its offsets were not committed, so the next
        # owner of its partitions re-reads and re-sends it.
        log.error("delivery_failed", error=str(error))
        exit_code = 1
    except ChangelogTopicError as error:
        log.error("changelog_topic_invalid", error=str(error))
        exit_code = 2
    finally:
        metrics.not_ready()
        if worker is not None:
            worker.close()
        if server is not None:
            server.shutdown()
    return exit_code


# --- replay ---------------------------------------------------------------------------------------
def cmd_replay(settings: Settings, args: argparse.Namespace) -> int:
    from detector.files import FileSink, FileSource, open_input, open_output
    from detector.pipeline.step import Detector
    from detector.runner import run_loop

    detector = Detector(settings, clock=wall_clock)
    attach_declarations(detector, settings)
    source = FileSource(open_input(args.input), batch_size=settings.max_poll_records, name=args.input)
    sink = FileSink(
        open_output(args.output),
        open_output(args.dead_letters) if args.dead_letters else None,
        settings=settings,
    )
    try:
        stats = run_loop(detector, source, sink, threading.Event())
    finally:
        sink.close()
        source.close()
    print(
        f"replay: events={stats.events} invalid={stats.invalid} duplicates={stats.duplicates} "
        f"accounts={detector.accounts_seen} alerts={stats.alerts} "
        f"events_per_s={stats.events_per_second:,.0f}",
        file=sys.stderr,
    )
    return 0


# --- simulate -------------------------------------------------------------------------------------
def cmd_simulate(settings: Settings, args: argparse.Namespace) -> int:
    from detector.simulate import default_scenario, generate
    from detector.simulate.variants import evaluation_scenario

    if args.split:
        scenario = evaluation_scenario(args.split, args.seed, hours=args.hours, benign_accounts=args.accounts)
    else:
        scenario = default_scenario(hours=args.hours, benign_accounts=args.accounts)
    simulation = generate(scenario, seed=args.seed)
    if args.labels:
        simulation.write_labels(args.labels)
    stop = threading.Event()
    install_stop_handlers(stop)
    events = paced(simulation.events(), args.speed, stop)
    count = 0
    if args.kafka:
        from detector.kafka.client import EventPublisher

        publisher = EventPublisher(settings)
        try:
            for event in events:
                publisher.send(event["account_id"].encode(), orjson.dumps(event))
                count += 1
        finally:
            publisher.close()
        target = f"kafka:{settings.events_topic}"
    else:
        from detector.files import open_output

        out = open_output(args.output)
        try:
            for event in events:
                out.write(orjson.dumps(event) + b"\n")
                count += 1
        finally:
            out.flush()
            if args.output != "-":
                out.close()
        target = args.output
    print(f"simulate: events={count} campaigns={len(simulation.labels)} -> {target}", file=sys.stderr)
    return 0


# --- schemas / topics / demo ------------------------------------------------------------------------
SCHEMA_FILES: dict[str, tuple[type[BaseModel], Literal["validation", "serialization"]]] = {
    "api-call-event-v1.schema.json": (ApiCallEvent, "validation"),
    "alert-v1.schema.json": (Alert, "serialization"),
    "analyst-verdict-v1.schema.json": (AnalystVerdict, "validation"),
    "workload-declaration-v1.schema.json": (WorkloadDeclaration, "validation"),
}


def render_schemas() -> dict[str, bytes]:
    """The JSON Schemas of the public contracts, as they are committed in ``schemas/``."""
    rendered = {}
    for name, (model, mode) in SCHEMA_FILES.items():
        schema = model.model_json_schema(mode=mode)
        rendered[name] = orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    from detector.formats.ocsf import finding_json_schema  # the OCSF models load only when asked

    rendered["alert-ocsf-detection-finding.schema.json"] = (
        orjson.dumps(finding_json_schema(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    )
    return rendered


def cmd_schemas(_settings: Settings, args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, content in render_schemas().items():
        (out / name).write_bytes(content)
        print(f"wrote {out / name}", file=sys.stderr)
    return 0


def coordination_settings(settings: Settings) -> Settings:
    """The coordination stage reads the fingerprints topic in a group of its own; it has no
    accounts store, only its campaigns store (``DETECTOR_COORDINATION_CHANGELOG``)."""
    return settings.model_copy(
        update={
            "events_topic": settings.fingerprints_topic,
            "group_id": f"{settings.group_id}-coordination",
            "state_changelog": False,
            "consume_verdicts": False,
        }
    )


def cmd_coordinate(settings: Settings, _args: argparse.Namespace) -> int:
    """The cross-account stage of a scaled-out deployment (workers run with coordination_mode=topic)."""
    from detector.kafka import (
        COORDINATION_STORE,
        ChangelogTopicError,
        CoordinationChangelog,
        KafkaSink,
        KafkaSource,
        Retry,
        ensure_changelog_topic,
    )
    from detector.metrics import Metrics, serve_http
    from detector.pipeline.step import CoordinationProcessor
    from detector.runner import run_loop

    stop = threading.Event()
    install_stop_handlers(stop)
    stage_settings = coordination_settings(settings)
    metrics = Metrics(liveness_timeout_s=settings.liveness_timeout_seconds)
    server = serve_http(metrics, settings.metrics_port) if settings.metrics_port else None
    log.info(
        "coordination_starting",
        fingerprints_topic=settings.fingerprints_topic,
        group_id=stage_settings.group_id,
    )
    retry = Retry(stage_settings, stop, metrics)
    processor = CoordinationProcessor(stage_settings, clock=wall_clock)
    # Campaigns survive restarts: restored per assigned fingerprints partition, checkpointed
    # after each batch's alerts are acknowledged and before its offsets are committed.
    store = (
        CoordinationChangelog(stage_settings, processor.stage, metrics, retry)
        if settings.coordination_changelog
        else None
    )
    source: KafkaSource | None = None
    sink: KafkaSink | None = None
    exit_code = 0
    try:
        if store is not None and not ensure_changelog_topic(stage_settings, retry, COORDINATION_STORE):
            return 0  # stopped while waiting for the broker
        source = KafkaSource(stage_settings, metrics, retry=retry, state=store)
        sink = KafkaSink(stage_settings, metrics, retry)
        stats = run_loop(processor, source, sink, stop, metrics, state=store)
        log.info(
            "coordination_stopped", fingerprints=stats.events, invalid=stats.invalid, alerts=stats.alerts
        )
    except ChangelogTopicError as error:
        log.error("changelog_topic_invalid", error=str(error))
        exit_code = 2
    finally:
        metrics.not_ready()
        if sink is not None:
            sink.close()
        if store is not None:
            store.close()
        if source is not None:
            source.close()
        if server is not None:
            server.shutdown()
    return exit_code


def cmd_create_topics(settings: Settings, args: argparse.Namespace) -> int:
    from detector.kafka import create_topics

    create_topics(settings, partitions=args.partitions)
    return 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from detector.demo import run_demo

    # The live view is the demo's output; worker logs would tear it, so only problems are logged.
    configure_logging("warning", settings.log_format)
    return run_demo(
        settings,
        hours=args.hours,
        accounts=args.accounts,
        seed=args.seed,
        speed=args.speed,
        report=args.report,
    )


def _evaluate_default_world(settings: Settings, args: argparse.Namespace, conditions: list[bool]) -> int:
    """The simulator's default scenario, as evaluated before the splits (docs/benchmarks.md)."""
    from detector.evaluate import format_report, run_once, summarise
    from detector.simulate import default_scenario

    report = []
    results = {}
    for with_text in conditions:
        scenario = default_scenario(hours=args.hours, benign_accounts=args.accounts).model_copy(
            update={"include_prompt_text": with_text}
        )
        outcome = run_once(scenario, seed=args.seed, settings=settings)
        summaries = [summarise(outcome, method) for method in outcome.methods]
        name = "with prompt text" if with_text else "without prompt text"
        results[name] = summaries
        report.append(format_report(name, outcome, summaries))
    text = "\n".join(report)
    print(text)
    if args.report:
        _write_evaluation_report(settings, args, conditions[0], *next(iter(results.items())))
    if args.json:
        Path(args.json).write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    return 0


def _write_evaluation_report(
    settings: Settings, args: argparse.Namespace, with_text: bool, name: str, summaries: list[dict[str, Any]]
) -> None:
    """The HTML report of the evaluation's first condition (its alerts replayed, its labels)."""
    from detector.report.runs import evaluation_report
    from detector.simulate import default_scenario

    scenario = default_scenario(hours=args.hours, benign_accounts=args.accounts).model_copy(
        update={"include_prompt_text": with_text}
    )
    title = f"detector evaluate: seed {args.seed}, {args.hours:g} h, {name}"
    Path(args.report).write_text(evaluation_report(scenario, args.seed, settings, summaries, title=title))
    print(f"report: {args.report}", file=sys.stderr)


def _write_split_report(
    settings: Settings, args: argparse.Namespace, split: str, seed: int, with_text: bool
) -> None:
    """The HTML report of one evaluation world (the first split, seed and condition)."""
    from detector.report.runs import evaluation_report
    from detector.simulate.variants import evaluation_scenario

    scenario = evaluation_scenario(
        split,  # type: ignore[arg-type]
        seed,
        hours=args.hours,
        benign_accounts=args.accounts,
        include_prompt_text=with_text,
    )
    condition = "with prompt text" if with_text else "without prompt text"
    title = f"detector evaluate: {split} split, seed {seed}, {args.hours:g} h, {condition}"
    Path(args.report).write_text(evaluation_report(scenario, seed, settings, [], title=title))
    print(f"report: {args.report}", file=sys.stderr)


# --- report ---------------------------------------------------------------------------------------
def cmd_report(_settings: Settings, args: argparse.Namespace) -> int:
    from detector.files import open_input
    from detector.report import Labels, parse_alerts, render_report
    from detector.report.data import AlertFileError

    stream = open_input(args.alerts)
    try:
        alerts = parse_alerts(stream)
    except AlertFileError as error:
        print(f"report: {args.alerts}: {error}", file=sys.stderr)
        return 2
    finally:
        if args.alerts != "-":
            stream.close()
    labels = Labels.from_document(orjson.loads(Path(args.labels).read_bytes())) if args.labels else None
    Path(args.out).write_text(render_report(alerts, labels))
    print(f"report: {len(alerts)} alerts -> {args.out}", file=sys.stderr)
    return 0


def cmd_evaluate(settings: Settings, args: argparse.Namespace) -> int:
    if args.feedback is not None:
        from detector.evaluate_feedback import run_feedback_evaluation

        # The feedback replay is one world of the demo scenario (--seed, --hours, --accounts):
        # say so rather than silently ignore the flags it does not take.
        ignored = [flag for flag, value in (("--report", args.report), ("--seeds", args.seeds)) if value]
        if ignored:
            print(f"evaluate --feedback does not take {' or '.join(ignored)}", file=sys.stderr)
            return 2

        return run_feedback_evaluation(settings, args)
    from detector.evaluate import evaluate_splits, format_evaluation

    conditions = {"text": [True], "no-text": [False], "both": [True, False]}[args.condition]
    if args.world == "default":
        return _evaluate_default_world(settings, args, conditions)
    splits = ["tuning", "unseen"] if args.split == "both" else [args.split]
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else [args.seed]
    results, events = evaluate_splits(
        splits, conditions, seeds, hours=args.hours, benign_accounts=args.accounts, settings=settings
    )
    print(
        f"seeds {','.join(map(str, seeds))}, {args.hours:g} h, {args.accounts} ordinary accounts per world\n"
    )
    print(format_evaluation(results, events))
    if args.report:
        _write_split_report(settings, args, splits[0], seeds[0], conditions[0])
    if args.json:
        payload = {
            "seeds": seeds,
            "hours": args.hours,
            "accounts": args.accounts,
            "events": events,
            "results": results,
        }
        Path(args.json).write_bytes(orjson.dumps(payload, option=orjson.OPT_INDENT_2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="detector",
        description="Streaming detector of model-extraction campaigns against LLM APIs. "
        "Settings come from DETECTOR_* environment variables (see README).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("run", help="the production worker (Kafka consumer group)")

    replay = commands.add_parser("replay", help="the same pipeline over a JSONL file of events")
    replay.add_argument("--input", required=True, help="JSONL events ('-' = stdin, .gz ok)")
    replay.add_argument(
        "--output", default="-", help="alerts as JSONL, in DETECTOR_ALERT_FORMAT ('-' = stdout, .gz ok)"
    )
    replay.add_argument("--dead-letters", default=None, help="write rejected events here (JSONL)")

    simulate = commands.add_parser("simulate", help="realistic traffic with planted campaigns")
    simulate.add_argument("--output", default="-", help="JSONL events ('-' = stdout, .gz ok)")
    simulate.add_argument("--kafka", action="store_true", help="produce to the events topic instead")
    simulate.add_argument("--labels", default=None, help="write the ground truth (JSON) here")
    simulate.add_argument("--seed", type=int, default=42)
    simulate.add_argument("--hours", type=float, default=24.0, help="event-time length")
    simulate.add_argument("--accounts", type=int, default=400, help="benign accounts")
    simulate.add_argument(
        "--split", choices=["tuning", "unseen"], default=None, help="an evaluation world of this split"
    )
    simulate.add_argument(
        "--speed", type=float, default=0.0, help="event-time seconds per wall second (0 = max)"
    )

    demo = commands.add_parser("demo", help="local broker + simulated traffic + worker + live view")
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--hours", type=float, default=24.0)
    demo.add_argument("--accounts", type=int, default=300)
    demo.add_argument(
        "--speed", type=float, default=0.0, help="event-time multiplier (0 = as fast as possible)"
    )
    demo.add_argument("--report", default="detector-demo-report.html", help="HTML report written at the end")

    evaluate = commands.add_parser("evaluate", help="simulate → replay → score, next to baselines")
    evaluate.add_argument("--seed", type=int, default=1, help="one seed (see --seeds)")
    evaluate.add_argument("--seeds", default=None, help="several seeds, pooled: 1,2,3")
    evaluate.add_argument("--split", choices=["tuning", "unseen", "both"], default="both")
    evaluate.add_argument(
        "--world",
        choices=["splits", "default"],
        default="splits",
        help="default = the demo's scenario as before the splits (--seed, --hours, --accounts)",
    )
    evaluate.add_argument("--hours", type=float, default=48.0, help="event-time length of each world")
    evaluate.add_argument("--accounts", type=int, default=300, help="ordinary accounts per world")
    evaluate.add_argument("--condition", choices=["text", "no-text", "both"], default="both")
    evaluate.add_argument("--json", default=None, help="also write the figures as JSON here")
    evaluate.add_argument("--report", default=None, help="also write an HTML report (first condition) here")

    report = commands.add_parser("report", help="alerts (JSONL) as one self-contained HTML page")
    report.add_argument("--alerts", required=True, help="native alert v1 JSONL ('-' = stdin, .gz ok)")
    report.add_argument("--labels", default=None, help="the simulator's labels JSON (adds the evaluation)")
    report.add_argument("--out", default="report.html", help="where to write the HTML")
    evaluate.add_argument(
        "--feedback",
        type=float,
        nargs="?",
        const=0.5,
        default=None,
        metavar="SHARE",
        help="also replay with analyst verdicts on SHARE (default 0.5) of the first day's alerts, "
        "and show FPR and recall next to no feedback (detector/evaluate_feedback.py)",
    )

    schemas = commands.add_parser("schemas", help="write the event and alert JSON Schemas")
    schemas.add_argument("--out", default="schemas")

    commands.add_parser(
        "coordinate", help="the cross-account stage for a scaled-out group (coordination_mode=topic)"
    )

    topics = commands.add_parser(
        "create-topics", help="create the events, alerts, DLQ and verdicts topics (+ changelog, fingerprints)"
    )
    topics.add_argument("--partitions", type=int, default=None)
    return parser


HANDLERS = {
    "run": cmd_run,
    "replay": cmd_replay,
    "simulate": cmd_simulate,
    "demo": cmd_demo,
    "evaluate": cmd_evaluate,
    "report": cmd_report,
    "schemas": cmd_schemas,
    "create-topics": cmd_create_topics,
    "coordinate": cmd_coordinate,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    # The worker keeps up to millions of long-lived objects (account states) and allocates a few
    # short-lived ones per event; with the default thresholds the cyclic GC keeps re-scanning the
    # long-lived ones (~6% of replay time, more with more accounts). Start-up objects are frozen
    # out of its view and young collections run less often; memory is still reclaimed.
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    return HANDLERS[args.command](settings, args)
