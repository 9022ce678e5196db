"""Mapper benchmark: ten-line sales orders mapped and rendered per second on one core.

Beside it, the ceiling: the same InvoiceAdd request built with bare lxml from the raw
document (no rules, no validation, no models). Then memory over many documents, to show it
stays flat (nothing accumulates per document).

    .venv/bin/python bench/mapper.py                      # throughput, 20,000 documents
    .venv/bin/python bench/mapper.py --memory 100000      # + memory over 100,000 documents
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import time
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from lxml import etree

from omni2qbd_mapper.mapping import map_document
from omni2qbd_mapper.preview import preview_request_id
from omni2qbd_shared.qbxml.message_set import message_set, with_request_id
from omni2qbd_shared.qbxml.render import render_add
from omni2qbd_shared.qbxml.schema import validation_errors
from omni2qbd_shared.tenant_settings import TenantSettings

CENT = Decimal("0.01")


def sales_order(n: int, rng: random.Random) -> dict[str, Any]:
    lines = []
    product_total = Decimal(0)
    for i in range(10):
        qty = Decimal(rng.randint(1, 20))
        price = Decimal(rng.randint(100, 99_999)) / 100
        product_total += (qty * price).quantize(CENT, ROUND_HALF_UP)
        lines.append(
            {
                "id": n * 10 + i,
                "code": f"SKU-{rng.randint(1, 500)}",
                "name": f"Product {i}",
                "qty": float(qty),
                "unitPrice": float(price),
                "unitCost": float((price * Decimal("0.4")).quantize(CENT)),
                "discount": 0.0,
                "qtyShipped": float(qty),
            }
        )
    tax = (product_total * Decimal("0.0825")).quantize(CENT, ROUND_HALF_UP)
    return {
        "id": n,
        "reference": f"SO-{n}",
        "memberId": n % 300,
        "company": f"Customer {n % 300}",
        "status": "APPROVED",
        "taxStatus": "Excl",
        "taxRate": 8.25,
        "productTotal": float(product_total),
        "freightTotal": 12.5,
        "total": float(product_total + Decimal("12.5") + tax),
        "invoiceDate": "2026-05-12T15:00:00Z",
        "dispatchedDate": "2026-05-12T15:00:00Z",
        "invoiceNumber": n,
        "customerOrderNo": f"PO-{n}",
        "lineItems": lines,
    }


def ours(doc: dict[str, Any], settings: TenantSettings) -> str:
    result = map_document("sales_order", doc, settings, tenant_id="bench", revision="r1")
    return message_set(
        "13.0", [with_request_id(render_add(e), preview_request_id(e)) for e in result.entries]
    )


def bare_lxml(doc: dict[str, Any]) -> str:
    """The ceiling: an InvoiceAdd written straight from the document, nothing checked."""
    root = etree.Element("QBXML")
    msgs = etree.SubElement(root, "QBXMLMsgsRq", onError="continueOnError")
    rq = etree.SubElement(msgs, "InvoiceAddRq", requestID="1")
    add = etree.SubElement(rq, "InvoiceAdd")
    etree.SubElement(etree.SubElement(add, "CustomerRef"), "FullName").text = doc["company"]
    etree.SubElement(add, "TxnDate").text = doc["invoiceDate"][:10]
    etree.SubElement(add, "RefNumber").text = doc["reference"]
    for line in doc["lineItems"]:
        node = etree.SubElement(add, "InvoiceLineAdd")
        etree.SubElement(etree.SubElement(node, "ItemRef"), "FullName").text = line["code"]
        etree.SubElement(node, "Desc").text = line["name"]
        etree.SubElement(node, "Quantity").text = str(line["qty"])
        etree.SubElement(node, "Rate").text = str(line["unitPrice"])
        etree.SubElement(node, "Amount").text = f"{line['qty'] * line['unitPrice']:.2f}"
    body = etree.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="utf-8"?>\n<?qbxml version="13.0"?>\n{body}'


def rate(fn: Any, docs: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    for doc in docs:
        fn(doc)
    return len(docs) / (time.perf_counter() - started)


def rss_mib() -> float:
    with open(f"/proc/{os.getpid()}/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--documents", type=int, default=20_000)
    parser.add_argument("--memory", type=int, default=0, help="documents for the memory run")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    rng = random.Random(7)
    settings = TenantSettings()
    docs = [sales_order(n, rng) for n in range(args.documents)]
    sample = ours(docs[0], settings)
    assert validation_errors(sample, "13.0") == [], "rendered message set must validate"
    for fn in (lambda d: ours(d, settings), bare_lxml):  # warm up
        rate(fn, docs[:200])
    mapped = rate(lambda d: ours(d, settings), docs)
    ceiling = rate(bare_lxml, docs)
    print(f"documents: {args.documents} ten-line sales orders, one core")
    print(f"map + render + message set: {mapped:,.0f} documents/s")
    print(f"bare lxml InvoiceAdd (ceiling): {ceiling:,.0f} documents/s")
    print(f"ratio: {mapped / ceiling:.1%} of the ceiling")
    if args.memory:
        gc.collect()
        start = rss_mib()
        samples = []
        for n in range(args.memory):
            ours(sales_order(n, rng), settings)
            if (n + 1) % (args.memory // 10) == 0:
                samples.append(rss_mib())
        print(
            f"memory over {args.memory:,} documents: start {start:.1f} MiB, "
            + ", ".join(f"{s:.1f}" for s in samples)
            + " MiB"
        )
        print(f"growth after the first tenth: {samples[-1] - samples[0]:+.1f} MiB")


if __name__ == "__main__":
    main()
