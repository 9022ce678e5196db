"""QuickBooks Web Connector simulator: drives a gateway over SOAP exactly as QBWC 2.x does.

See docs/simulators.md for what it reproduces and what it does not.
"""

from omni2qbd_sims.webconnector.report import ConnectionErrorCall, SessionReport
from omni2qbd_sims.webconnector.simulator import WebConnectorSimulator

__all__ = ["ConnectionErrorCall", "SessionReport", "WebConnectorSimulator"]
