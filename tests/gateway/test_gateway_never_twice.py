"""Never twice, whatever QuickBooks answers (issue 16 point 2, issue 12 point 10).

A write that QuickBooks may have processed but whose answer does not say so (requestIDs
matching nothing, a ``*Rs`` missing, an Info/Warn status without its Ret) is in doubt: it is
confirmed by a query before anything is sent again, so QuickBooks holds each document once.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from tests.gateway.gateway_helpers import (
    GatewayTenant,
    add_entries,
    invoice,
    link_of,
    outbox_states,
    web_connector,
)


def _on_writes(rewrite: Callable[[str], str]) -> Callable[[str], str]:
    """Apply ``rewrite`` to the first answer of a write set only."""
    done: list[bool] = []

    def apply(response: str) -> str:
        if done or "InvoiceAddRs" not in response:
            return response
        done.append(True)
        return rewrite(response)

    return apply


def _drop_request_ids(response: str) -> str:
    return re.sub(r' requestID="[^"]*"', "", response)


def _drop_second_answer(response: str) -> str:
    answers = re.findall(r"<InvoiceAddRs\b.*?</InvoiceAddRs>", response, flags=re.S)
    return response.replace(answers[1], "")


def _info_without_ret(response: str) -> str:
    # A real answer: status 3210, Info, no InvoiceRet (issue 12 point 10).
    first = re.search(r"<InvoiceAddRs\b.*?</InvoiceAddRs>", response, flags=re.S)
    assert first is not None
    request_id = re.search(r'requestID="([^"]*)"', first.group(0))
    assert request_id is not None
    bare = (
        f'<InvoiceAddRs requestID="{request_id.group(1)}" statusCode="3210" '
        'statusSeverity="Info" statusMessage="The transaction has been saved." />'
    )
    return response.replace(first.group(0), bare)


async def _post_three_with(gateway_tenant: GatewayTenant, rewrite: Callable[[str], str]) -> None:
    gw, tenant, qb, path = gateway_tenant
    numbers = (101, 102, 103)
    ids = await add_entries(
        gw.sessions, tenant.tenant_id, [invoice(tenant.tenant_id, n) for n in numbers]
    )
    report = await web_connector(
        gw, tenant, qb, path, response_filter=_on_writes(rewrite)
    ).run_session()
    assert report.completed, report.summary()
    company = qb.company(path)
    for number in numbers:
        assert company.count_by_ref_number(f"INV{number}", "Invoice") == 1, number
    states = await outbox_states(gw.sessions, tenant.tenant_id)
    assert [states[i].state for i in ids] == ["posted"] * 3, [
        (states[i].state, states[i].last_status_message) for i in ids
    ]
    for number in numbers:
        link = await link_of(gw.sessions, tenant.tenant_id, "invoice", str(number))
        assert link is not None and link.txn_id, number
        posted = [t for t in company.transactions("Invoice") if t.ref_number == f"INV{number}"]
        assert link.txn_id == posted[0].txn_id
    # A second run sends nothing more.
    again = await web_connector(gw, tenant, qb, path).run_session()
    assert not any("InvoiceAddRq" in s for s in again.request_sets)


async def test_answer_whose_request_ids_match_nothing_is_not_sent_again(
    gateway_tenant: GatewayTenant,
) -> None:
    await _post_three_with(gateway_tenant, _drop_request_ids)


async def test_answer_lacking_one_rs_is_not_sent_again(gateway_tenant: GatewayTenant) -> None:
    await _post_three_with(gateway_tenant, _drop_second_answer)


async def test_info_answer_without_ret_is_confirmed_by_query(gateway_tenant: GatewayTenant) -> None:
    await _post_three_with(gateway_tenant, _info_without_ret)
