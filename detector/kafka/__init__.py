"""The only package that imports kafka-python: consumer source, producer sink, state changelog,
topic admin, and the wiring of a production worker."""

from detector.kafka.changelog import COORDINATION_STORE, ChangelogState, changelog_topic
from detector.kafka.client import (
    ChangelogTopicError,
    EventPublisher,
    KafkaSink,
    KafkaSource,
    TopicReader,
    create_topics,
    dead_letter_headers,
    ensure_changelog_topic,
)
from detector.kafka.coordination_changelog import CoordinationChangelog, coordination_changelog_topic
from detector.kafka.delivery import DeliveryError
from detector.kafka.retry import Retry
from detector.kafka.worker import KafkaWorker, start_worker

__all__ = [
    "COORDINATION_STORE",
    "ChangelogState",
    "ChangelogTopicError",
    "CoordinationChangelog",
    "DeliveryError",
    "EventPublisher",
    "KafkaSink",
    "KafkaSource",
    "KafkaWorker",
    "Retry",
    "TopicReader",
    "changelog_topic",
    "coordination_changelog_topic",
    "create_topics",
    "dead_letter_headers",
    "ensure_changelog_topic",
    "start_worker",
]
