from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from omni2qbd_sims.quickbooks import CompanyFile, QuickBooksSimulator


class SteppingClock:
    """A clock tests move by hand, so modification times are deterministic."""

    def __init__(self) -> None:
        self.now = datetime(2024, 6, 3, 9, 0, 0, tzinfo=ZoneInfo("America/New_York"))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


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
    from sims_qb_helpers import message_set

    def _send(*requests: str, **kwargs: str) -> str:
        return demo.process_request(message_set(*requests, **kwargs))

    return _send
