"""The one settings model: every tunable of the worker, with its default.

Read once at start by the CLI (environment variables with prefix ``DETECTOR_``, or a ``.env``
file) and passed down; nothing below the entry point reads the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Worker settings. Environment variable = ``DETECTOR_`` + field name in upper case."""

    model_config = SettingsConfigDict(env_prefix="DETECTOR_", env_file=".env", extra="ignore")

    # --- Kafka connection -------------------------------------------------------------------
    bootstrap_servers: str = Field("localhost:9092", description="Comma-separated Kafka bootstrap servers.")
    client_id: str = Field("extraction-detector", description="Kafka client id prefix.")
    group_id: str = Field("extraction-detector", description="Consumer group of the workers.")
    events_topic: str = Field("api-calls", description="Input topic of API-call events (v1).")
    alerts_topic: str = Field("extraction-alerts", description="Output topic of alerts (v1).")
    dlq_topic: str = Field("api-calls-dlq", description="Dead-letter topic for invalid input.")
    auto_offset_reset: Literal["earliest", "latest"] = Field(
        "earliest", description="Where a new group starts reading."
    )
    session_timeout_ms: int = Field(10_000, ge=1000, description="Consumer group session timeout.")
    heartbeat_interval_ms: int = Field(3_000, ge=100, description="Consumer heartbeat interval.")
    max_poll_records: int = Field(2_000, ge=1, description="Records per poll = one commit batch.")
    poll_timeout_ms: int = Field(500, ge=10, description="How long one poll waits for records.")
    producer_linger_ms: int = Field(5, ge=0, description="Producer batching delay.")
    producer_compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = Field(
        "none", description="Compression of alerts, dead letters and the state changelog."
    )
    retry_backoff_ms: int = Field(
        200, ge=1, description="First wait before a failed Kafka operation is retried; doubles per attempt."
    )
    retry_backoff_max_ms: int = Field(
        10_000, ge=1, description="Longest wait between retries of a failed Kafka operation."
    )
    producer_delivery_timeout_ms: int = Field(
        120_000,
        ge=1_000,
        description="How long the producer tries to deliver a message before the worker re-sends it.",
    )

    # --- Kafka security (passed through to kafka-python) -------------------------------------
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="Kafka security protocol."
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"] | None = Field(
        None, description="SASL mechanism when the protocol is SASL_*."
    )
    sasl_username: str | None = Field(None, description="SASL user name.")
    sasl_password: SecretStr | None = Field(None, description="SASL password (never logged).")
    ssl_cafile: str | None = Field(None, description="CA bundle to verify the brokers.")
    ssl_certfile: str | None = Field(None, description="Client certificate (mTLS).")
    ssl_keyfile: str | None = Field(None, description="Client private key (mTLS).")
    ssl_password: SecretStr | None = Field(None, description="Password of the client key.")
    sasl_password_file: str | None = Field(
        None, description="File holding the SASL password (a mounted secret), if SASL_PASSWORD is unset."
    )
    ssl_password_file: str | None = Field(
        None, description="File holding the client key password, if SSL_PASSWORD is unset."
    )

    # --- Input limits and delivery ------------------------------------------------------------
    max_message_bytes: int = Field(
        1_048_576,
        ge=1024,
        description="Larger messages are dead-lettered as oversized (Kafka's usual 1 MiB message "
        "limit); a well-formed call below it is scored whatever its prompt's length.",
    )
    dedup_window_events: int = Field(
        500_000, ge=0, description="Recent event_ids remembered to drop redeliveries (0 = off)."
    )

    # --- Per-account state --------------------------------------------------------------------
    window_seconds: int = Field(
        6 * 3600, ge=600, description="Length of the rolling window reported in alerts."
    )
    half_life_seconds: float = Field(
        3600.0, gt=0, description="Half-life of the decayed per-account rates and shares."
    )
    baseline_half_life_seconds: float = Field(
        3 * 86400.0, gt=0, description="Half-life of each account's own long-run baseline."
    )
    account_ttl_seconds: int = Field(
        7 * 86400, ge=3600, description="Accounts idle this long (event time) are forgotten."
    )
    max_accounts: int = Field(
        2_000_000, ge=1, description="Hard cap on tracked accounts; least recently seen evicted."
    )
    state_changelog: bool = Field(
        True,
        description="Checkpoint account state to the compacted topic `<group_id>-accounts-changelog`, "
        "restored on partition assignment.",
    )

    # --- Scoring and alerting -----------------------------------------------------------------
    score_every_events: int = Field(
        25, ge=1, description="An account is re-scored by the learners every N of its events ..."
    )
    score_every_seconds: float = Field(
        600.0, gt=0, description="... or when this much event time passed since its last score."
    )
    score_end_users: bool = Field(
        True,
        description="Score each (account, end_user_id) pair of a shared account as a sub-account of "
        "its own and name the end user in its alerts.",
    )
    min_events_to_alert: int = Field(
        20, ge=1, description="No alert before an account has this many events in its window."
    )
    population_sample_seconds: float = Field(
        1800.0,
        gt=0,
        description="Each account teaches the population model at most once per this much event time.",
    )
    hst_trees: int = Field(10, ge=1, description="HalfSpaceTrees: number of trees.")
    hst_height: int = Field(8, ge=2, le=12, description="HalfSpaceTrees: tree height.")
    hst_window_size: int = Field(250, ge=10, description="HalfSpaceTrees: reference window.")
    alert_threshold: float = Field(
        0.6, ge=0, le=1, description="Fused score at which an alert is raised (severity low)."
    )
    severity_medium: float = Field(0.7, ge=0, le=1, description="Score for severity medium.")
    severity_high: float = Field(0.8, ge=0, le=1, description="Score for severity high.")
    severity_critical: float = Field(0.9, ge=0, le=1, description="Score for severity critical.")
    cooldown_seconds: int = Field(
        6 * 3600,
        ge=60,
        description="An account alerts again at equal severity only after this much event time.",
    )
    coordination_mode: Literal["inline", "topic", "off"] = Field(
        "inline",
        description="Cross-account (hydra) stage: `inline` in this process; `topic` = publish "
        "fingerprints to FINGERPRINTS_TOPIC for `detector coordinate` (scaled-out groups); `off`.",
    )
    fingerprints_topic: str = Field(
        "extraction-detector-fingerprints",
        description="Internal topic from the account stage to the coordination stage (topic mode).",
    )
    coordination_suspicion: float = Field(
        2.0,
        ge=0,
        description="Own extraction evidence (log-odds) above which an account joins the cross-account stage.",
    )
    coordination_changelog: bool = Field(
        True,
        description="Checkpoint the coordination stage's campaigns and members to the compacted topic "
        "`<group_id>-campaigns-changelog` (`<group_id>-coordination-campaigns-changelog` for "
        "`detector coordinate`), restored on partition assignment: a campaign keeps its alert_id "
        "and revisions through restarts.",
    )
    coordination_ttl_seconds: float = Field(
        24 * 3600.0,
        gt=0,
        description="A suspicious account leaves its clusters after this much idle event time.",
    )

    # --- Alert lifecycle and analyst feedback (issue 10) -------------------------------------
    close_after_seconds: float = Field(
        6 * 3600.0,
        gt=0,
        description="An open alert episode is closed (`status: closed`, `subsided`) after this much event "
        "time without the account scoring at or above the alert threshold.",
    )
    verdicts_topic: str = Field(
        "extraction-verdicts",
        description="Analyst verdicts and workload declarations, keyed by account_id and partitioned like "
        "the events topic (consumed in the same group, so a verdict reaches the account's owner).",
    )
    consume_verdicts: bool = Field(
        True, description="Subscribe to VERDICTS_TOPIC beside the events topic (`detector run`)."
    )
    declarations_file: str | None = Field(
        None,
        description="JSON/JSONL file of workload declarations read at start (same contract as on the "
        "verdicts topic); the file stays the source of truth, so these are not checkpointed.",
    )
    verdict_rescore_margin: float = Field(
        1.0,
        ge=0,
        description="A false-positive or allowlisted account alerts again when its score's log-odds rise "
        "this much above the score the verdict was given at, both taken at most 0.999 (or a new top signal appears).",
    )
    allowlist_default_seconds: float = Field(
        30 * 86400.0, gt=0, description="How long an `allowlisted` verdict without `until` lasts."
    )
    feedback_max_logodds: float = Field(
        1.5,
        ge=0,
        description="Cap of the analyst-feedback classifier's term on the fused score (log-odds, both ways).",
    )
    feedback_min_examples: int = Field(
        4,
        ge=1,
        description="Verdicts (at least one of each kind) the feedback classifier needs before it counts.",
    )
    seed: int = Field(7, description="Seed of the learners' randomness (replays are deterministic).")

    # --- Alert formats (what the alerts topic carries; detector/formats/) ---------------------
    alert_format: Literal["native", "ocsf"] = Field(
        "native",
        description="Alert message body: `native` = alert v1 JSON; `ocsf` = an OCSF 1.5.0 Detection "
        "Finding (class 2004) of the same alert (also for `detector replay --output`).",
    )
    cloudevents_headers: bool = Field(
        False, description="Add CloudEvents 1.0 Kafka binary-mode headers (`ce_*`) to alert messages."
    )
    cloudevents_source: str | None = Field(
        None, description="CloudEvents `ce_source` of alerts; unset = `/extraction-detector/<group_id>`."
    )
    ocsf_vendor_name: str = Field(
        "extraction-detector", description="`metadata.product.vendor_name` of OCSF findings."
    )

    # --- Operations ---------------------------------------------------------------------------
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="Log level.")
    log_format: Literal["json", "console"] = Field("json", description="Log line format.")
    metrics_port: int = Field(
        9108,
        ge=0,
        le=65535,
        description="HTTP port of /metrics (Prometheus), /healthz and /readyz (0 = off).",
    )
    topic_partitions: int = Field(
        12, ge=1, description="Partitions used by `detector create-topics` (= max workers)."
    )
    topic_replication_factor: int = Field(
        1, ge=1, description="Replication factor used by `detector create-topics`."
    )
    liveness_timeout_seconds: float = Field(
        120.0, gt=0, description="/healthz fails when the worker loop has not turned for this long."
    )

    @model_validator(mode="after")
    def _read_secret_files(self) -> Settings:
        """Secrets may come from files (mounted Kubernetes/Docker secrets) instead of variables."""
        for secret, path in (
            ("sasl_password", self.sasl_password_file),
            ("ssl_password", self.ssl_password_file),
        ):
            if path and getattr(self, secret) is None:
                try:
                    value = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
                except OSError as exc:
                    raise ValueError(f"{secret}_file {path!r} cannot be read: {exc.strerror}") from None
                setattr(self, secret, SecretStr(value))
        return self

    def kafka_common_config(self) -> dict[str, Any]:
        """Connection and security options shared by the consumer, producer and admin client."""
        config: dict[str, Any] = {
            "bootstrap_servers": [s.strip() for s in self.bootstrap_servers.split(",") if s.strip()],
            "client_id": self.client_id,
            "security_protocol": self.security_protocol,
        }
        if self.sasl_mechanism is not None:
            config["sasl_mechanism"] = self.sasl_mechanism
            config["sasl_plain_username"] = self.sasl_username
            config["sasl_plain_password"] = (
                self.sasl_password.get_secret_value() if self.sasl_password else None
            )
        optional_ssl = {
            "ssl_cafile": self.ssl_cafile,
            "ssl_certfile": self.ssl_certfile,
            "ssl_keyfile": self.ssl_keyfile,
            "ssl_password": self.ssl_password.get_secret_value() if self.ssl_password else None,
        }
        config.update({k: v for k, v in optional_ssl.items() if v is not None})
        return config
