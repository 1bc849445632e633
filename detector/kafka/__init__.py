"""The only package that imports kafka-python: consumer source, producer sink, topic admin."""

from detector.kafka.client import (
    EventPublisher,
    KafkaSink,
    KafkaSource,
    TopicReader,
    create_topics,
    dead_letter_headers,
)

__all__ = [
    "EventPublisher",
    "KafkaSink",
    "KafkaSource",
    "TopicReader",
    "create_topics",
    "dead_letter_headers",
]
