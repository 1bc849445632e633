"""`detector report`: alerts (and the simulator's labels) as one self-contained HTML page.

Pure: ``render_report(alerts, labels, summaries) -> str``; the callers read and write files.
"""

from detector.report.data import Labels, parse_alerts
from detector.report.page import render_report

__all__ = ["Labels", "parse_alerts", "render_report"]
