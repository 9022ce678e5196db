from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest

from omni2qbd_sims.quickbooks import QuickBooksSimulator
from omni2qbd_sims.quickbooks.serving import running_server
from tests.sims_wc.sims_wc_gateway import Plan, TestGateway

DEMO = "C:\\Companies\\Demo.qbw"


@pytest.fixture
def qb() -> QuickBooksSimulator:
    sim = QuickBooksSimulator()
    sim.company(DEMO, seed_demo=True)
    return sim


@pytest.fixture
def gateway() -> Callable[[dict[str, Plan]], AbstractContextManager[tuple[TestGateway, str]]]:
    @contextmanager
    def start(plans: dict[str, Plan]) -> Iterator[tuple[TestGateway, str]]:
        service = TestGateway(plans)
        with running_server(service.app) as base:
            yield service, f"{base}/qbwc"

    return start
