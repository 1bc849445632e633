"""What an operator relies on, without a broker: metric names, health endpoints, security
settings passed through, secrets kept out of sight, retry backoff."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from pydantic import ValidationError

from detector.kafka.retry import Retry
from detector.metrics import ASSIGNED, BROKER, CONDITIONS, DELIVERING, RESTORED, Metrics, serve_http
from detector.settings import Settings


def test_metric_names_follow_prometheus_conventions() -> None:
    """Every metric is `detector_*`; counters end in `_total`, durations in `_seconds`, sizes in
    `_bytes`; no label can carry an account id."""
    metrics = Metrics()
    families = list(metrics.registry.collect())
    assert len(families) >= 18
    for family in families:
        assert family.name.startswith("detector_")
        names = {sample.name for sample in family.samples}
        if family.type == "counter":
            assert any(name.endswith("_total") for name in names) or not family.samples
        if family.type == "histogram":
            assert family.name.endswith("_seconds")
        if "memory" in family.name:
            assert family.name.endswith("_bytes")
        for sample in family.samples:
            assert not {"account", "account_id", "org_id"} & set(sample.labels)
    required = {
        "detector_events_consumed",
        "detector_events_invalid",
        "detector_alerts",
        "detector_event_latency_seconds",
        "detector_consumer_lag_messages",
        "detector_state_memory_bytes",
        "detector_state_restore_seconds",
        "detector_ready",
    }
    assert required <= {family.name for family in families}


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_readiness_needs_every_condition_and_names_the_failing_ones() -> None:
    """/readyz is 503 naming what is missing until partitions are assigned and restored, the
    broker reachable and deliveries acknowledged; /healthz follows the loop's heartbeat."""
    metrics = Metrics()
    server = serve_http(metrics, 0, host="127.0.0.1")
    port = server.server_address[1]
    try:
        assert _get(port, "/readyz") == (503, f"not ready: {ASSIGNED}\n")
        metrics.condition(ASSIGNED, True)
        assert _get(port, "/readyz") == (200, "ready\n")
        metrics.condition(RESTORED, False)
        metrics.condition(BROKER, False)
        assert _get(port, "/readyz") == (503, f"not ready: {RESTORED}, {BROKER}\n")
        assert metrics.ready._value.get() == 0
        for name in CONDITIONS:
            metrics.condition(name, True)
        assert metrics.ready._value.get() == 1
        metrics.condition(DELIVERING, False)
        assert _get(port, "/readyz")[0] == 503
        assert _get(port, "/healthz") == (200, "ok\n")
        assert _get(port, "/metrics")[0] == 200
    finally:
        server.shutdown()
        server.server_close()


def test_liveness_fails_when_the_loop_stops_beating() -> None:
    """A loop that has not beaten within the liveness timeout is reported stuck."""
    metrics = Metrics(liveness_timeout_s=0.0)
    assert not metrics.alive
    assert Metrics(liveness_timeout_s=60).alive


def test_security_settings_pass_through_to_the_kafka_clients(tmp_path: Path) -> None:
    """SASL_SSL with SCRAM and mTLS files reach kafka-python as given; the password may come
    from a mounted file."""
    password_file = tmp_path / "sasl-password"
    password_file.write_text("s3cr3t-from-file\n")
    settings = Settings(
        bootstrap_servers="b1:9093, b2:9093",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="detector",
        sasl_password_file=str(password_file),
        ssl_cafile="/etc/kafka/ca.pem",
        ssl_certfile="/etc/kafka/client.pem",
        ssl_keyfile="/etc/kafka/client.key",
        ssl_password="key-pass",
    )
    assert settings.kafka_common_config() == {
        "bootstrap_servers": ["b1:9093", "b2:9093"],
        "client_id": "extraction-detector",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "detector",
        "sasl_plain_password": "s3cr3t-from-file",
        "ssl_cafile": "/etc/kafka/ca.pem",
        "ssl_certfile": "/etc/kafka/client.pem",
        "ssl_keyfile": "/etc/kafka/client.key",
        "ssl_password": "key-pass",
    }


def test_secrets_come_from_the_environment_and_never_show(monkeypatch: pytest.MonkeyPatch) -> None:
    """Passwords read from DETECTOR_* variables are masked in every rendering of the settings."""
    monkeypatch.setenv("DETECTOR_SASL_PASSWORD", "env-secret-1")
    monkeypatch.setenv("DETECTOR_SSL_PASSWORD", "env-secret-2")
    settings = Settings(_env_file=None)
    assert settings.sasl_password is not None and settings.sasl_password.get_secret_value() == "env-secret-1"
    for rendering in (repr(settings), str(settings), settings.model_dump_json(), str(settings.model_dump())):
        assert "env-secret" not in rendering


def test_an_unreadable_secret_file_stops_the_start(tmp_path: Path) -> None:
    """A secret file that cannot be read is a configuration error at start, not a silent None."""
    with pytest.raises(ValidationError, match="sasl_password_file"):
        Settings(sasl_password_file=str(tmp_path / "missing"))


def test_retry_backoff_doubles_up_to_its_cap_and_yields_to_stop() -> None:
    """Waits double from the first backoff to the cap; a stop request ends a wait at once."""
    retry = Retry(Settings(retry_backoff_ms=100, retry_backoff_max_ms=1_000), threading.Event())
    assert [retry.delay(n) for n in range(6)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    retry.stop.set()
    assert retry.wait("alerts", 5, None) is False
