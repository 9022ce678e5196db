"""Child-element order of qbXML aggregates, read from Intuit's XSDs.

QuickBooks answers with aggregates whose children follow the schema's ``xsd:sequence``
order. Rather than hand-writing the order of ~40 Ret aggregates, the simulator builds a
Ret from whatever it knows and then sorts (and prunes) the children by the order the XSD
declares, so every response it writes is valid against the XSD of the request's version.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from lxml import etree

from omni2qbd_shared.qbxml.schema import SUPPORTED_VERSIONS, XSD_DIR

_XS = "{http://www.w3.org/2001/XMLSchema}"


class _SchemaIndex:
    """Global elements, complex types, groups, and local element types of one version."""

    def __init__(self, version: str) -> None:
        digits = version.replace(".", "")
        self.elements: dict[str, etree._Element] = {}
        self.types: dict[str, etree._Element] = {}
        self.groups: dict[str, etree._Element] = {}
        # Local elements (name= inside a type) that carry a complex type, e.g. the
        # ``HostQueryRs`` children of QBXMLMsgsRs declared with type="HostQueryRsType".
        self.local_types: dict[str, etree._Element] = {}
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        for stem in ("qbxmltypes", "qbxml", "qbxmlso", "qbxmlops"):
            path = XSD_DIR / version / f"{stem}{digits}.xsd"
            root = etree.parse(str(path), parser=parser).getroot()
            for node in root:
                if not isinstance(node.tag, str):
                    continue
                name = node.get("name")
                if name is None:
                    continue
                if node.tag == f"{_XS}element":
                    self.elements[name] = node
                elif node.tag == f"{_XS}complexType":
                    self.types[name] = node
                elif node.tag == f"{_XS}group":
                    self.groups[name] = node
        for type_node in list(self.types.values()) + list(self.elements.values()):
            for local in type_node.iter(f"{_XS}element"):
                name = local.get("name")
                if name is None or local is type_node:
                    continue
                complex_node = self._complex_of(local)
                if complex_node is not None:
                    self.local_types.setdefault(name, complex_node)

    def _complex_of(self, element: etree._Element) -> etree._Element | None:
        type_name = element.get("type")
        if type_name is not None:
            return self.types.get(type_name)
        return element.find(f"{_XS}complexType")

    def complex_for(self, name: str) -> etree._Element | None:
        element = self.elements.get(name)
        if element is not None:
            found = self._complex_of(element)
            if found is not None:
                return found
        return self.local_types.get(name)

    def child_order(self, name: str) -> list[str]:
        complex_node = self.complex_for(name)
        if complex_node is None:
            return []
        names: list[str] = []
        self._walk(complex_node, names)
        return names

    def _walk(self, node: etree._Element, out: list[str]) -> None:
        for child in node:
            if not isinstance(child.tag, str):
                continue
            tag = child.tag[len(_XS) :] if child.tag.startswith(_XS) else child.tag
            if tag in ("sequence", "choice", "all", "complexContent", "simpleContent"):
                self._walk(child, out)
            elif tag == "extension":
                base = self.types.get(child.get("base", ""))
                if base is not None:
                    self._walk(base, out)
                self._walk(child, out)
            elif tag == "group":
                group = self.groups.get(child.get("ref", ""))
                if group is not None:
                    self._walk(group, out)
            elif tag == "element":
                child_name = child.get("ref") or child.get("name")
                if child_name and child_name not in out:
                    out.append(child_name)


@functools.cache
def _index(version: str) -> _SchemaIndex:
    return _SchemaIndex(version)


@functools.cache
def child_order(element_name: str, version: str) -> tuple[str, ...]:
    """The names of the children ``element_name`` may have, in schema order."""
    return tuple(_index(version).child_order(element_name))


def allowed_children(element_name: str, version: str) -> frozenset[str]:
    return frozenset(child_order(element_name, version))


@functools.cache
def ref_names() -> tuple[str, ...]:
    """Every element name ending in ``Ref`` that the XSDs of the supported versions declare:
    the refs a valid request (or a Ret the simulator builds) can hold, for ``iter(*names)``,
    which finds them without visiting every element in Python."""
    names: set[str] = set()
    for version in SUPPORTED_VERSIONS:
        index = _index(version)
        for node in (*index.types.values(), *index.elements.values(), *index.groups.values()):
            for element in node.iter(f"{_XS}element"):
                name = element.get("name") or element.get("ref") or ""
                if name.endswith("Ref"):
                    names.add(name)
        names.update(name for name in index.elements if name.endswith("Ref"))
    return tuple(sorted(names))


_SAME_CHOICE = {
    "JournalCreditLine": "JournalDebitLine",
    "InvoiceLineGroupRet": "InvoiceLineRet",
    "CreditMemoLineGroupRet": "CreditMemoLineRet",
}


@functools.cache
def _rank(element_name: str, version: str) -> dict[str, int]:
    """Each allowed child's place in schema order (one dict per aggregate and version)."""
    rank = {name: i for i, name in enumerate(child_order(element_name, version))}
    # Members of one repeating choice keep the order they came in (the sort is stable):
    # a JournalEntryRet lists its debit and credit lines in the request's order.
    for member, leader in _SAME_CHOICE.items():
        if member in rank and leader in rank:
            rank[member] = rank[leader]
    return rank


def sort_children(element: etree._Element, version: str, *, prune: bool = True) -> None:
    """Reorder ``element``'s children (recursively) into schema order.

    With ``prune``, children the schema does not allow under this aggregate are dropped:
    that is how an ``InvoiceAdd`` turns into an ``InvoiceRet`` without, say, its
    ``LinkToTxnID`` elements. Aggregates the schema does not describe are left untouched.
    """
    rank = _rank(str(element.tag), version)
    children = [c for c in element if isinstance(c.tag, str)]
    for child in children:
        if len(child) and not _plain_ref(child, version):
            sort_children(child, version, prune=prune)
    if not rank:
        return
    last = len(rank)
    ranks = [rank.get(str(c.tag), last) for c in children]
    if last not in ranks and ranks == sorted(ranks):
        return  # already in schema order, nothing to prune: the result would be the same
    keep: list[etree._Element] = []
    for child in children:
        if str(child.tag) in rank or not prune:
            keep.append(child)
        element.remove(child)
    keep.sort(key=lambda c: rank.get(str(c.tag), last))
    for child in keep:
        element.append(child)


def _plain_ref(element: etree._Element, version: str) -> bool:
    """A ref that is just ListID then FullName (two leaves), which its schema keeps as it is:
    sorting it would change nothing (most nested aggregates of a Ret are such refs)."""
    if len(element) != 2:
        return False
    first, second = element[0], element[1]
    return (
        first.tag == "ListID"
        and second.tag == "FullName"
        and not len(first)
        and not len(second)
        and _ref_order_kept(str(element.tag), version)
    )


@functools.cache
def _ref_order_kept(element_name: str, version: str) -> bool:
    rank = _rank(element_name, version)
    if not rank:
        return True  # an aggregate the schema does not describe is left untouched
    return "ListID" in rank and "FullName" in rank and rank["ListID"] <= rank["FullName"]


def keep_only(element: etree._Element, names: Iterable[str]) -> None:
    """Apply ``IncludeRetElement``: keep only the named children of a Ret."""
    wanted = set(names)
    for child in list(element):
        if isinstance(child.tag, str) and child.tag not in wanted:
            element.remove(child)
