"""Streaming detector of model-extraction (distillation) campaigns against LLM APIs."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("extraction-detector")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"
