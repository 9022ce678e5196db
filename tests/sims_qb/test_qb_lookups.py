"""The simulator's cheaper lookups answer what the code they replaced answered: child
lookups by ``iterchildren`` against lxml's ElementPath ``find``/``findtext``, and the US rule
check (a tree of the rule paths) against a walk of every element's path."""

from __future__ import annotations

import random

import pytest
from lxml import etree

from omni2qbd_sims.quickbooks import statuses, us_rules
from omni2qbd_sims.quickbooks.qbtext import find1, findtext1, findtext2
from omni2qbd_sims.quickbooks.xsd_order import ref_names

_TAGS = ("A", "B", "ListID", "FullName")


def _random_tree(rng: random.Random, depth: int = 0) -> etree._Element:
    element = etree.Element(rng.choice(_TAGS))
    element.text = rng.choice([None, "", "x", " y "])
    for _ in range(rng.randint(0, 4) if depth < 3 else 0):
        if rng.random() < 0.15:
            element.append(etree.Comment("c"))
        else:
            element.append(_random_tree(rng, depth + 1))
    return element


def test_child_lookups_answer_what_elementpath_answers() -> None:
    rng = random.Random(15)
    for _ in range(400):
        tree = _random_tree(rng)
        for tag in _TAGS:
            assert find1(tree, tag) is tree.find(tag)
            assert findtext1(tree, tag) == tree.findtext(tag)
            for inner in _TAGS:
                assert findtext2(tree, tag, inner) == tree.findtext(f"{tag}/{inner}")


def _scan_check(rq: etree._Element) -> None:
    """The check as it was: every element's path, in document order."""
    rules = us_rules._table().get(str(rq.tag))
    if rules is None:
        return
    limits, unsupported = rules["max_length"], set(rules["not_in_qbd_us"])

    def walk(element: etree._Element, prefix: str) -> None:
        for child in element:
            if not isinstance(child.tag, str):
                continue
            path = f"{prefix}{child.tag}"
            if path in unsupported:
                raise statuses.RequestFailed(us_rules.NOT_AVAILABLE, path)
            limit, text = limits.get(path), child.text or ""
            if limit is not None and not len(child) and len(text) > limit:
                raise statuses.RequestFailed(us_rules.STRING_TOO_LONG, f"{child.tag} {text}")
            walk(child, f"{path}/")

    walk(rq, "")


def _outcome(check: object, rq: etree._Element) -> tuple[int, str] | None:
    try:
        check(rq)  # type: ignore[operator]
    except statuses.RequestFailed as failure:
        return failure.status.code, failure.status.message
    return None


@pytest.mark.parametrize("request_tag", ["InvoiceAddRq", "BillAddRq", "JournalEntryAddRq"])
def test_the_us_rule_tree_refuses_what_the_path_walk_refused(request_tag: str) -> None:
    rules = us_rules._table()[request_tag]
    paths = sorted({*rules["max_length"], *rules["not_in_qbd_us"]})
    rng = random.Random(request_tag)
    for _ in range(300):
        rq = etree.Element(request_tag)
        for path in rng.sample(paths, rng.randint(1, 6)):
            at = rq
            for name in path.split("/"):
                found = at.find(name) if rng.random() < 0.7 else None
                at = found if found is not None else etree.SubElement(at, name)
            limit = rules["max_length"].get(path, 10)
            at.text = "x" * (limit + rng.choice([-1, 0, 1]))
        expected = _outcome(_scan_check, rq)
        got = _outcome(us_rules.check_request, rq)
        assert (got[0] if got else None) == (expected[0] if expected else None)
        if got is not None and expected is not None and got[0] == us_rules.NOT_AVAILABLE:
            assert got[1].endswith(
                f"The element {expected[1]} is not supported by US QuickBooks Desktop."
            )


def test_ref_names_cover_the_refs_the_simulator_writes() -> None:
    names = set(ref_names())
    written = {"CustomerRef", "ItemRef", "TemplateRef", "ItemSalesTaxRef", "SalesTaxCodeRef"}
    assert written | {"CustomerSalesTaxCodeRef", "ARAccountRef", "APAccountRef"} <= names
    assert all(name.endswith("Ref") for name in names)
