"""The /metrics counters an operator alerts on: each command is counted by name and outcome."""

from __future__ import annotations

import pytest

from tocns.core.metrics import Metrics


def test_commands_are_counted_by_name_and_outcome(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)  # this process's figures, not a worker pool's
    metrics = Metrics()
    metrics.observe_command("ghi", "ok")
    metrics.observe_command("ghi", "ok")
    metrics.observe_command("ghi", "refused")
    text = metrics.exposition().decode()
    assert 'tocns_commands_total{name="ghi",outcome="ok"} 2.0' in text
    assert 'tocns_commands_total{name="ghi",outcome="refused"} 1.0' in text
