from __future__ import annotations

from collections.abc import Callable

import pytest

from omni2qbd_sims.quickbooks import CompanyFile, QuickBooksSimulator
from tests.sims_qb.sims_qb_helpers import SteppingClock, message_set


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock()


@pytest.fixture
def sim(clock: SteppingClock) -> QuickBooksSimulator:
    return QuickBooksSimulator(clock=clock)


@pytest.fixture
def demo(sim: QuickBooksSimulator) -> CompanyFile:
    return sim.company("Demo", seed_demo=True)


@pytest.fixture
def send(demo: CompanyFile) -> Callable[..., str]:

    def _send(*requests: str, **kwargs: str) -> str:
        return demo.process_request(message_set(*requests, **kwargs))

    return _send
