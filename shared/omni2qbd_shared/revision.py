"""A document revision is the sha256 of its canonical JSON (docs/design.md §2).

The fetcher stamps it on each document and the mapper recomputes it when a caller gives none:
one definition, so both always agree.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any


def canonical_json(payload: Mapping[str, Any]) -> str:
    # Sorted keys and no whitespace: the same content always gives the same bytes.
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def revision_of(payload: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()
