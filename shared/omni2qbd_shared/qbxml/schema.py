"""Intuit's qbXML XSDs (copied byte for byte into ``xsd/``) and validation against them."""

from __future__ import annotations

import functools
import re
from pathlib import Path

from lxml import etree

from omni2qbd_shared.xmlsafe import parse_xml

XSD_DIR = Path(__file__).parent / "xsd"
SUPPORTED_VERSIONS = ("13.0", "16.0")
_QBXML_PI = re.compile(r'<\?qbxml\s+version\s*=\s*"(?P<version>[0-9.]+)"\s*\?>')


class UnsupportedQbxmlVersion(ValueError):
    pass


@functools.cache
def schema_for(version: str) -> etree.XMLSchema:
    """The compiled schema for a qbXML version ("13.0" or "16.0"), loaded once per process."""
    if version not in SUPPORTED_VERSIONS:
        raise UnsupportedQbxmlVersion(
            f"qbXML version {version!r} is not supported; use one of {SUPPORTED_VERSIONS}"
        )
    digits = version.replace(".", "")
    entry = XSD_DIR / version / f"qbxmlops{digits}.xsd"
    # The XSDs are our own files on disk; include resolution must stay on for them.
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.XMLSchema(etree.parse(str(entry), parser=parser))


def declared_version(document: str | bytes) -> str | None:
    """The version in a ``<?qbxml version="..."?>`` processing instruction, if any."""
    text = document.decode("utf-8", "replace") if isinstance(document, bytes) else document
    match = _QBXML_PI.search(text[:512])
    return match.group("version") if match else None


def validation_errors(document: str | bytes, version: str | None = None) -> list[str]:
    """Validate a complete qbXML document; return readable errors (empty when valid)."""
    version = version or declared_version(document)
    if version is None:
        return ['missing <?qbxml version="..."?> processing instruction']
    root = parse_xml(document)
    schema = schema_for(version)
    if schema.validate(root.getroottree()):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log]  # type: ignore[attr-defined]


def is_valid(document: str | bytes, version: str | None = None) -> bool:
    return not validation_errors(document, version)
