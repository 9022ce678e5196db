"""The SOAP surface: WSDL, exact return values (reference §1.4), faults, the state machine."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import httpx
import pytest
from argon2 import PasswordHasher, extract_parameters
from lxml import etree

from omni2qbd_gateway.soap import INTUIT_NS, OPERATIONS, SOAP12_NS
from omni2qbd_gateway.tenants import create_tenant
from omni2qbd_shared import secrets
from omni2qbd_shared.db.engine import unit_of_work
from omni2qbd_shared.db.models import Tenant
from omni2qbd_shared.qbxml.schema import validation_errors
from omni2qbd_sims.webconnector import soap as wc
from tests.gateway.gateway_helpers import (
    Gateway,
    GatewayTenant,
    add_entries,
    invoice,
    new_tenant,
    tenant_row,
    web_connector,
)

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"


@pytest.fixture
def gateway_settings() -> dict[str, Any]:
    return {"gateway_max_soap_bytes": 64 * 1024}


async def call(gw: Gateway, operation: str, *values: str | int) -> bytes:
    async with httpx.AsyncClient() as client:
        answer = await client.post(gw.soap_url, content=wc.build_envelope(operation, values))
    assert answer.status_code == 200, answer.text
    return answer.content


async def post_raw(gw: Gateway, body: bytes) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(
            gw.soap_url, content=body, headers={"Content-Type": "text/xml; charset=utf-8"}
        )


def fault_text(response: httpx.Response) -> str:
    assert response.status_code == 500
    root = etree.fromstring(response.content)
    fault = root.find(f"{{{SOAP11}}}Body/{{{SOAP11}}}Fault")
    assert fault is not None, response.text
    assert "Traceback" not in response.text and 'File "' not in response.text
    return fault.findtext("faultstring") or ""


async def test_wsdl_lists_every_operation_and_points_at_the_public_url(gw: Gateway) -> None:
    async with httpx.AsyncClient() as client:
        answer = await client.get(f"{gw.soap_url}?wsdl")
    assert answer.status_code == 200
    root = etree.fromstring(answer.content)
    assert root.get("targetNamespace") == INTUIT_NS
    names = {op.get("name") for op in root.iter(f"{{{WSDL_NS}}}operation")}
    assert names >= set(OPERATIONS) >= {
        "serverVersion", "clientVersion", "authenticate", "sendRequestXML", "receiveResponseXML",
        "connectionError", "getLastError", "closeConnection", "getInteractiveURL",
        "interactiveDone", "interactiveRejected", "getServerVersion",
    }  # fmt: skip
    address = root.find(f".//{{{WSDL_NS}}}port/{{http://schemas.xmlsoap.org/wsdl/soap/}}address")
    assert address is not None and address.get("location") == f"{gw.url}/qbwc"


async def test_a_generic_soap_client_can_use_the_wsdl(gw: Gateway, tmp_path: object) -> None:
    """zeep builds its client from our WSDL alone and talks to the endpoint."""
    zeep = pytest.importorskip("zeep")

    def use() -> tuple[str, list[str]]:
        client = zeep.Client(f"{gw.soap_url}?wsdl")
        version = client.service.serverVersion()
        result = client.service.authenticate(strUserName="nobody", strPassword="wrong")
        return version, [s or "" for s in result]

    version, auth = await asyncio.to_thread(use)
    assert version.startswith("Omni2QBD")
    assert auth == ["", "nvu", "", ""]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"this is not xml", "not an acceptable XML document"),
        (b"<a><b/></a>", "not a SOAP"),
        (
            b'<soap:Envelope xmlns:soap="' + SOAP11.encode() + b'"><soap:Body>'
            b'<launchMissiles xmlns="http://developer.intuit.com/"/></soap:Body></soap:Envelope>',
            "unknown operation",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY lol "lol"><!ENTITY lol2 '
            b'"&lol;&lol;&lol;">]><soap:Envelope xmlns:soap="' + SOAP11.encode() + b'">'
            b'<soap:Body><authenticate xmlns="http://developer.intuit.com/"><strUserName>'
            b"&lol2;</strUserName></authenticate></soap:Body></soap:Envelope>",
            "not an acceptable XML document",
        ),
        (
            wc.build_envelope("sendRequestXML", ["t", "", "", "US", "thirteen", 0]),
            "must be an integer",
        ),
        (b"<x>" + b"a" * (70 * 1024) + b"</x>", "larger than"),
    ],
    ids=["not-xml", "not-soap", "unknown-operation", "entities", "bad-int", "oversized"],
)
async def test_bad_requests_get_a_soap_fault_never_a_stack_trace(
    gw: Gateway, body: bytes, words: str
) -> None:
    assert words in fault_text(await post_raw(gw, body))


async def test_return_values_of_the_simple_operations(gw: Gateway) -> None:
    assert wc.read_string("clientVersion", await call(gw, "clientVersion", "2.3.0.36")) == ""
    assert wc.read_string("clientVersion", await call(gw, "clientVersion", "1.5.0.0")).startswith(
        "O:"
    )
    assert wc.read_strings("authenticate", await call(gw, "authenticate", "ghost", "x")) == [
        "",
        "nvu",
        "",
        "",
    ]
    unknown = "f" * 64
    assert (
        wc.read_string(
            "sendRequestXML", await call(gw, "sendRequestXML", unknown, "", "", "US", 13, 0)
        )
        == ""
    )
    assert "expired" in wc.read_string("getLastError", await call(gw, "getLastError", unknown))
    assert (
        wc.read_int("receiveResponseXML", await call(gw, "receiveResponseXML", unknown, "", "", ""))
        < 0
    )
    assert (
        wc.read_string(
            "connectionError", await call(gw, "connectionError", unknown, "0x80040408", "x")
        )
        == "done"
    )
    assert wc.read_string("closeConnection", await call(gw, "closeConnection", unknown)) == "OK"
    async with httpx.AsyncClient() as client:
        metrics = (await client.get(f"{gw.url}/metrics")).text
    assert 'omni2qbd_qbwc_calls_total{operation="authenticate",outcome="ok"}' in metrics


async def test_interactive_operations_and_get_server_version(gw: Gateway) -> None:
    def envelope(op: str, **params: str) -> bytes:
        inner = "".join(f"<{k}>{v}</{k}>" for k, v in params.items())
        return (
            f'<soap:Envelope xmlns:soap="{SOAP11}"><soap:Body><{op} xmlns="{INTUIT_NS}">'
            f"{inner}</{op}></soap:Body></soap:Envelope>"
        ).encode()

    async with httpx.AsyncClient() as client:
        for op, params, expected in (
            ("getInteractiveURL", {"wcTicket": "t", "sessionID": "s"}, f"{gw.url}/console/"),
            ("interactiveDone", {"wcTicket": "t"}, "Done"),
            ("getServerVersion", {"ticket": "t"}, "Omni2QBD"),
        ):
            answer = await client.post(gw.soap_url, content=envelope(op, **params))
            assert answer.status_code == 200
            assert expected in wc.read_string(op, answer.content)
        rejected = await client.post(
            gw.soap_url, content=envelope("interactiveRejected", wcTicket="t", reason="no")
        )
        assert wc.read_string("interactiveRejected", rejected.content)


async def test_soap_12_envelopes_are_answered_in_soap_12(gw: Gateway) -> None:
    body = (
        f'<env:Envelope xmlns:env="{SOAP12_NS}"><env:Body><serverVersion xmlns="{INTUIT_NS}"/>'
        "</env:Body></env:Envelope>"
    ).encode()
    answer = await post_raw(gw, body)
    assert answer.status_code == 200
    root = etree.fromstring(answer.content)
    assert root.tag == f"{{{SOAP12_NS}}}Envelope"
    assert answer.headers["content-type"].startswith("application/soap+xml")


async def test_none_when_nothing_to_do_and_busy_while_a_session_is_live(
    gateway_tenant: GatewayTenant,
) -> None:
    gw, tenant, qb, path = gateway_tenant
    first = await web_connector(gw, tenant, qb, path).run_session()  # refreshes the lists
    assert first.completed, first.summary()
    again = wc.read_strings(
        "authenticate", await call(gw, "authenticate", tenant.qbwc_username, tenant.qbwc_password)
    )
    assert again[1] == "none" and len(again) == 4

    await add_entries(gw.sessions, tenant.tenant_id, [invoice(tenant.tenant_id, 1)])
    live = wc.read_strings(
        "authenticate", await call(gw, "authenticate", tenant.qbwc_username, tenant.qbwc_password)
    )
    assert live[1] == ""
    busy = wc.read_strings(
        "authenticate", await call(gw, "authenticate", tenant.qbwc_username, tenant.qbwc_password)
    )
    assert busy[1] == "busy" and busy[0] != live[0]


async def test_skipped_answer_puts_the_write_set_in_doubt_and_recovery_comes_first(
    gateway_tenant: GatewayTenant,
) -> None:
    """reference §1.3: sendRequestXML where receiveResponseXML was expected is a lost answer."""
    gw, tenant, qb, path = gateway_tenant
    await add_entries(gw.sessions, tenant.tenant_id, [invoice(tenant.tenant_id, n) for n in (1, 2)])
    auth = wc.read_strings(
        "authenticate", await call(gw, "authenticate", tenant.qbwc_username, tenant.qbwc_password)
    )
    ticket = auth[0]
    hcp = qb.company(path).hcp_response()
    lists_set = wc.read_string(
        "sendRequestXML", await call(gw, "sendRequestXML", ticket, hcp, path, "US", 13, 0)
    )
    assert "CustomerQueryRq" in lists_set
    response = qb.process_request(path, lists_set)
    progress = wc.read_int(
        "receiveResponseXML", await call(gw, "receiveResponseXML", ticket, response, "", "")
    )
    assert 1 <= progress <= 99
    writes = wc.read_string(
        "sendRequestXML", await call(gw, "sendRequestXML", ticket, "", path, "US", 13, 0)
    )
    assert "InvoiceAddRq" in writes and "newMessageSetID" in writes
    qb.process_request(path, writes)  # QuickBooks posts it; the answer is "lost"
    msgs = etree.fromstring(writes.split("?>", 2)[-1].encode()).find("QBXMLMsgsRq")
    assert msgs is not None
    set_id = msgs.get("newMessageSetID")
    recovery = wc.read_string(
        "sendRequestXML", await call(gw, "sendRequestXML", ticket, "", path, "US", 13, 0)
    )
    assert f'oldMessageSetID="{set_id}"' in recovery
    assert validation_errors(recovery) == []
    answer = qb.process_request(path, recovery)
    assert (
        wc.read_int(
            "receiveResponseXML", await call(gw, "receiveResponseXML", ticket, answer, "", "")
        )
        == 100
    )
    assert wc.read_string("closeConnection", await call(gw, "closeConnection", ticket)).startswith(
        "Done"
    )
    assert qb.company(path).count_by_ref_number("INV1", "Invoice") == 1
    assert qb.company(path).count_by_ref_number("INV2", "Invoice") == 1


class _CountingHasher(PasswordHasher):
    """The real hasher, noting which hash each verification was made against."""

    __slots__ = ("verified",)

    def __init__(self, real: PasswordHasher) -> None:
        params = real._parameters  # the same parameters, so hashes verify the same way
        super().__init__(
            time_cost=params.time_cost,
            memory_cost=params.memory_cost,
            parallelism=params.parallelism,
            hash_len=params.hash_len,
            salt_len=params.salt_len,
        )
        self.verified: list[str] = []

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.verified.append(hash if isinstance(hash, str) else hash.decode())
        return super().verify(hash, password)


async def test_unknown_user_and_wrong_password_cost_the_same(
    gw: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """nvu in constant time: an unknown name is verified against a dummy Argon2 hash made with
    the parameters of a real tenant's (created here the production way), so both cost one
    verification of the same cost. Counted, not timed: a verification of a generated
    password takes ~2 ms, lost in a loaded machine's noise."""
    async with unit_of_work(gw.sessions) as db:
        real = await create_tenant(db, name="Timing Co", secret_key="k", actor="test")
    row = await tenant_row(gw.sessions, real.tenant_id)
    assert not secrets.generated_hash_is_outdated(row.qbwc_password_hash)
    counting = _CountingHasher(secrets._generated_hasher)
    monkeypatch.setattr(secrets, "_generated_hasher", counting)

    for username in (real.qbwc_username, "nobody-at-all"):
        answer = wc.read_strings(
            "authenticate", await call(gw, "authenticate", username, "not-the-password")
        )
        assert answer == ["", "nvu", "", ""]
    wrong, unknown = counting.verified
    assert wrong == row.qbwc_password_hash
    assert unknown != wrong and extract_parameters(unknown) == extract_parameters(wrong)


async def test_a_hash_with_the_old_slow_parameters_is_renewed_at_the_next_good_login(
    gw: Gateway,
) -> None:
    """Generated passwords are hashed with cheap Argon2 parameters (issue 16: 50 logins at
    once); a tenant hashed before keeps working and gets a current hash when it logs in."""
    tenant = await new_tenant(gw.sessions)
    old_hash = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1).hash(
        tenant.qbwc_password
    )
    async with unit_of_work(gw.sessions) as db:
        row = await db.get(Tenant, tenant.tenant_id)
        assert row is not None
        row.qbwc_password_hash = old_hash
        db.add(row)
    assert secrets.generated_hash_is_outdated(old_hash)

    wrong = wc.read_strings(
        "authenticate", await call(gw, "authenticate", tenant.qbwc_username, "x")
    )
    assert wrong[1] == "nvu"
    assert (await tenant_row(gw.sessions, tenant.tenant_id)).qbwc_password_hash == old_hash

    good = wc.read_strings(
        "authenticate", await call(gw, "authenticate", tenant.qbwc_username, tenant.qbwc_password)
    )
    assert good[1] != "nvu"
    renewed = (await tenant_row(gw.sessions, tenant.tenant_id)).qbwc_password_hash
    assert renewed != old_hash and not secrets.generated_hash_is_outdated(renewed)
    assert secrets.verify_generated_password(renewed, tenant.qbwc_password)
