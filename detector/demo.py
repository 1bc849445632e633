"""`detector demo`: bundled broker + simulated traffic + the worker + a live view of alerts.

Three threads around one real broker: the gateway stand-in produces simulated events, the
worker (the same ``run_loop`` as ``detector run``) consumes them, and the main thread reads the
alerts topic and shows it. Ctrl-C stops all three and the broker; nothing is left running.
"""

from __future__ import annotations

import signal
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

import orjson
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from detector.broker import LocalBroker
from detector.events import Alert
from detector.kafka import EventPublisher, KafkaSink, KafkaSource, TopicReader, create_topics
from detector.pipeline.step import Detector
from detector.process import paced, wall_clock
from detector.report import Labels, render_report
from detector.runner import RunStats, run_loop
from detector.settings import Settings
from detector.simulate import Simulation, default_scenario, generate

_SEVERITY_STYLE = {"low": "yellow", "medium": "dark_orange", "high": "red", "critical": "bold white on red"}


@dataclass
class DemoProgress:
    """Shared counters between the demo threads (each field written by one thread only)."""

    produced: int = 0
    producing_done: bool = False
    worker_stats: RunStats | None = None
    alerts: list[dict[str, Any]] = field(default_factory=list)
    first_alert_at: dict[str, datetime] = field(default_factory=dict)
    error: str | None = None


def _produce(settings: Settings, events: Any, progress: DemoProgress, stop: threading.Event) -> None:
    publisher = EventPublisher(settings)
    try:
        for event in events:
            if stop.is_set():
                break
            publisher.send(event["account_id"].encode(), orjson.dumps(event))
            progress.produced += 1
    except Exception as error:
        progress.error = f"producer: {error!r}"
        stop.set()
    finally:
        publisher.close()
        progress.producing_done = True


def _work(settings: Settings, detector: Detector, progress: DemoProgress, stop: threading.Event) -> None:
    source = KafkaSource(settings)
    sink = KafkaSink(settings)
    try:
        progress.worker_stats = run_loop(detector, source, sink, stop)
    except Exception as error:
        progress.error = f"worker: {error!r}"
        stop.set()
    finally:
        sink.close()
        source.close()


def _view(progress: DemoProgress, labels: dict[str, str], detector: Detector) -> Group:
    table = Table(title="Suspected-extraction alerts (live, from the alerts topic)", expand=True)
    table.add_column("detected (event time)", no_wrap=True)
    table.add_column("account", no_wrap=True)
    table.add_column("severity", no_wrap=True)
    table.add_column("score", no_wrap=True)
    table.add_column("top reasons", ratio=1, overflow="fold")
    table.add_column("ground truth", no_wrap=True)
    for alert in progress.alerts[-15:]:
        reasons = "\n".join(r["explanation"] for r in alert["reasons"][:3])
        truth = labels.get(alert["account_id"])
        related = alert.get("related_accounts") or []
        account = alert["account_id"] + (f"\n+{len(related)} related" if related else "")
        table.add_row(
            alert["detected_at"][5:16].replace("T", " "),
            account,
            Text(alert["severity"], style=_SEVERITY_STYLE.get(alert["severity"], "")),
            f"{alert['score']:.2f}",
            reasons,
            Text(f"planted: {truth}", style="green") if truth else Text("benign", style="magenta"),
        )
    status = Text(
        f"produced {progress.produced:,} events · worker processed {detector.events_processed:,} · "
        f"accounts {detector.tracked_accounts:,} · alerts {len(progress.alerts)}"
        + ("" if not progress.producing_done else " · traffic finished, draining"),
        style="dim",
    )
    return Group(table, status)


def _summary(
    console: Console, progress: DemoProgress, campaigns: list[dict[str, Any]], detector: Detector
) -> None:
    table = Table(title="Planted campaigns", expand=True)
    for column in ("campaign", "style", "accounts", "named in alerts", "first alert after start"):
        table.add_column(column)
    by_campaign: dict[str, list[dict[str, Any]]] = {}
    for label in campaigns:
        by_campaign.setdefault(label["campaign_id"], []).append(label)
    for campaign_id, members in sorted(by_campaign.items()):
        start = min(datetime.fromisoformat(m["start"]) for m in members)
        caught = [m for m in members if m["account_id"] in progress.first_alert_at]
        delays = [progress.first_alert_at[m["account_id"]] - start for m in caught]
        table.add_row(
            campaign_id,
            members[0]["style"],
            str(len(members)),
            Text(f"{len(caught)}/{len(members)}", style="green" if caught else "red"),
            f"{min(delays).total_seconds() / 60:.0f} min (event time)" if delays else "-",
        )
    console.print(table)
    attackers = {label["account_id"] for label in campaigns}
    benign_alerted = sorted(set(progress.first_alert_at) - attackers)
    seen = detector.accounts_seen
    console.print(
        f"Benign accounts alerted: {len(benign_alerted)} of {seen - len(attackers):,} "
        f"({len(benign_alerted) / max(1, seen - len(attackers)):.2%})."
    )
    stats = progress.worker_stats
    if stats:
        console.print(
            f"Worker: {stats.events:,} events, {stats.invalid} invalid, {stats.alerts} alerts, "
            f"{stats.events_per_second:,.0f} events/s."
        )


def _write_report(path: str, progress: DemoProgress, simulation: Simulation, hours: float, seed: int) -> None:
    """The demo's alerts as the HTML report, with the simulation's labels: what to open next."""
    alerts = [Alert.model_validate(alert) for alert in progress.alerts]
    labels = Labels.from_document({"campaigns": simulation.labels, "benign_kinds": simulation.benign_kinds})
    html = render_report(
        alerts, labels, title=f"detector demo: seed {seed}, {hours:g} h of simulated traffic"
    )
    Path(path).write_text(html)


def run_demo(
    settings: Settings,
    *,
    hours: float,
    accounts: int,
    seed: int,
    speed: float,
    report: str | None = None,
) -> int:
    console = Console()
    stop = threading.Event()

    def handle(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
    broker_log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - only its name is used; it outlives the demo
        prefix="detector-demo-broker-", suffix=".log", delete=False
    )
    console.print(f"Starting the bundled local broker (tansu; log: {broker_log.name}) ...")
    broker = LocalBroker(log_path=broker_log.name).start()
    try:
        demo_settings = settings.model_copy(
            update={
                "bootstrap_servers": broker.bootstrap,
                "session_timeout_ms": 6000,
                "heartbeat_interval_ms": 1000,
                "topic_partitions": 4,
                "alert_format": "native",  # the live view reads alert v1
            }
        )
        create_topics(demo_settings)
        scenario = default_scenario(hours=hours, benign_accounts=accounts)
        simulation = generate(scenario, seed=seed)
        labels = {label["account_id"]: label["style"] for label in simulation.labels}
        console.print(
            f"Topics ready on {broker.bootstrap}. Streaming {hours:g} h of simulated traffic "
            f"({accounts} ordinary accounts, {len(set(labels))} planted attacker accounts) "
            f"at {'max speed' if speed <= 0 else f'{speed:g}x event time'}. Ctrl-C stops."
        )
        progress = DemoProgress()
        detector = Detector(demo_settings, clock=wall_clock)
        producer = threading.Thread(
            target=_produce,
            args=(demo_settings, paced(simulation.events(), speed, stop), progress, stop),
            name="demo-producer",
        )
        worker = threading.Thread(
            target=_work, args=(demo_settings, detector, progress, stop), name="demo-worker"
        )
        producer.start()
        worker.start()
        reader = TopicReader(demo_settings, demo_settings.alerts_topic)
        idle_since: float | None = None
        try:
            with Live(_view(progress, labels, detector), console=console, refresh_per_second=4) as live:
                while not stop.is_set():
                    for _key, value, _headers in reader.poll(timeout_ms=250):
                        alert = orjson.loads(value)
                        progress.alerts.append(alert)
                        detected = datetime.fromisoformat(alert["detected_at"])
                        for named in (alert["account_id"], *alert.get("related_accounts", [])):
                            progress.first_alert_at.setdefault(named, detected)
                    live.update(_view(progress, labels, detector))
                    caught_up = progress.producing_done and detector.events_processed >= progress.produced
                    if caught_up:
                        idle_since = idle_since or time.monotonic()
                        if time.monotonic() - idle_since > 3.0:
                            break
                    if progress.error:
                        break
        finally:
            stop.set()
            producer.join()
            worker.join()
            reader.close()
        if progress.error:
            console.print(f"[red]Demo stopped: {progress.error}[/red]")
        _summary(console, progress, simulation.labels, detector)
        if report:
            _write_report(report, progress, simulation, hours, seed)
            console.print(f"Report: {Path(report).resolve()}", soft_wrap=True)
        return 1 if progress.error else 0
    finally:
        broker.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        console.print("Local broker stopped.")
