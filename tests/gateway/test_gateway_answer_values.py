"""No answer can lock a tenant out (issue 16 point 3).

Every value the bridge keeps from an answer is checked against what qbXML allows before it
is stored: a ``Z`` TimeModified is normalised to ``+00:00``; a naive one, a 65-character
ListID, a 20-digit statusCode, ``iteratorRemainingCount="²"`` and a version ``1.²`` in
``strHCPResponse`` are refused in words, never stored, never a SOAP fault.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest

from omni2qbd_gateway.lists import cursors
from omni2qbd_gateway.qbxml_io import AnswerRefused, parse_response
from omni2qbd_shared.db.models import QbListItem
from omni2qbd_shared.db.tenancy import scoped
from omni2qbd_sims.quickbooks import QuickBooksSimulator
from omni2qbd_sims.webconnector import soap as wc
from tests.gateway.gateway_helpers import (
    Gateway,
    GatewayTenant,
    add_entries,
    invoice,
    open_tenant,
    outbox_states,
    web_connector,
)


def _once(marker: str, rewrite: Callable[[str], str]) -> Callable[[str], str]:
    done: list[bool] = []

    def apply(response: str) -> str:
        if done or marker not in response:
            return response
        done.append(True)
        return rewrite(response)

    return apply


def _times(suffix: str) -> Callable[[str], str]:
    """Every TimeModified of the answer rewritten with ``suffix`` instead of its offset."""
    return lambda text: re.sub(
        r"<TimeModified>([0-9T:-]{19})[^<]*</TimeModified>",
        lambda m: f"<TimeModified>{m.group(1)}{suffix}</TimeModified>",
        text,
    )


def _long_list_id(text: str) -> str:
    return re.sub(r"<ListID>[^<]*</ListID>", f"<ListID>{'A' * 65}</ListID>", text, count=1)


def _superscript_count(text: str) -> str:
    return text.replace('iteratorRemainingCount="0"', 'iteratorRemainingCount="²"', 1)


def _huge_status(text: str) -> str:
    return re.sub(r'(<InvoiceAddRs [^>]*statusCode=")0"', r'\g<1>12345678901234567890"', text)


async def _session_with(
    gw: Gateway, rewrite: Callable[[str], str], marker: str
) -> tuple[str, QuickBooksSimulator, str]:
    _gw, tenant, qb, path = await open_tenant(gw)
    ids = await add_entries(gw.sessions, tenant.tenant_id, [invoice(tenant.tenant_id, 7)])
    report = await web_connector(
        gw, tenant, qb, path, response_filter=_once(marker, rewrite)
    ).run_session()
    assert report.completed, report.summary()  # no SOAP fault, the run went on
    assert not report.errors, report.errors
    # A later run is not locked out either: it reads the lists again from a valid cursor.
    later = await web_connector(gw, tenant, qb, path).run_session()
    assert not later.errors, later.errors
    states = await outbox_states(gw.sessions, tenant.tenant_id)
    assert states[ids[0]].state == "posted", states[ids[0]].last_status_message
    assert qb.company(path).count_by_ref_number("INV7", "Invoice") == 1
    return tenant.tenant_id, qb, path


async def test_z_time_modified_is_stored_with_an_offset(gw: Gateway) -> None:
    tenant_id, _qb, _path = await _session_with(gw, _times("Z"), "CustomerQueryRs")
    async with gw.sessions() as db:
        stored = {t: c.from_modified for t, c in (await cursors(db, tenant_id)).items()}
    assert stored["customer"] is not None and stored["customer"].endswith("+00:00")
    assert not any(value and value.endswith("Z") for value in stored.values())


async def test_naive_time_modified_is_refused_and_never_stored(gw: Gateway) -> None:
    tenant_id, _qb, _path = await _session_with(gw, _times(""), "CustomerQueryRs")
    async with gw.sessions() as db:
        stored = [c.from_modified for c in (await cursors(db, tenant_id)).values()]
    assert all(value is None or re.search(r"[+-][0-9]{2}:[0-9]{2}$", value) for value in stored)


async def test_overlong_list_id_is_refused_and_never_stored(gw: Gateway) -> None:
    tenant_id, _qb, _path = await _session_with(gw, _long_list_id, "CustomerQueryRs")
    async with gw.sessions() as db:
        rows = (await db.exec(scoped(QbListItem, tenant_id))).all()
    assert rows and all(len(row.list_id) <= 36 for row in rows)


async def test_superscript_iterator_count_is_refused(gw: Gateway) -> None:
    await _session_with(gw, _superscript_count, "CustomerQueryRs")


async def test_twenty_digit_status_code_leaves_the_write_in_doubt_then_resolved(
    gw: Gateway,
) -> None:
    await _session_with(gw, _huge_status, "InvoiceAddRs")


async def test_superscript_version_in_hcp_response_is_no_fault(
    gateway_tenant: GatewayTenant,
) -> None:
    gw, tenant, qb, path = gateway_tenant
    await add_entries(gw.sessions, tenant.tenant_id, [invoice(tenant.tenant_id, 8)])
    hcp = re.sub(
        r"<SupportedQBXMLVersion>[^<]*</SupportedQBXMLVersion>",
        "<SupportedQBXMLVersion>1.²</SupportedQBXMLVersion>",
        qb.company(path).hcp_response(),
        count=1,
    )
    async with httpx.AsyncClient() as client:

        async def call(operation: str, *values: str | int) -> bytes:
            answer = await client.post(gw.soap_url, content=wc.build_envelope(operation, values))
            assert answer.status_code == 200, answer.text
            return answer.content

        auth = wc.read_strings(
            "authenticate", await call("authenticate", tenant.qbwc_username, tenant.qbwc_password)
        )
        sent = wc.read_string(
            "sendRequestXML", await call("sendRequestXML", auth[0], hcp, path, "US", 13, 0)
        )
    assert "CustomerQueryRq" in sent  # 1.² is ignored; 13.0 spoken


def test_refusals_say_what_and_where() -> None:
    answer = (
        '<?xml version="1.0"?><QBXML><QBXMLMsgsRs><CustomerQueryRs requestID="list-customer-1"'
        ' statusCode="0" statusSeverity="Info" statusMessage="OK"><CustomerRet>'
        "<ListID>1</ListID><TimeModified>2026-11-30T11:01:31</TimeModified>"
        "<FullName>A</FullName></CustomerRet></CustomerQueryRs></QBXMLMsgsRs></QBXML>"
    )
    with pytest.raises(AnswerRefused, match=r"TimeModified of CustomerRet.*UTC offset"):
        parse_response(answer, max_bytes=100_000)
