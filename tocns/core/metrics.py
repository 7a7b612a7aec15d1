"""Prometheus metrics of the bot, in one registry served at /metrics."""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess


class Metrics:
    """The bot's counters; the sender observes `send_latency`, the router feeds `commands`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.updates_received = Counter(
            "tocns_updates_received",
            "Updates received from platforms (webhook or polling)",
            ["platform", "outcome"],
            registry=self.registry,
        )
        self.commands = Counter(
            "tocns_commands", "Commands handled, by name and outcome", ["name", "outcome"], registry=self.registry
        )
        self.errors = Counter("tocns_errors", "Errors, by where they happened", ["kind"], registry=self.registry)
        # Set by whichever worker answers the scrape; with several workers the latest value is the one to show.
        self.outbox_depth = Gauge(
            "tocns_outbox_depth",
            "Outbox messages waiting to be sent",
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )
        # The inbound queue: updates stored and not processed yet (a backlog that does not shrink means the
        # processing loop cannot reach the database), and updates parked for the operator (`tocns inbound failed`).
        self.inbound_backlog = Gauge(
            "tocns_inbound_backlog",
            "Inbound updates stored and waiting to be processed (including retries waiting out their backoff)",
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )
        self.inbound_parked = Gauge(
            "tocns_inbound_parked",
            "Inbound updates parked after their last attempt failed (tocns inbound failed / retry)",
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )
        # 1 while a platform refused the bot's token (401) and its sending is stopped: alert on it.
        self.channel_stopped = Gauge(
            "tocns_channel_stopped",
            "1 when a platform refused the bot token and sending to it stopped",
            ["platform"],
            registry=self.registry,
            multiprocess_mode="max",
        )
        self.send_latency = Histogram(
            "tocns_send_latency_seconds",
            "Time from enqueue to delivery of an outbox message",
            ["platform"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
            registry=self.registry,
        )

    def observe_command(self, name: str, outcome: str) -> None:
        """Router observer: count one command."""
        self.commands.labels(name, outcome).inc()

    def exposition(self) -> bytes:
        """The metrics in Prometheus text format: this process's, or every worker's added up when `tocns serve`
        runs several (each then writes its values under PROMETHEUS_MULTIPROC_DIR)."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)


METRICS = Metrics()
"""The process-wide metrics."""
