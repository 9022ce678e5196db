"""Cin7 Omni API simulator: ``create_app(store, config)`` over ``generate(seed, scale)``."""

from omni2qbd_sims.cin7.app import SimConfig, create_app
from omni2qbd_sims.cin7.dates import DateForm
from omni2qbd_sims.cin7.faults import FaultRule
from omni2qbd_sims.cin7.generator import describe, generate
from omni2qbd_sims.cin7.store import Cin7Store

__all__ = ["Cin7Store", "DateForm", "FaultRule", "SimConfig", "create_app", "describe", "generate"]
