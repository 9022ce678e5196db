"""The fetcher reads its options from the one settings model, namespace included."""

from __future__ import annotations

import pytest

from omni2qbd_fetcher.options import FetcherOptions
from omni2qbd_shared.config import AppSettings


def test_fetcher_uses_the_stack_namespace_and_its_tuning_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OMNI2QBD_AMQP_NAMESPACE", "stack-b")
    monkeypatch.setenv("OMNI2QBD_FETCHER_WORKERS", "3")
    monkeypatch.setenv("OMNI2QBD_FETCHER_CIN7_LIMITS", "off")
    monkeypatch.setenv("OMNI2QBD_FETCHER_TOPOLOGY_NAMESPACE", "another-stack")  # no longer read
    settings = AppSettings()
    options = FetcherOptions.from_settings(settings)
    assert options.workers == 3
    assert options.cin7_limits is None
    topology = options.topology(settings)
    assert topology.namespace == "stack-b"
    assert topology.exchange_name("cin7.documents").startswith("stack-b")
