"""The Web Connector callbacks (reference §1.3, §1.4): each SOAP operation mapped to a step
of ``WebConnectorSession`` (``session.py``), inside one database transaction.

Return values are exactly the ones §1.4 gives meaning to: ``authenticate`` always four
strings; ``receiveResponseXML`` 1-99 while work remains, 100 when done, negative when the
session must stop, with ``getLastError`` saying why in words. A ticket that is unknown,
closed or expired answers nothing of its tenant.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import structlog
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway import login_throttle, pending, repository
from omni2qbd_gateway.reader import EngineReader, LoneReader
from omni2qbd_gateway.session import (
    GatewayOptions,
    WebConnectorSession,
    end_session,
)
from omni2qbd_gateway.soap import Call, SoapFault
from omni2qbd_gateway.states import NextCall, SessionState
from omni2qbd_shared.db.models import QbwcSession, aware, utcnow
from omni2qbd_shared.secrets import new_ticket

__all__ = ["EXPIRED_TICKET", "GatewayOptions", "QbwcService"]

log = structlog.get_logger(__name__)

MIN_CLIENT_MAJOR = 2
EXPIRED_TICKET = (
    "This Web Connector session is unknown or has expired. Nothing is lost: run the update "
    "again and the bridge continues where it stopped."
)
QBWC_REALM = "qbwc"
STOPPED_CALLING = "The Web Connector stopped calling; the session expired."


@dataclass
class QbwcService:
    sessions_factory: async_sessionmaker[AsyncSession]
    options: GatewayOptions
    serialise_writes: bool = False  # SQLite: one writer at a time inside this process
    after_commit: Callable[[], None] = lambda: None
    throttle: login_throttle.ThrottlePolicy = field(default_factory=login_throttle.ThrottlePolicy)
    # Lone reads outside any transaction (``reader.py``); None: through the main engine.
    reader: LoneReader | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

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
            staged = bool(db.info.get(pending.STAGED))
        if staged:  # wake the publisher only when this call left messages to publish
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

    def _reader(self) -> LoneReader:
        if self.reader is None:
            bind = self.sessions_factory.kw.get("bind")
            assert isinstance(bind, AsyncEngine), "the session factory is bound to one engine"
            self.reader = EngineReader(bind)
        return self.reader

    @contextlib.asynccontextmanager
    async def _live(self, ticket: str) -> AsyncIterator[WebConnectorSession | None]:
        """The live session of ``ticket`` (touched and saved at the end), or None."""
        async with self._transaction() as db:
            row = await repository.session_by_ticket(db, ticket)
            if row is None or not repository.is_live(row, self.options.session_timeout):
                yield None
                return
            session = await WebConnectorSession.load(db, row, self.options)
            session.touch()
            yield session
            session.save()

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
        attempt = login_throttle.Attempt(QBWC_REALM, username[:100], call.client or None)
        async with self._transaction() as db:
            reservation = await login_throttle.reserve(db, attempt, self.throttle)
            tenant = (
                None if reservation.refusal else await repository.tenant_by_username(db, username)
            )
        if reservation.refusal is not None:
            # Refused before any password is checked: an answer, not a sleep.
            log.info("qbwc_auth_refused", reason=reservation.refusal.message)
            return ["", "nvu", "", ""]
        # Argon2 runs outside any transaction: no other call waits behind a login.
        if not await repository.verify_tenant_password(tenant, password):
            log.info("qbwc_auth_failed", username=username[:100])
            return ["", "nvu", "", ""]
        assert tenant is not None
        renewed_hash = await repository.renewed_password_hash(tenant, password)
        async with self._transaction() as db:
            await login_throttle.succeeded(db, reservation)
            if renewed_hash is not None:
                await repository.store_renewed_password_hash(db, tenant, renewed_hash)
            busy = await self._settle_live_sessions(db, tenant.id, call.client)
            if busy:
                return [placeholder_ticket(), "busy", "", ""]
            # Asked of a session not yet stored: with nothing to do, none is opened.
            probe = WebConnectorSession(
                db, QbwcSession(ticket="", tenant_id=tenant.id), tenant, self.options
            )
            if not await probe.has_work(at_start=True):
                return [placeholder_ticket(), "none", "", ""]
            opened = await repository.open_session(db, tenant, {"client": call.client or None})
            if opened is None:
                return [placeholder_ticket(), "busy", "", ""]
            log.info("qbwc_session_opened", tenant_id=tenant.id)
            return [opened.ticket, tenant.qb_company_path or "", "", ""]

    async def _settle_live_sessions(self, db: AsyncSession, tenant_id: str, client: str) -> bool:
        """End the tenant's sessions a new login replaces; True while another is live.

        Replaced: one that stopped calling (expired), one whose only missing call is
        closeConnection (reference §1.3: the Web Connector has moved on), and one idle from
        the address now logging in with the right password (the same Web Connector after a
        crash: its unanswered writes become in doubt and are resolved first). A session with
        a call in flight (its row locked) or live from another address means ``busy``.
        """
        now = utcnow()
        rows = await repository.live_sessions(db, tenant_id, skip_locked=True)
        busy = False
        for row in rows:
            silent = now - aware(row.last_seen_at)
            same_client = bool(client) and (row.plan or {}).get("client") == client
            ending: tuple[SessionState, str] | None = None
            if silent > self.options.session_timeout:
                ending = (SessionState.EXPIRED, STOPPED_CALLING)
            elif row.expected_call == NextCall.CLOSE:
                ending = (
                    SessionState.CLOSED,
                    "closed when the Web Connector started a new session",
                )
            elif same_client and silent >= self.options.takeover_after:
                ending = (
                    SessionState.CLOSED,
                    "taken over by a new login of the same Web Connector",
                )
                log.info("qbwc_session_taken_over", tenant_id=tenant_id)
            if ending is None:
                busy = True
            else:
                await end_session(db, row, self.options, *ending)
        return busy

    # -- sendRequestXML / receiveResponseXML -------------------------------------------------

    async def op_sendRequestXML(self, call: Call) -> str:
        async with self._live(call.text("ticket")) as session:
            if session is None:
                return ""
            return await session.next_set(
                call.text("strHCPResponse"),
                call.text("strCompanyFileName"),
                call.number("qbXMLMajorVers"),
                call.number("qbXMLMinorVers"),
            )

    async def op_receiveResponseXML(self, call: Call) -> int:
        async with self._live(call.text("ticket")) as session:
            if session is None:
                return -1
            return await session.apply_answer(
                call.text("response"), call.text("hresult").strip(), call.text("message").strip()
            )

    # -- housekeeping ------------------------------------------------------------------------

    async def expire_stale_sessions(self) -> int:
        """End sessions whose Web Connector stopped calling; their unanswered writes become
        ``in_doubt`` now, so ``omni2qbd status`` shows it without waiting for a new login."""
        timeout = self.options.session_timeout
        ended = 0
        async with self._transaction() as db:
            for tenant_id in await repository.stale_session_tenants(db, timeout):
                for row in await repository.live_sessions(db, tenant_id, skip_locked=True):
                    if not repository.is_live(row, timeout):
                        await end_session(
                            db, row, self.options, SessionState.EXPIRED, STOPPED_CALLING
                        )
                        ended += 1
        return ended

    # -- the rest ----------------------------------------------------------------------------

    async def op_getLastError(self, call: Call) -> str:
        # One read, outside any transaction and without loading the row: the Web Connector
        # asks this often, and usually nothing changes.
        glanced = await repository.glance(self._reader(), call.text("ticket"))
        if glanced is None or not _may_speak(glanced, self.options):
            return EXPIRED_TICKET
        if glanced.expected_call == NextCall.LAST_ERROR:
            # Only the expected call counts as a sign of life: a Web Connector polling
            # getLastError cannot keep a session alive past its timeout.
            async with self._transaction() as db:
                await repository.advance(db, glanced, NextCall.CLOSE.value, utcnow())
        return glanced.last_error or "No error."

    async def op_connectionError(self, call: Call) -> str:
        async with self._live(call.text("ticket")) as session:
            if session is not None:
                hresult = call.text("hresult").strip()
                message = call.text("message").strip()
                session.fail(
                    f"The Web Connector could not open QuickBooks ({hresult}: {message}). "
                    "Open QuickBooks with the company file and run the update again."
                )
                session.row.expected_call = NextCall.CLOSE.value
        return "done"

    async def op_closeConnection(self, call: Call) -> str:
        async with self._transaction() as db:
            row = await repository.session_by_ticket(db, call.text("ticket"))
            if row is None or not _may_speak(row, self.options):
                return "OK"
            session = await WebConnectorSession.load(db, row, self.options)
            summary = row.last_error if row.state == SessionState.FAILED else None
            if row.state in (SessionState.AUTHENTICATED, SessionState.WORKING):
                await session.abandon_outstanding("the session was closed without an answer")
                session.end(SessionState.CLOSED)
            row.expected_call = NextCall.NOTHING.value
            session.save()
            return summary or session.closing_message()

    async def op_getInteractiveURL(self, call: Call) -> str:
        return f"{self.options.public_url.rstrip('/')}/console/"

    async def op_interactiveDone(self, call: Call) -> str:
        return "Done"

    async def op_interactiveRejected(self, call: Call) -> str:
        return "Interactive mode declined; the bridge needs nothing interactive."


def _may_speak(row: repository.SessionFacts, options: GatewayOptions) -> bool:
    """Whether getLastError/closeConnection may answer about this session: while it is live,
    or when it failed and the Web Connector has yet to hear why. A session closed, expired,
    ended by an operator or a password rotation answers nothing of the tenant."""
    if row.expected_call == NextCall.NOTHING:
        return False
    if repository.is_live(row, options.session_timeout):
        return True
    return row.state == SessionState.FAILED and row.expected_call in (
        NextCall.LAST_ERROR,
        NextCall.CLOSE,
    )


def placeholder_ticket() -> str:
    """A ticket for answers that open no session (``none``/``busy``); it matches nothing."""
    return f"x{new_ticket()[:31]}"
