"""HTTP face of the QuickBooks simulator: qbXML processing plus the control/inspection API.

``{company}`` in a path is a company name (``Demo``) or a URL-encoded company file path
(``C%3A%5CCompanies%5CDemo.qbw``). Amounts in JSON are strings, never floats.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from omni2qbd_sims.quickbooks.model import jsonable
from omni2qbd_sims.quickbooks.simulator import QuickBooksSimulator
from omni2qbd_sims.quickbooks.statuses import QbxmlSetError


class CompanySpec(BaseModel):
    file_id: str | None = None
    edition: str | None = None
    seed_demo: bool = False
    # An application (OwnerID) connecting for the first time: the Web Connector writes the
    # .qwc file's FileID into the company file under that OwnerID (reference §2).
    owner_id: str | None = None


class SeedBody(BaseModel):
    name: str
    fields: dict[str, Any] = {}


class EditBody(BaseModel):
    memo: str | None = None


class PaymentBody(BaseModel):
    amount: str | None = None
    txn_date: date | None = None


class RenameBody(BaseModel):
    new_name: str


class LockBody(BaseModel):
    code: int
    count: int = 1
    request_types: list[str] | None = None


def _json(value: Any) -> JSONResponse:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    elif isinstance(value, list):
        value = [
            dataclasses.asdict(v) if dataclasses.is_dataclass(v) and not isinstance(v, type) else v
            for v in value
        ]
    return JSONResponse(jsonable(value))


def create_app(sim: QuickBooksSimulator | None = None) -> FastAPI:
    sim = sim or QuickBooksSimulator()
    app = FastAPI(title="QuickBooks Desktop simulator")
    app.state.simulator = sim
    app.add_exception_handler(KeyError, _not_found)
    app.add_exception_handler(ValueError, _bad_request)
    _company_routes(app, sim)
    _control_routes(app, sim)
    _inspection_routes(app, sim)
    return app


async def _not_found(request: Request, exc: Exception) -> Response:
    return JSONResponse({"detail": str(exc.args[0] if exc.args else exc)}, 404)


async def _bad_request(request: Request, exc: Exception) -> Response:
    return JSONResponse({"detail": str(exc)}, 400)


def _company_routes(app: FastAPI, sim: QuickBooksSimulator) -> None:
    """Liveness, and what the Web Connector side uses: company files, HCP response, qbXML."""

    @app.get("/livez")
    def livez() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/companies")
    def companies() -> list[dict[str, object]]:
        return [c.info() for c in sim.companies()]

    @app.put("/companies/{company}")
    def create_company(company: str, spec: CompanySpec) -> dict[str, object]:
        connecting = spec.owner_id is not None
        found = sim.company(
            company,
            file_id=None if connecting else spec.file_id,
            edition=spec.edition,
            seed_demo=spec.seed_demo,
        )
        if connecting and found.owner_id != spec.owner_id:
            found.owner_id = str(spec.owner_id)
            found.file_id = spec.file_id or found.file_id
        return found.info()

    @app.get("/companies/{company}")
    def company_info(company: str) -> dict[str, object]:
        return sim.company(company).info()

    @app.get("/companies/{company}/hcp")
    def hcp(company: str) -> Response:
        return Response(sim.hcp_response(company), media_type="text/xml")

    @app.post("/companies/{company}/qbxml")
    async def qbxml(company: str, request: Request) -> Response:
        body = (await request.body()).decode("utf-8", "replace")
        try:
            answer = sim.process_request(company, body)
        except QbxmlSetError as failure:
            return JSONResponse(
                {"hresult": failure.hresult, "message": failure.message, "detail": failure.detail},
                422,
            )
        return Response(answer, media_type="text/xml")

    @app.post("/companies/{company}/sessions/end", status_code=204)
    def end_session(company: str) -> Response:
        sim.end_session(company)
        return Response(status_code=204)


def _control_routes(app: FastAPI, sim: QuickBooksSimulator) -> None:
    """Seeding, what a person would do in QuickBooks, and faults: how tests shape a file."""

    @app.post("/companies/{company}/seed-demo")
    def seed_demo(company: str) -> dict[str, object]:
        sim.company(company).seed_demo()
        return sim.company(company).info()

    @app.post("/companies/{company}/seed/{kind}")
    def seed(company: str, kind: str, body: SeedBody) -> JSONResponse:
        return _json(sim.company(company).seed(kind, body.name, **body.fields))

    @app.post("/companies/{company}/transactions/{txn_id}/mark-final")
    def mark_final(company: str, txn_id: str) -> JSONResponse:
        return _json(sim.company(company).mark_final(txn_id))

    @app.post("/companies/{company}/transactions/{txn_id}/edit")
    def edit(company: str, txn_id: str, body: EditBody) -> JSONResponse:
        return _json(sim.company(company).edit_transaction(txn_id, memo=body.memo))

    @app.post("/companies/{company}/transactions/{txn_id}/payments")
    def pay(company: str, txn_id: str, body: PaymentBody) -> JSONResponse:
        payment = sim.company(company).apply_payment(txn_id, body.amount, txn_date=body.txn_date)
        return _json(payment)

    @app.delete("/companies/{company}/transactions/{txn_id}")
    def delete(company: str, txn_id: str) -> JSONResponse:
        return _json(sim.company(company).delete_transaction(txn_id))

    @app.post("/companies/{company}/customers/{customer}/rename")
    def rename(company: str, customer: str, body: RenameBody) -> JSONResponse:
        return _json(sim.company(company).rename_customer(customer, body.new_name))

    @app.post("/companies/{company}/faults/lock", status_code=204)
    def lock(company: str, body: LockBody) -> Response:
        sim.company(company).inject_lock(body.code, body.count, body.request_types)
        return Response(status_code=204)


def _inspection_routes(app: FastAPI, sim: QuickBooksSimulator) -> None:
    """Read-only views for tests: transactions, counts, totals and lists."""

    @app.get("/companies/{company}/transactions")
    def transactions(
        company: str, txn_type: str | None = None, include_deleted: bool = False
    ) -> JSONResponse:
        found = sim.company(company).transactions(txn_type, include_deleted=include_deleted)
        return _json(found)

    @app.get("/companies/{company}/transactions/{txn_id}")
    def transaction(company: str, txn_id: str) -> JSONResponse:
        return _json(sim.company(company).transaction(txn_id))

    @app.get("/companies/{company}/count")
    def count(company: str, ref_number: str, txn_type: str | None = None) -> dict[str, int]:
        return {"count": sim.company(company).count_by_ref_number(ref_number, txn_type)}

    @app.get("/companies/{company}/external-guid/{guid}")
    def by_guid(company: str, guid: str) -> JSONResponse:
        return _json(sim.company(company).find_by_external_guid(guid))

    @app.get("/companies/{company}/totals")
    def totals(company: str) -> JSONResponse:
        found = sim.company(company).totals_by_type()
        return JSONResponse({k: jsonable(dataclasses.asdict(v)) for k, v in found.items()})

    @app.get("/companies/{company}/lists")
    def lists(company: str, kind: str | None = None) -> JSONResponse:
        return _json(sim.company(company).list_records(kind))
