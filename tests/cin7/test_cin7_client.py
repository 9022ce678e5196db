"""The Cin7 client against the simulator over real HTTP."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from omni2qbd_fetcher.cin7_client import (
    Cin7AuthError,
    Cin7Client,
    Cin7RequestError,
    Cin7UnavailableError,
    RetryPolicy,
    quote,
    where_since,
)
from omni2qbd_fetcher.rate_limit import KeyRateLimiter, RateLimitWait
from omni2qbd_shared.cin7_dates import parse_cin7_datetime
from tests.cin7.cin7_testkit import TENANT, ClientFactory, Sim


def by_id(items: list[dict[str, Any]]) -> list[int]:
    return [item["id"] for item in items]


async def all_pages(
    client: Cin7Client, resource: str, *, rows: int = 250, **query: Any
) -> list[list[dict[str, Any]]]:
    """Every page in turn, stopping at ``[]`` or a short page (as the sync reads them)."""
    pages: list[list[dict[str, Any]]] = []
    page = 1
    while True:
        items = await client.list_page(resource, page=page, rows=rows, **query)
        if items:
            pages.append(items)
        if len(items) < rows:
            return pages
        page += 1


async def list_all(client: Cin7Client, resource: str, **query: Any) -> list[dict[str, Any]]:
    return [item for page in await all_pages(client, resource, **query) for item in page]


class SimWrites:
    """The simulator's document endpoints the bridge itself never calls (it only reads)."""

    def __init__(self, sim: Sim) -> None:
        self.base = f"{sim.base_url}/v1"
        self.http = httpx.AsyncClient(auth=(TENANT, sim.key()))

    async def get(self, resource: str, record_id: int) -> tuple[int, Any]:
        response = await self.http.get(f"{self.base}/{resource}/{record_id}")
        return response.status_code, response.json() if response.content else None

    async def write(self, method: str, resource: str, records: list[dict[str, Any]]) -> Any:
        response = await self.http.request(method, f"{self.base}/{resource}", json=records)
        assert response.status_code == 200, response.text
        return response.json()


async def test_paging_reads_everything_once_in_order(sim: Sim, make_client: ClientFactory) -> None:
    client = make_client(sim)
    expected = sorted(o["id"] for o in sim.rows("SalesOrders"))
    pages = await all_pages(client, "SalesOrders", order="id", rows=7)
    assert [item["id"] for page in pages for item in page] == expected
    assert all(len(page) == 7 for page in pages[:-1])


async def test_exact_multiple_of_rows_ends_on_an_empty_page(
    sim: Sim, make_client: ClientFactory
) -> None:
    client = make_client(sim)
    total = len(sim.rows("Branches"))
    pages = await all_pages(client, "Branches", rows=total)
    assert len(pages) == 1 and len(pages[0]) == total
    # one request for the full page, one more that answered []
    assert client.requests_sent == 2
    assert await client.list_page("Branches", page=2, rows=total) == []
    assert await client.list_page("Branches", page=999, rows=1) == []


async def test_rows_above_250_are_capped_by_the_server(
    sim: Sim, make_client: ClientFactory
) -> None:
    client = make_client(sim)
    with pytest.raises(ValueError, match="rows must be"):
        await client.list_page("SalesOrders", rows=251)
    response = await client._http.get(
        f"{sim.base_url}/v1/SalesOrders", params={"rows": 1000}, auth=(TENANT, sim.key())
    )
    assert len(sim.rows("SalesOrders")) > 250
    assert len(response.json()) == 250
    default = await client._http.get(f"{sim.base_url}/v1/SalesOrders", auth=(TENANT, sim.key()))
    assert len(default.json()) == 50


def _value(record: dict[str, Any], name: str) -> Any:
    return record.get(name)


WHERE_CASES: list[tuple[str, Any]] = [
    ("id={id}", lambda r, p: r["id"] == p["id"]),
    ("id<>{id}", lambda r, p: r["id"] != p["id"]),
    ("total>{total}", lambda r, p: r["total"] > p["total"]),
    ("total<{total}", lambda r, p: r["total"] < p["total"]),
    ("total>={total}", lambda r, p: r["total"] >= p["total"]),
    ("total<={total}", lambda r, p: r["total"] <= p["total"]),
    ("company={company_q}", lambda r, p: (r["company"] or "").lower() == p["company"].lower()),
    ("company LIKE '%north%'", lambda r, p: "north" in (r["company"] or "").lower()),
    ("currencyCode IN ('CAD','EUR')", lambda r, p: r["currencyCode"] in ("CAD", "EUR")),
    ("invoiceDate IS NULL", lambda r, p: r["invoiceDate"] is None),
    (
        "invoiceDate IS NOT NULL AND isVoid=false",
        lambda r, p: r["invoiceDate"] is not None and not r["isVoid"],
    ),
    (
        "status='VOID' OR stage='On Hold'",
        lambda r, p: r["status"] == "VOID" or r["stage"] == "On Hold",
    ),
    ("{since}", lambda r, p: r["modifiedDate"] >= p["since_dt"]),
]


@pytest.mark.parametrize(("template", "check"), WHERE_CASES, ids=[c[0] for c in WHERE_CASES])
async def test_where_operator_over_http(
    sim: Sim, make_client: ClientFactory, template: str, check: Any
) -> None:
    rows = sorted(sim.rows("SalesOrders"), key=lambda r: r["id"])
    pivot = rows[len(rows) // 2]
    since = datetime(2025, 7, 1, tzinfo=UTC)
    params = {
        "id": pivot["id"],
        "total": pivot["total"],
        "company": pivot["company"],
        "company_q": quote(pivot["company"]),
        "since": where_since("modifiedDate", since),
        "since_dt": since,
    }
    expected = [r["id"] for r in rows if check(r, params)]
    assert expected, "the case must select something to mean anything"
    client = make_client(sim)
    got = await list_all(client, "SalesOrders", where=template.format(**params), order="id")
    assert by_id(got) == expected


async def test_fields_projection_and_order(sim: Sim, make_client: ClientFactory) -> None:
    client = make_client(sim)
    page = await client.list_page(
        "SalesOrders",
        fields="id,total,lineItems(code,qty)",
        order="total DESC, id ASC",
        rows=20,
    )
    assert all(set(item) == {"id", "total", "lineItems"} for item in page)
    assert all(set(line) == {"code", "qty"} for item in page for line in item["lineItems"])
    totals = [item["total"] for item in page]
    assert totals == sorted(totals, reverse=True)
    assert totals[0] == max(r["total"] for r in sim.rows("SalesOrders"))


async def test_camel_case_nulls_and_upper_case_status(sim: Sim, make_client: ClientFactory) -> None:
    client = make_client(sim)
    page = await client.list_page("SalesOrders", rows=50)
    first = page[0]
    assert "modifiedCOGSDate" in first and "lineItems" in first and "ModifiedDate" not in first
    assert any(value is None for value in first.values())  # unset fields come back as null
    assert {item["status"] for item in page} <= {"DRAFT", "APPROVED", "VOID"}
    assert isinstance(first["customFields"], dict)


async def test_bad_where_is_a_400_and_not_retried(sim: Sim, make_client: ClientFactory) -> None:
    client = make_client(sim)
    with pytest.raises(Cin7RequestError) as caught:
        await client.list_page("SalesOrders", where="noSuchField=1")
    assert caught.value.status == 400 and "noSuchField" in str(caught.value)
    assert client.requests_sent == 1


async def test_wrong_key_is_401_naming_the_tenant_and_the_fix(
    sim: Sim, make_client: ClientFactory
) -> None:
    client = make_client(sim, key="not-the-key")
    with pytest.raises(Cin7AuthError) as caught:
        await client.list_page("SalesOrders")
    message = str(caught.value)
    assert caught.value.status == 401
    assert f"tenant-{TENANT}" in message and "API Key" in message and "not-the-key" not in message
    assert client.requests_sent == 1  # never retried


async def test_missing_permission_is_403_naming_the_resource(
    sim: Sim, make_client: ClientFactory
) -> None:
    client = make_client(sim, key=sim.key(index=1))  # the "Contacts only" connection
    assert await client.list_page("Contacts", rows=5)
    with pytest.raises(Cin7AuthError) as caught:
        await client.list_page("SalesOrders")
    assert caught.value.status == 403
    assert "SalesOrders" in str(caught.value) and "permission" in str(caught.value)


async def test_429_storm_is_ridden_out(sim: Sim, make_client: ClientFactory) -> None:
    sim.admin.configure(rateLimitsEnabled=True, rateLimits=[[2, 0.3]])
    client = make_client(sim)  # its own limiter is far looser than the server: 429s will come
    got = await list_all(client, "SalesOrders", order="id", rows=25)
    assert by_id(got) == sorted(r["id"] for r in sim.rows("SalesOrders"))
    usage = sim.admin.stats()[sim.key()]
    assert usage["throttled"] > 0
    assert usage["accepted"] == -(-len(got) // 25) + (len(got) % 25 == 0)


async def test_retry_after_is_honoured(sim: Sim, make_client: ClientFactory) -> None:
    sim.admin.configure(rateLimitsEnabled=True, rateLimits=[[1, 0.5]], retryAfter=True)
    client = make_client(sim, retry=RetryPolicy(attempts=4, base_delay=0.01, max_delay=5))
    await client.list_page("Branches")
    started = time.monotonic()
    await client.list_page("Branches")  # 429 with Retry-After: 1 -> waits about a second
    assert time.monotonic() - started >= 0.9
    assert sim.admin.stats()[sim.key()]["throttled"] == 1


async def test_own_limiter_never_draws_a_429(sim: Sim, make_client: ClientFactory) -> None:
    limits = ((3, 0.3), (5, 1.0))
    sim.admin.configure(rateLimitsEnabled=True, rateLimits=[list(pair) for pair in limits])
    client = make_client(sim, limits=limits)
    started = time.monotonic()
    for page in range(1, 12):
        await client.list_page("SalesOrders", page=page, rows=5)
    elapsed = time.monotonic() - started
    usage = sim.admin.stats()[sim.key()]
    assert usage == {"accepted": 11, "throttled": 0}
    assert elapsed >= 2.0  # 11 requests at 5 per second cannot take less than two windows


async def test_500_and_503_are_retried(sim: Sim, make_client: ClientFactory) -> None:
    sim.admin.add_fault("status", status=500, times=2, resource="SalesOrders")
    sim.admin.add_fault("status", status=503, times=1, resource="SalesOrders")
    client = make_client(sim)
    page = await client.list_page("SalesOrders", rows=3)
    assert len(page) == 3
    assert client.requests_sent == 4


async def test_persistent_500_gives_up_with_a_clear_error(
    sim: Sim, make_client: ClientFactory
) -> None:
    sim.admin.add_fault("status", status=500, times=None, resource="Contacts")
    client = make_client(sim, retry=RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02))
    with pytest.raises(Cin7UnavailableError) as caught:
        await client.list_page("Contacts")
    assert "HTTP 500" in str(caught.value) and "3 attempts" in str(caught.value)
    assert client.requests_sent == 3


async def test_slow_answer_times_out_and_is_retried(sim: Sim, make_client: ClientFactory) -> None:
    sim.admin.add_fault("slow", delaySeconds=1.0, times=1, resource="Branches")
    client = make_client(sim, timeout=0.3)
    assert await client.list_page("Branches")
    assert client.requests_sent == 2


@pytest.mark.parametrize("form", ["iso_z", "fraction_z", "space", "naive", "offset", "date_only"])
async def test_every_date_form_reads_as_the_same_utc_instant(
    sim: Sim, make_client: ClientFactory, form: str
) -> None:
    sim.admin.configure(dateForm=form)
    client = make_client(sim)
    page = await client.list_page("SalesOrders", order="id", rows=20)
    for raw in page:
        modified = parse_cin7_datetime(raw["modifiedDate"])
        stored = sim.store.tenants[TENANT].records["SalesOrders"][raw["id"]]
        assert modified is not None and modified.tzinfo is not None
        if form == "date_only":
            assert modified.date() == stored["modifiedDate"].date()
        else:
            assert modified == stored["modifiedDate"]
            assert parse_cin7_datetime(raw["modifiedCOGSDate"]) == stored["modifiedCOGSDate"]


def test_lenient_date_parser_reads_documented_forms() -> None:
    expected = datetime(2022, 9, 16, 9, 0, 5, tzinfo=UTC)
    for text in (
        "2022-09-16T09:00:05Z",
        "2022-09-16T09:00:05.000Z",
        "2022-09-16 09:00:05",
        "2022-09-16T09:00:05",
        "2022-09-16T21:00:05+12:00",
        "2022-09-16T21:00:05.0000000+1200",
        "2022-09-16T04:00:05-05:00",
        "/Date(1663318805000)/",
    ):
        assert parse_cin7_datetime(text) == expected, text
    assert parse_cin7_datetime("2022-09-16") == datetime(2022, 9, 16, tzinfo=UTC)
    assert parse_cin7_datetime("") is None and parse_cin7_datetime(None) is None
    with pytest.raises(ValueError, match="is not a date Cin7 sends"):
        parse_cin7_datetime("16/09/2022")


async def test_simulator_gets_by_id(sim: Sim) -> None:
    cin7 = SimWrites(sim)
    try:
        known = sim.rows("CreditNotes")[0]
        status, got = await cin7.get("CreditNotes", known["id"])
        assert status == 200 and got["reference"] == known["reference"]
        status, got = await cin7.get("CreditNotes", 1)
        assert status == 404 or got is None
        status, _ = await cin7.get("Stock", 1)
        assert status == 405
    finally:
        await cin7.http.aclose()


async def test_simulator_writes_follow_cin7_rules(fresh_sim: Sim) -> None:
    client = SimWrites(fresh_sim)
    try:
        await _writes_follow_cin7_rules(fresh_sim, client)
    finally:
        await client.http.aclose()


async def _writes_follow_cin7_rules(fresh_sim: Sim, cin7: SimWrites) -> None:
    customer = next(c for c in fresh_sim.rows("Contacts") if c["type"] == "Customer")
    option = fresh_sim.rows("ProductOptions")[0]
    [created] = await cin7.write(
        "POST",
        "SalesOrders",
        [
            {
                "MemberId": customer["id"],
                "lineItems": [{"Code": option["code"], "qty": 2, "unitPrice": 10, "unitCost": 4}],
            }
        ],
    )
    assert created["success"] and created["code"] == f"SO-{created['id']}"
    _, before = await cin7.get("SalesOrders", created["id"])
    assert before is not None and before["status"] == "APPROVED" and before["invoiceNumber"] is None
    [line] = before["lineItems"]  # linked to its product by code, as Cin7 does
    assert (line["productOptionId"], line["productId"]) == (option["id"], option["productId"])
    assert line["name"] and line["unitPrice"] == 10 and line["unitCost"] == 4
    [updated] = await cin7.write(
        "PUT",
        "SalesOrders",
        [
            {
                "id": created["id"],
                "invoiceDate": "2026-01-05T10:00:00Z",
                "dispatchedDate": "2026-01-05T10:00:00Z",
                "company": None,
            }
        ],
    )
    assert updated["success"]
    _, after = await cin7.get("SalesOrders", created["id"])
    assert after is not None
    assert after["invoiceNumber"] is not None and after["company"] == before["company"]
    assert [line["qtyShipped"] for line in after["lineItems"]] == [2.0]
    assert after["modifiedDate"] >= before["modifiedDate"]
    await cin7.write("PUT", "SalesOrders", [{"id": created["id"], "isVoid": True}])
    await cin7.write("PUT", "SalesOrders", [{"id": created["id"], "isVoid": False}])
    _, voided = await cin7.get("SalesOrders", created["id"])
    assert voided is not None and voided["isVoid"] is True and voided["status"] == "VOID"
    [missing] = await cin7.write("PUT", "SalesOrders", [{"id": 1, "stage": "New"}])
    assert not missing["success"] and missing["errors"]
    [duplicate] = await cin7.write(
        "POST", "Contacts", [{"company": "Dup", "email": customer["email"]}]
    )
    assert not duplicate["success"] and customer["email"] in duplicate["errors"][0]


async def test_cost_change_bumps_only_modified_cogs_date(
    fresh_sim: Sim, make_client: ClientFactory
) -> None:
    order = next(o for o in fresh_sim.rows("SalesOrders") if o["dispatchedDate"])
    before_modified, before_cogs = order["modifiedDate"], order["modifiedCOGSDate"]
    fresh_sim.admin.change_cost(TENANT, "SalesOrders", order["id"], 1.1)
    client = make_client(fresh_sim)
    [raw] = await client.list_page("SalesOrders", where=f"id={order['id']}")
    assert parse_cin7_datetime(raw["modifiedDate"]) == before_modified
    cogs = parse_cin7_datetime(raw["modifiedCOGSDate"])
    assert cogs is not None and cogs > before_cogs


async def test_simulator_429_is_a_bare_json_string_and_refusals_do_not_count(sim: Sim) -> None:
    sim.admin.configure(rateLimitsEnabled=True, rateLimits=[[2, 60]])
    async with httpx.AsyncClient(auth=(TENANT, sim.key())) as http:
        statuses = [(await http.get(f"{sim.base_url}/v1/Branches")).status_code for _ in range(4)]
        refused = await http.get(f"{sim.base_url}/v1/Branches")
    assert statuses == [200, 200, 429, 429]
    assert refused.json() == "API rate limit exceeded" and "retry-after" not in refused.headers
    assert sim.admin.stats()[sim.key()] == {"accepted": 2, "throttled": 3}
    sim.admin.configure(retryAfter=True)
    async with httpx.AsyncClient(auth=(TENANT, sim.key())) as http:
        again = await http.get(f"{sim.base_url}/v1/Branches")
    assert again.status_code == 429 and 0 < int(again.headers["retry-after"]) <= 61


async def test_exhausted_budget_raises_instead_of_sleeping_for_hours(
    sim: Sim, make_client: ClientFactory
) -> None:
    client = make_client(sim, limits=((2, 3600.0),), max_limiter_wait=1.0)
    await client.list_page("Branches")
    await client.list_page("Branches")
    with pytest.raises(RateLimitWait) as caught:
        # Far shorter than the hour the budget needs: a client that slept would fail here.
        async with asyncio.timeout(30):
            await client.list_page("Branches")
    assert 3500 < caught.value.seconds <= 3600.1
    assert client.requests_sent == 2


async def test_base_url_with_or_without_v1_reaches_the_same_api(sim: Sim) -> None:
    pages = []
    for base_url in (sim.base_url, sim.base_url.rstrip("/") + "/v1/"):
        client = Cin7Client(
            tenant="t",
            username=TENANT,
            api_key=sim.key(TENANT),
            base_url=base_url,
            limiter=KeyRateLimiter(((1000, 1.0),)),
        )
        try:
            pages.append(await client.list_page("Contacts", page=1, rows=5))
        finally:
            await client.aclose()
    assert pages[0] and pages[0] == pages[1]
