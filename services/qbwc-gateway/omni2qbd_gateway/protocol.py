"""The Web Connector callbacks (reference §1.3, §1.4), one method per operation.

Each call is one database transaction over the session row (plus what it changes), so the
conversation survives any gateway process answering any call. Return values are exactly
the ones §1.4 gives meaning to: ``authenticate`` always four strings; ``receiveResponseXML``
1-99 while work remains, 100 when done, negative when the session must stop, with
``getLastError`` saying why in words.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway import lists, pending, plan, results, sessions
from omni2qbd_gateway import reconciliation_session as reconciliation_hook
from omni2qbd_gateway.company import file_id_problem, negotiate_version, read_hcp
from omni2qbd_gateway.qbxml_io import parse_response
from omni2qbd_gateway.qwc import OWNER_ID
from omni2qbd_gateway.soap import Call, SoapFault
from omni2qbd_shared import messages as m
from omni2qbd_shared.db.models import (
    OutboxItem,
    QbwcRequest,
    QbwcSession,
    Tenant,
    aware,
    utcnow,
)
from omni2qbd_shared.db.tenancy import scoped
from omni2qbd_shared.secrets import new_ticket
from omni2qbd_shared.xmlsafe import UnsafeXmlError

log = structlog.get_logger(__name__)

SERVER_VERSION = "Omni2QBD gateway 0.1.0"
MIN_CLIENT_MAJOR = 2
MAX_SET_ERRORS = 3
EXPIRED_TICKET = (
    "This Web Connector session is unknown or has expired. Nothing is lost: run the update "
    "again and the bridge continues where it stopped."
)


@dataclass
class GatewayOptions:
    public_url: str
    session_timeout: timedelta
    limits: plan.Limits
    max_soap_bytes: int
    # Sessions refresh the list mirror; with nothing else to do, a run is skipped ("none")
    # if the mirror is younger than this.
    list_refresh_every: timedelta = timedelta(minutes=15)
    failure_window: timedelta = timedelta(minutes=15)
    server_version: str = SERVER_VERSION


@dataclass
class QbwcService:
    sessions_factory: async_sessionmaker[AsyncSession]
    options: GatewayOptions
    serialise_writes: bool = False  # SQLite: one writer at a time inside this process
    after_commit: Callable[[], None] = lambda: None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def _window(self) -> int:
        return plan.window_for(self.options.limits)

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncSession]:
        guard = self._lock if self.serialise_writes else contextlib.nullcontext()
        async with guard, self.sessions_factory() as db:
            try:
                yield db
                await db.commit()
            except BaseException:
                await db.rollback()
                raise
        self.after_commit()

    async def handle(self, call: Call) -> str | int | list[str]:
        handler = getattr(self, f"op_{call.operation.name}", None)
        if handler is None:  # every operation in soap.OPERATIONS has a method below
            raise SoapFault(f"{call.operation.name} is not implemented", "Server")
        for attempt in range(3):
            try:
                result: str | int | list[str] = await handler(call)
                return result
            except OperationalError as exc:
                # SQLite refuses a write while another connection writes; try again shortly.
                if "locked" not in str(exc).lower() or attempt == 2:
                    raise
                await asyncio.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")

    # -- version handshake -------------------------------------------------------------------

    async def op_serverVersion(self, call: Call) -> str:
        return self.options.server_version

    async def op_getServerVersion(self, call: Call) -> str:
        return self.options.server_version

    async def op_clientVersion(self, call: Call) -> str:
        version = call.text("strVersion").strip()
        major = version.split(".", 1)[0]
        if major.isdigit() and int(major) < MIN_CLIENT_MAJOR:
            return "O:2.1.0.30"
        return ""

    # -- authenticate ------------------------------------------------------------------------

    async def op_authenticate(self, call: Call) -> list[str]:
        username = call.text("strUserName").strip()
        password = call.text("strPassword")
        async with self._transaction() as db:
            failures = await sessions.recent_failures(db, username, self.options.failure_window)
        delay = sessions.failure_delay(failures)
        if delay:
            await asyncio.sleep(delay)
        async with self._transaction() as db:
            tenant = await sessions.check_credentials(db, username, password)
            if tenant is None:
                await sessions.record_failure(db, username, self.options.failure_window)
                log.info("qbwc_auth_failed", username=username[:100])
                return ["", "nvu", "", ""]
            await sessions.clear_failures(db, username)
            live = await sessions.end_stale_sessions(db, tenant.id, self.options.session_timeout)
            for ended in live.ended:
                await self._abandon_outstanding(db, ended, "the session ended without an answer")
        async with self._transaction() as db:
            tenant_row = await db.get(Tenant, tenant.id)
            assert tenant_row is not None
            if live.busy:
                return [sessions_ticket_placeholder(), "busy", "", ""]
            if not await self._has_work(db, tenant_row, plan.plan_defaults(None), at_start=True):
                return [sessions_ticket_placeholder(), "none", "", ""]
            row = await sessions.open_session(db, tenant_row, {})
            if row is None:
                return [sessions_ticket_placeholder(), "busy", "", ""]
            log.info("qbwc_session_opened", tenant_id=tenant.id)
            return [row.ticket, tenant_row.qb_company_path or "", "", ""]

    async def _abandon_outstanding(self, db: AsyncSession, row: QbwcSession, reason: str) -> None:
        ctx = results.Ctx(db, row.tenant_id, plan.plan_state(row))
        for request in await sessions.outstanding_requests(db, row):
            if request.purpose == "writes":
                await results.mark_in_doubt(ctx, request, reason)
            else:
                request.state = "failed"
                db.add(request)

    # -- sendRequestXML ----------------------------------------------------------------------

    async def op_sendRequestXML(self, call: Call) -> str:
        async with self._transaction() as db:
            row = await sessions.live_session(db, call.text("ticket"), self.options.session_timeout)
            if row is None:
                return ""
            sessions.touch(row)
            tenant = await db.get(Tenant, row.tenant_id)
            assert tenant is not None
            state = plan.plan_state(row)
            if row.expected_call == "receiveResponseXML":
                # reference §1.3: an answer went missing. Writes in it are now in doubt and are
                # resolved before anything else is written (the plan starts with recovery).
                await self._abandon_outstanding(db, row, "the Web Connector skipped its answer")
                if (state.get("outstanding") or {}).get("purpose") == "lists":
                    # Iterators of the lost answer are unknown: read the lists again.
                    state["lists_started"], state["iterators"] = False, {}
                state["outstanding"] = None
            if row.phase == "start":
                problem = self._start(row, tenant, call)
                if problem:
                    sessions.finish(row, "failed", problem)
                    row.expected_call = "getLastError"
                    db.add(row)
                    log.warning("qbwc_session_refused", tenant_id=tenant.id, reason=problem)
                    return ""
            version = row.qbxml_version or tenant.qbxml_version
            outgoing = await self._next_set(db, tenant, version, state)
            if outgoing is None:
                row.last_error = "Done: nothing more to send."
                row.expected_call = "getLastError"
                row.plan = dict(state)
                db.add(row)
                return ""
            request = QbwcRequest(
                tenant_id=tenant.id,
                ticket=row.ticket,
                message_set_id=outgoing.message_set_id,
                purpose=outgoing.purpose,
                entry_ids=outgoing.entry_ids,
                request_xml=outgoing.xml,
            )
            db.add(request)
            await db.flush()
            if outgoing.purpose == "writes":
                for item in await results.items_of(
                    results.Ctx(db, tenant.id, state), outgoing.entry_ids
                ):
                    item.state = "sent"
                    item.attempts += 1
                    item.request_id = plan.entry_request_id(item.entry_id)
                    item.message_set_id = outgoing.message_set_id
                    item.updated_at = utcnow()
                    db.add(item)
            state["outstanding"] = {
                "id": request.id,
                "purpose": outgoing.purpose,
                "meta": outgoing.meta,
            }
            row.expected_call = "receiveResponseXML"
            row.state = "working"
            row.phase = outgoing.purpose
            row.plan = dict(state)
            db.add(row)
            return outgoing.xml

    def _start(self, row: QbwcSession, tenant: Tenant, call: Call) -> str | None:
        info = read_hcp(call.text("strHCPResponse"), max_bytes=self.options.max_soap_bytes)
        label = tenant.qb_company_path or f"the company file of {tenant.name}"
        problem = file_id_problem(
            info, owner_id=OWNER_ID, expected_file_id=tenant.qb_file_id, expected_label=label
        )
        if problem:
            return problem
        version = negotiate_version(
            tenant.qbxml_version, info, call.number("qbXMLMajorVers"), call.number("qbXMLMinorVers")
        )
        if version is None:
            return (
                "This QuickBooks speaks no qbXML version the bridge supports (13.0 or 16.0); "
                "QuickBooks 2014 or later is needed."
            )
        row.qbxml_version = version
        row.company_path = call.text("strCompanyFileName")[:500] or row.company_path
        return None

    async def _next_set(
        self, db: AsyncSession, tenant: Tenant, version: str, state: dict[str, Any]
    ) -> plan.OutgoingSet | None:
        ctx = results.Ctx(db, tenant.id, state)
        doubtful = await plan.in_doubt_sets(db, tenant.id)
        if doubtful:
            return await plan.recovery_set(db, tenant.id, version, doubtful[0])
        if state["link_names"]:
            return plan.link_set(version, state["link_names"])
        if not state["lists_done"] and state["lists_started"] and not state["iterators"]:
            state["lists_done"] = True
        if not state["lists_done"]:
            return await plan.list_set(db, tenant.id, version, state)
        candidates = await plan.draft_candidates(db, tenant.id, state, self._window)
        if candidates:
            return plan.drafts_set(version, candidates)
        for item in await plan.contact_repeats(db, tenant.id, state, self._window):
            results.set_state(
                ctx, item, "posted", "posted", code="0", message="already in QuickBooks"
            )
        while True:
            outgoing, rejected = await plan.writes_set(
                db, tenant.id, version, state, self.options.limits
            )
            for bad in rejected:
                results.set_state(
                    ctx, bad.item, "failed", "failed", code=bad.code, message=bad.reason
                )
            if outgoing is not None or not rejected:
                # reconciliation hook: after the writes, read QuickBooks if a person asked.
                return outgoing or await reconciliation_hook.next_set(db, tenant.id, version, state)

    async def _remaining_units(
        self, db: AsyncSession, tenant: Tenant, state: dict[str, Any]
    ) -> int:
        units = len(await plan.in_doubt_sets(db, tenant.id))
        units += 1 if state["link_names"] else 0
        units += 0 if state["lists_done"] else 1 + len(state["iterators"])
        units += 1 if await plan.draft_candidates(db, tenant.id, state, self._window) else 0
        sendable = await plan.sendable_count(db, tenant.id, state["deferred"])
        units += math.ceil(sendable / self.options.limits.max_requests)
        units += 1 if await reconciliation_hook.has_work(db, tenant.id, state) else 0
        return units

    async def _has_work(
        self, db: AsyncSession, tenant: Tenant, state: dict[str, Any], *, at_start: bool
    ) -> bool:
        if await plan.in_doubt_sets(db, tenant.id) or state["link_names"]:
            return True
        if at_start:
            refreshed = await lists.latest_refresh(db, tenant.id)
            if refreshed is None or aware(refreshed) < utcnow() - self.options.list_refresh_every:
                return True
        elif not state["lists_done"]:
            return True
        if await plan.draft_candidates(db, tenant.id, state, self._window):
            return True
        # Approved entries remain. If none of them can go out after all (waiting for a
        # dependency), the next sendRequestXML says so and the update ends normally.
        if await plan.sendable_count(db, tenant.id, state["deferred"]) > 0:
            return True
        return await reconciliation_hook.has_work(db, tenant.id, state)  # reconciliation hook

    # -- receiveResponseXML ------------------------------------------------------------------

    async def op_receiveResponseXML(self, call: Call) -> int:
        async with self._transaction() as db:
            row = await sessions.live_session(db, call.text("ticket"), self.options.session_timeout)
            if row is None:
                return -1
            sessions.touch(row)
            tenant = await db.get(Tenant, row.tenant_id)
            assert tenant is not None
            state = plan.plan_state(row)
            outstanding = state.get("outstanding")
            request = await db.get(QbwcRequest, outstanding["id"]) if outstanding else None
            if outstanding is None or request is None or row.expected_call != "receiveResponseXML":
                sessions.finish(row, "failed", "An answer arrived that the bridge did not ask for.")
                row.expected_call = "getLastError"
                db.add(row)
                return -1
            ctx = results.Ctx(db, tenant.id, state)
            response_text = call.text("response")
            hresult = call.text("hresult").strip()
            message = call.text("message").strip()
            request.response_xml = response_text
            request.hresult = hresult[:16] or None
            request.answered_at = utcnow()
            db.add(request)
            fatal = await self._apply(ctx, request, outstanding, response_text, hresult, message)
            state["outstanding"] = None
            state["units_done"] = int(state["units_done"]) + 1
            if fatal:
                sessions.finish(row, "failed", fatal)
                row.expected_call = "getLastError"
                row.plan = dict(state)
                db.add(row)
                return -101
            more = await self._has_work(db, tenant, state, at_start=False)
            if not more:
                row.expected_call = "closeConnection"
                row.progress = 100
                row.plan = dict(state)
                db.add(row)
                return 100
            remaining = await self._remaining_units(db, tenant, state)
            done = int(state["units_done"])
            progress = max(1, min(99, (100 * done) // max(1, done + remaining)))
            row.progress = progress
            row.expected_call = "sendRequestXML"
            row.plan = dict(state)
            db.add(row)
            return progress

    async def _apply(
        self,
        ctx: results.Ctx,
        request: QbwcRequest,
        outstanding: dict[str, Any],
        response_text: str,
        hresult: str,
        message: str,
    ) -> str | None:
        """Apply one answer; return a message when the session has to stop."""
        purpose = request.purpose
        parsed = None
        if response_text.strip() and not hresult:
            try:
                parsed = parse_response(response_text, max_bytes=self.options.max_soap_bytes)
            except UnsafeXmlError as exc:
                hresult, message = "unreadable", f"the response could not be read: {exc}"
        elif not hresult:
            hresult, message = "empty", "QuickBooks returned no response"
        if parsed is None:
            if purpose == "writes":
                if hresult.lower() == results.PARSE_ERROR_HRESULT.lower():
                    await results.apply_whole_set_failure(ctx, request, hresult, message)
                else:
                    await results.mark_in_doubt(
                        ctx, request, f"QuickBooks did not answer ({hresult}: {message})"
                    )
                return None
            request.state = "failed"
            ctx.db.add(request)
            ctx.plan["errors"] = int(ctx.plan["errors"]) + 1
            if purpose == "lists":
                ctx.plan["lists_started"] = False
                ctx.plan["iterators"] = {}
            if purpose == "link":
                ctx.plan["link_names"] = {}
            if purpose == reconciliation_hook.PURPOSE:  # reconciliation hook
                await reconciliation_hook.failed(
                    ctx.db, ctx.tenant_id, outstanding["meta"], f"{hresult}: {message}"
                )
            if int(ctx.plan["errors"]) >= MAX_SET_ERRORS:
                return (
                    f"QuickBooks kept failing to answer ({hresult}: {message}); the update "
                    "stopped and will continue on the next run."
                )
            return None
        request.state = "answered"
        if purpose == "writes":
            await results.apply_writes(ctx, request, parsed)
        elif purpose == "recovery":
            doubtful = await ctx.db.get(QbwcRequest, outstanding["meta"]["recovering"])
            if doubtful is not None:
                await results.apply_recovery(ctx, doubtful, parsed)
        elif purpose == "link":
            await results.apply_links(ctx, request.entry_ids, parsed)
        elif purpose == "lists":
            await self._apply_lists(ctx, parsed)
        elif purpose == "drafts":
            await results.apply_drafts(ctx, request.entry_ids, parsed)
        elif purpose == reconciliation_hook.PURPOSE:  # reconciliation hook
            await reconciliation_hook.apply(ctx.db, ctx.tenant_id, outstanding["meta"], parsed)
        ctx.db.add(request)
        return None

    async def _apply_lists(self, ctx: results.Ctx, parsed: Any) -> None:
        iterators: dict[str, str] = {}
        for rs in parsed.results:
            list_type = lists.list_type_of(rs.request_id or "")
            if list_type is None:
                continue
            if rs.severity == "Error":
                log.warning("list_query_failed", list_type=list_type, status=rs.status_code)
                continue
            changes = await lists.apply_list_result(ctx.db, ctx.tenant_id, list_type, rs)
            if changes:
                pending.stage(
                    ctx.db,
                    m.ListChangesMessage(
                        tenant_id=ctx.tenant_id, list_type=list_type, changes=changes
                    ),
                )
            if rs.iterator_id and (rs.iterator_remaining or 0) > 0:
                iterators[list_type] = rs.iterator_id
        ctx.plan["iterators"] = iterators
        if not iterators:
            ctx.plan["lists_done"] = True

    # -- housekeeping ------------------------------------------------------------------------

    async def expire_stale_sessions(self) -> int:
        """End sessions whose Web Connector stopped calling; their unanswered writes become
        ``in_doubt`` now, so ``omni2qbd status`` shows it without waiting for a new login."""
        cutoff = utcnow() - self.options.session_timeout
        async with self._transaction() as db:
            # Maintenance across tenants: only the tenant ids are read here; each tenant's
            # sessions are then handled through the tenant scope.
            query = select(QbwcSession.tenant_id).where(
                col(QbwcSession.state).in_(sessions.LIVE_STATES),
                col(QbwcSession.last_seen_at) < cutoff,
            )
            tenant_ids = sorted(set((await db.exec(query)).all()))
            ended = 0
            for tenant_id in tenant_ids:
                live = await sessions.end_stale_sessions(
                    db, tenant_id, self.options.session_timeout, only_stale=True
                )
                for row in live.ended:
                    await self._abandon_outstanding(db, row, "the session expired")
                    ended += 1
            return ended

    # -- the rest ----------------------------------------------------------------------------

    async def op_getLastError(self, call: Call) -> str:
        async with self._transaction() as db:
            row = await sessions.any_session(db, call.text("ticket"))
            if row is None:
                return EXPIRED_TICKET
            sessions.touch(row)
            if row.expected_call == "getLastError":
                row.expected_call = "closeConnection"
            db.add(row)
            return row.last_error or "No error."

    async def op_connectionError(self, call: Call) -> str:
        async with self._transaction() as db:
            row = await sessions.live_session(db, call.text("ticket"), self.options.session_timeout)
            if row is not None:
                hresult = call.text("hresult").strip()
                message = call.text("message").strip()
                sessions.finish(
                    row,
                    "failed",
                    f"The Web Connector could not open QuickBooks ({hresult}: {message}). "
                    "Open QuickBooks with the company file and run the update again.",
                )
                db.add(row)
        return "done"

    async def op_closeConnection(self, call: Call) -> str:
        async with self._transaction() as db:
            row = await sessions.any_session(db, call.text("ticket"))
            if row is None:
                return "OK"
            summary = row.last_error if row.state == "failed" else None
            if row.state in sessions.LIVE_STATES:
                await self._abandon_outstanding(db, row, "the session was closed without an answer")
                sessions.finish(row, "closed")
                db.add(row)
            counts = await self._counts(db, row)
            return summary or f"Done. {counts}"

    async def _counts(self, db: AsyncSession, row: QbwcSession) -> str:
        items = (await db.exec(scoped(OutboxItem, row.tenant_id))).all()
        tally: dict[str, int] = {}
        for item in items:
            tally[item.state] = tally.get(item.state, 0) + 1
        parts = [
            f"{tally[state]} {state}"
            for state in ("posted", "failed", "locked", "queued", "approved", "in_doubt")
            if tally.get(state)
        ]
        return ", ".join(parts) or "Nothing to send."

    async def op_getInteractiveURL(self, call: Call) -> str:
        return f"{self.options.public_url.rstrip('/')}/console/"

    async def op_interactiveDone(self, call: Call) -> str:
        return "Done"

    async def op_interactiveRejected(self, call: Call) -> str:
        return "Interactive mode declined; the bridge needs nothing interactive."


def sessions_ticket_placeholder() -> str:
    """A ticket for answers that open no session (``none``/``busy``); it matches nothing."""
    return f"x{new_ticket()[:31]}"
