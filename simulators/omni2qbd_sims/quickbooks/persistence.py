"""Keep simulated company files between runs (the demo re-runs against the same QuickBooks).

The file is the simulator's own, written and read only by it on the same machine, so
pickle is appropriate; it is never used for anything received from outside.
"""

from __future__ import annotations

import copyreg
import io
import os
import pickle
from pathlib import Path
from typing import Any

from lxml import etree

from omni2qbd_sims.quickbooks.company_file import CompanyFile
from omni2qbd_sims.quickbooks.simulator import QuickBooksSimulator


def _element(xml: bytes) -> etree._Element:
    return etree.fromstring(xml, parser=etree.XMLParser(resolve_entities=False, no_network=True))


def _reduce_element(element: etree._Element) -> tuple[Any, tuple[bytes]]:
    return _element, (etree.tostring(element),)


class _Pickler(pickle.Pickler):
    # lxml elements (transaction bodies) are stored as their XML text.
    dispatch_table = {**copyreg.dispatch_table, etree._Element: _reduce_element}


def save_companies(simulator: QuickBooksSimulator, path: Path) -> None:
    """Write every company file atomically (a crash never leaves half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    companies = simulator.companies()
    temporary = path.with_suffix(path.suffix + ".tmp")
    with temporary.open("wb") as handle:
        for company in companies:
            buffer = io.BytesIO()
            with company.lock:
                _Pickler(buffer).dump(company)
            handle.write(buffer.getvalue())
    os.replace(temporary, path)


def load_companies(simulator: QuickBooksSimulator, path: Path) -> list[CompanyFile]:
    """Put the saved company files back into ``simulator``; none when the file is missing."""
    if not path.exists():
        return []
    loaded: list[CompanyFile] = []
    with path.open("rb") as handle:
        while True:
            try:
                company = pickle.load(handle)  # noqa: S301 - our own file, see module docstring
            except EOFError:
                break
            if not isinstance(company, CompanyFile):
                raise TypeError(f"{path} does not hold QuickBooks simulator company files")
            loaded.append(company)
    simulator.adopt(loaded)
    return loaded
