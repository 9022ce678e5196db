"""One XML parser configuration for everything that reads XML from outside.

SOAP envelopes from the Web Connector and qbXML responses from QuickBooks are untrusted
input: entity expansion, DTD loading and network access are off, and the size is capped
before the parser ever sees the bytes.
"""

from __future__ import annotations

from lxml import etree

DEFAULT_MAX_XML_BYTES = 10 * 1024 * 1024


class UnsafeXmlError(ValueError):
    """Raised when XML input is too large, malformed or declares a DTD/entities."""


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
    )


def parse_xml(data: bytes | str, *, max_bytes: int = DEFAULT_MAX_XML_BYTES) -> etree._Element:
    """Parse untrusted XML and return its root element.

    A document with a DOCTYPE is refused outright: neither SOAP nor qbXML responses carry
    one, and refusing it closes the door on entity tricks.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > max_bytes:
        raise UnsafeXmlError(f"XML document is {len(raw)} bytes; the limit is {max_bytes}")
    try:
        root = etree.fromstring(raw, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise UnsafeXmlError(f"XML is not well-formed: {exc}") from exc
    doctype: str = getattr(root.getroottree().docinfo, "doctype", "")
    if doctype:
        raise UnsafeXmlError("XML documents with a DOCTYPE are not accepted")
    return root
