"""Fixtures of the Cin7 tests live in ``cin7_testkit`` (a unique name other areas can't shadow)."""

from tests.cin7.cin7_testkit import _shared_sim, fresh_sim, make_client, sim

__all__ = ["_shared_sim", "fresh_sim", "make_client", "sim"]
