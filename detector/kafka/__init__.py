"""The only package that imports kafka-python: consumer source, producer sink, state changelog,
topic admin, and the wiring of a production worker."""

from detector.kafka.changelog import ChangelogState, changelog_topic
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
from detector.kafka.delivery import DeliveryError
from detector.kafka.retry import Retry
from detector.kafka.worker import KafkaWorker, start_worker

__all__ = [
    "ChangelogState",
    "ChangelogTopicError",
    "DeliveryError",
    "EventPublisher",
    "KafkaSink",
    "KafkaSource",
    "KafkaWorker",
    "Retry",
    "TopicReader",
    "changelog_topic",
    "create_topics",
    "dead_letter_headers",
    "ensure_changelog_topic",
    "start_worker",
]
