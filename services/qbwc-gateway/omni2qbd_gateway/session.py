"""One Web Connector session as one typed object, persisted by ticket (the qbwc gem's idea).

``WebConnectorSession`` is loaded from its row at the start of a call and saved at its end,
inside the call's transaction, so any gateway process can answer any call. Its methods are
the session's steps; ``protocol.py`` maps each SOAP operation to one of them:

- ``next_set`` (sendRequestXML): the next qbXML message set of the plan, or "" when done;
- ``apply_answer`` (receiveResponseXML): apply QuickBooks' answer; the percentage done;
- ``fail``: stop with a reason that ``getLastError`` gives the Web Connector;
- ``progress``: 1-99 while work remains, 100 when done;
- ``closing_message``: what *this* run did, for closeConnection.

The outbox window (the next approved entries and their links) is read at most once per call
(issue 15 point 4) and shared by every step of the plan in that call.

What goes out is decided by ``plan.py`` and what an answer means by ``results.py``, both
pure; this module reads what they need and records what they decide through
``repository.py`` (every gateway write but the list mirror's, which is ``lists.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway import lists, pending, plan, repository, results
from omni2qbd_gateway import reconciliation_session as reconciliation_hook
from omni2qbd_gateway.company import file_id_problem, negotiate_version, read_hcp
from omni2qbd_gateway.qbxml_io import AnswerRefused, ResponseSet, parse_response
from omni2qbd_gateway.qwc import OWNER_ID
from omni2qbd_gateway.states import (
    EntryState,
    NextCall,
    Purpose,
    RequestState,
    SessionState,
)
from omni2qbd_shared import messages as m
from omni2qbd_shared.db.models import (
    OutboxItem,
    QbLink,
    QbwcRequest,
    QbwcSession,
    Tenant,
    aware,
    utcnow,
)
from omni2qbd_shared.xmlsafe import UnsafeXmlError

log = structlog.get_logger(__name__)

MAX_SET_ERRORS = 3


@dataclass
class SetSizing:
    """Write sets are sized by what QuickBooks answers: they start at ``initial`` requests,
    double while QuickBooks answers a full set in under a quarter of ``target``, halve after
    an answer slower than ``target`` or none at all, never above ``cap`` (and never above
    ``Limits.max_bytes``)."""

    initial: int = 50
    cap: int = 400
    target: timedelta = timedelta(seconds=60)

    def next_size(self, current: int, *, full: bool, elapsed: timedelta | None) -> int:
        if elapsed is None or elapsed > self.target:
            return max(1, min(current, self.cap) // 2)
        if full and elapsed * 4 < self.target:
            return min(self.cap, current * 2)
        return current


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
    server_version: str = "Omni2QBD gateway 0.1.0"
    sizing: SetSizing = field(default_factory=SetSizing)
    # A login from the address of a live session that has been silent this long takes it
    # over (the same Web Connector restarted); from another address only once it expired.
    takeover_after: timedelta = timedelta(seconds=60)


class WebConnectorSession:
    def __init__(
        self, db: AsyncSession, row: QbwcSession, tenant: Tenant, options: GatewayOptions
    ) -> None:
        self.db = db
        self.row = row
        self.tenant = tenant
        self.options = options
        self.plan = plan.SessionPlan.from_json(row.plan)
        self._window: plan.Window | None = None
        self._window_bodies = False

    @classmethod
    async def load(
        cls, db: AsyncSession, row: QbwcSession, options: GatewayOptions
    ) -> WebConnectorSession:
        tenant = await db.get(Tenant, row.tenant_id)
        assert tenant is not None  # a foreign key
        return cls(db, row, tenant, options)

    # -- bookkeeping ---------------------------------------------------------------------------

    def save(self) -> None:
        repository.save_session(self.db, self.row, self.plan.to_json())

    async def record(
        self,
        items: list[OutboxItem],
        outcome: results.SetOutcome | list[results.Decision],
        links: dict[plan.DocKey, QbLink] | None = None,
    ) -> None:
        """Apply ``results.py``'s decisions: to the plan (what this run did, what to retry
        or link next) and, through the repository, to the database."""
        decisions = outcome.decisions if isinstance(outcome, results.SetOutcome) else outcome
        state = self.plan
        for decision in decisions:
            if decision.outcome in results.RUN_OUTCOMES:
                state.done[decision.outcome] = state.done.get(decision.outcome, 0) + 1
            if decision.retry_next_run and decision.entry_id not in state.deferred:
                state.deferred.append(decision.entry_id)
            if decision.link_name is not None:
                state.link_names[decision.entry_id] = list(decision.link_name)
        if isinstance(outcome, results.SetOutcome):
            state.checked_drafts(outcome.checked)
        await repository.apply_decisions(self.db, self.tenant.id, items, decisions, links)

    def touch(self) -> None:
        self.row.last_seen_at = utcnow()

    @property
    def set_size(self) -> int:
        return self.plan.set_size or self.options.sizing.initial

    @property
    def limits(self) -> plan.Limits:
        return plan.Limits(self.set_size, self.options.limits.max_bytes)

    async def window(self, *, bodies: bool = True) -> plan.Window:
        """The outbox window, read once per call. ``bodies=False`` (progress only counts and
        looks at keys and links): the entries' JSON bodies are not read, which on a set of
        400 is most of the cost of answering receiveResponseXML."""
        if self._window is None or (bodies and not self._window_bodies):
            self._window = await repository.load_window(
                self.db,
                self.tenant.id,
                self.plan.deferred,
                plan.window_for(self.set_size),
                bodies=bodies,
            )
            self._window_bodies = bodies
        return self._window

    def fail(self, message: str) -> None:
        """Stop the session; ``getLastError`` tells the Web Connector why."""
        self.end(SessionState.FAILED, message)
        self.row.expected_call = NextCall.LAST_ERROR.value

    def end(self, state: SessionState, reason: str | None = None) -> None:
        self.row.state = state.value
        self.row.ended_at = utcnow()
        if reason:
            self.row.last_error = reason
        self.save()

    async def abandon_outstanding(self, reason: str) -> None:
        """The answer to what was sent will not come: writes in it are in doubt (resolved
        before anything else is written), queries are simply failed."""
        for request in await repository.outstanding_requests(self.db, self.row):
            if request.purpose == Purpose.WRITES:
                await self._unanswered(request, reason)
            else:
                repository.set_request_state(self.db, request, RequestState.FAILED)
        self.plan.outstanding = None

    async def _unanswered(self, request: QbwcRequest, reason: str) -> None:
        items = await repository.items_of(self.db, self.tenant.id, request.entry_ids)
        outcome = results.unanswered(items, reason)
        repository.set_request_state(self.db, request, outcome.set_state)
        await self.record(items, outcome)

    # -- sendRequestXML ------------------------------------------------------------------------

    def start(self, hcp_response: str, company_file: str, major: int, minor: int) -> str | None:
        """The first sendRequestXML: the right company file, a qbXML version we speak."""
        info = read_hcp(hcp_response, max_bytes=self.options.max_soap_bytes)
        tenant = self.tenant
        label = tenant.qb_company_path or f"the company file of {tenant.name}"
        problem = file_id_problem(
            info, owner_id=OWNER_ID, expected_file_id=tenant.qb_file_id, expected_label=label
        )
        if problem:
            return problem
        if info is not None:
            self.plan.host = dict(info.host)
        version = negotiate_version(tenant.qbxml_version, info, major, minor)
        if version is None:
            return (
                "This QuickBooks speaks no qbXML version the bridge supports (13.0 or 16.0); "
                "QuickBooks 2014 or later is needed."
            )
        self.row.qbxml_version = version
        self.row.company_path = company_file[:500] or self.row.company_path
        return None

    async def next_set(self, hcp_response: str, company_file: str, major: int, minor: int) -> str:
        row = self.row
        if row.expected_call == NextCall.RECEIVE:
            # reference §1.3: an answer went missing. Writes in it are now in doubt and are
            # resolved before anything else is written (the plan starts with recovery).
            lost = self.plan.outstanding
            await self.abandon_outstanding("the Web Connector skipped its answer")
            if lost is not None and lost.purpose == Purpose.LISTS:
                # Iterators of the lost answer are unknown: read the lists again.
                self.plan.lists_started, self.plan.iterators = False, {}
        if row.phase == Purpose.START:
            problem = self.start(hcp_response, company_file, major, minor)
            if problem:
                self.fail(problem)
                log.warning("qbwc_session_refused", tenant_id=self.tenant.id, reason=problem)
                return ""
        version = row.qbxml_version or self.tenant.qbxml_version
        outgoing = await self._plan_next(version)
        if outgoing is None:
            row.last_error = "Done: nothing more to send."
            row.expected_call = NextCall.LAST_ERROR.value
            self.save()
            return ""
        known = self._window.items if self._window is not None else []
        request = await repository.record_sent_set(self.db, row, outgoing, known)
        assert request.id is not None
        self.plan.outstanding = plan.Outstanding(request.id, outgoing.purpose, outgoing.meta)
        row.expected_call = NextCall.RECEIVE.value
        row.state = SessionState.WORKING.value
        row.phase = outgoing.purpose
        self.save()
        return outgoing.xml

    async def _plan_next(self, version: str) -> plan.OutgoingSet | None:
        """The plan, in order: recovery, names to link, lists, drafts, writes (plan.py)."""
        state = self.plan
        recovery = await self._recovery_set(version)
        if recovery is not None:
            return recovery
        if state.link_names:
            return plan.link_set(version, state.link_names)
        if not self._lists_read():
            return await self._list_set(version)
        window = await self.window(bodies=False)  # bodies: read for the write set's entries
        candidates = plan.draft_candidates(window, state)
        if candidates:
            return plan.drafts_set(version, candidates)
        repeats = plan.contact_repeats(window, state)
        await self.record(repeats, [results.already_posted(item) for item in repeats])
        return await self._writes_or_reading(version, window)

    async def _recovery_set(self, version: str) -> plan.OutgoingSet | None:
        """A query for the first set still in doubt; sets nothing of which is in doubt any
        more are resolved on the way."""
        db, tenant_id = self.db, self.tenant.id
        for doubtful in await repository.in_doubt_sets(db, tenant_id):
            items = [
                item
                for item in await repository.items_of(db, tenant_id, doubtful.entry_ids)
                if item.state == EntryState.IN_DOUBT
            ]
            if items:
                links = await repository.links_for(db, tenant_id, items)
                return plan.recovery_set(version, doubtful, items, links)
            repository.set_request_state(db, doubtful, RequestState.RESOLVED)
        return None

    def _lists_read(self) -> bool:
        """Whether the list mirror is read for this run: the last page left no iterator open."""
        state = self.plan
        if not state.lists_done and state.lists_started and not state.iterators:
            state.lists_done = True
        return state.lists_done

    async def _list_set(self, version: str) -> plan.OutgoingSet:
        state = self.plan
        # The first page starts at the mirror's cursors; later pages follow the iterators.
        cursors = await lists.cursors(self.db, self.tenant.id) if not state.lists_started else {}
        return plan.list_set(version, state, {name: c.from_modified for name, c in cursors.items()})

    async def _writes_or_reading(
        self, version: str, window: plan.Window
    ) -> plan.OutgoingSet | None:
        """The next write set; once no write is left, a reconciliation reading if a person
        asked for one."""
        state = self.plan
        while True:
            outgoing, rejected = await self._write_set(version, window)
            await self.record(
                [bad.item for bad in rejected],
                [results.refused(bad.item, bad.code, bad.reason) for bad in rejected],
            )
            if outgoing is not None or not rejected:
                return outgoing or await reconciliation_hook.next_set(
                    self.db, self.tenant.id, version, state
                )
            # Each pass fails at least one entry, so this ends. When the refused ones were
            # all the window held, the next entries are read.
            if not window.sendable(state.deferred) and not window.complete:
                self._window = None
                window = await self.window(bodies=False)

    async def _write_set(
        self, version: str, window: plan.Window
    ) -> tuple[plan.OutgoingSet | None, list[plan.Rejected]]:
        """The next write set. The window is read without its entries' bodies; those of the
        first candidates are read (a set's worth, then twice as many while the set is not
        decided), so a call decodes and parses about one set of entries, not the window."""
        db, tenant_id = self.db, self.tenant.id
        candidates = plan.sendable_candidates(self.plan, window)
        limit = max(1, self.limits.max_requests)
        while True:
            await repository.load_bodies(db, tenant_id, candidates[:limit])
            batch = plan.write_candidates(candidates, limit)
            links = dict(window.links)
            links.update(await repository.links_for_keys(db, tenant_id, batch.dependency_keys))
            # Dependencies approved but outside this window (or in flight) are waited for.
            waiting = batch.keys | await repository.approved_keys(
                db, tenant_id, batch.dependency_keys
            )
            decided = plan.writes_set(version, self.plan, self.limits, batch, links, waiting)
            if decided is not None:
                return decided
            limit *= 2

    # -- receiveResponseXML --------------------------------------------------------------------

    async def apply_answer(self, response_text: str, hresult: str, message: str) -> int:
        """Apply QuickBooks' answer to the outstanding set; the percentage done (negative:
        the session stops, getLastError says why)."""
        row = self.row
        outstanding = self.plan.outstanding
        request = (
            await repository.sent_set(self.db, self.tenant.id, outstanding.request_id)
            if outstanding is not None
            else None
        )
        if outstanding is None or request is None or row.expected_call != NextCall.RECEIVE:
            self.fail("An answer arrived that the bridge did not ask for.")
            return -1
        repository.record_answer(self.db, request, response_text, hresult)
        fatal = await self._apply(request, outstanding, response_text, hresult, message)
        self.plan.outstanding = None
        self.plan.units_done += 1
        if fatal:
            self.fail(fatal)
            return -101
        percent = await self.progress()
        row.progress = percent
        row.expected_call = (NextCall.CLOSE if percent == 100 else NextCall.SEND).value
        self.save()
        return percent

    async def _apply(
        self,
        request: QbwcRequest,
        outstanding: plan.Outstanding,
        response_text: str,
        hresult: str,
        message: str,
    ) -> str | None:
        """Apply one answer; return a message when the session has to stop."""
        parsed, hresult, message = self._read_answer(response_text, hresult, message)
        if request.purpose == Purpose.WRITES:
            self._adapt_set_size(request, answered=parsed is not None)
        if parsed is None:
            return await self._no_answer(request, outstanding, hresult, message)
        repository.set_request_state(self.db, request, RequestState.ANSWERED)
        await self._apply_parsed(request, outstanding, parsed)
        return None

    def _read_answer(
        self, response_text: str, hresult: str, message: str
    ) -> tuple[ResponseSet | None, str, str]:
        """The parsed answer, or None with the hresult and message that say why there is none
        (an answer that cannot be read counts as no answer)."""
        if hresult:
            return None, hresult, message
        if not response_text.strip():
            return None, "empty", "QuickBooks returned no response"
        try:
            parsed = parse_response(response_text, max_bytes=self.options.max_soap_bytes)
        except (UnsafeXmlError, AnswerRefused) as exc:
            log.warning("qbwc_answer_refused", tenant_id=self.tenant.id, reason=str(exc))
            return None, "unreadable", f"the response could not be read: {exc}"
        return parsed, hresult, message

    async def _no_answer(
        self, request: QbwcRequest, outstanding: plan.Outstanding, hresult: str, message: str
    ) -> str | None:
        """QuickBooks answered a set with an error (or nothing readable). Writes are refused or
        in doubt; any other set fails, and the session stops at the ``MAX_SET_ERRORS``th."""
        purpose = request.purpose
        if purpose == Purpose.WRITES:
            if hresult.lower() == results.PARSE_ERROR_HRESULT.lower():
                await self._set_refused(request, hresult, message)
            else:
                await self._unanswered(request, f"QuickBooks did not answer ({hresult}: {message})")
            return None
        repository.set_request_state(self.db, request, RequestState.FAILED)
        self.plan.errors += 1
        if purpose == Purpose.LISTS:
            self.plan.lists_started, self.plan.iterators = False, {}
        if purpose == Purpose.LINK:
            self.plan.link_names = {}
        if purpose == reconciliation_hook.PURPOSE:  # reconciliation hook
            await reconciliation_hook.failed(
                self.db, self.tenant.id, outstanding.meta, f"{hresult}: {message}"
            )
        if self.plan.errors >= MAX_SET_ERRORS:
            return (
                f"QuickBooks kept failing to answer ({hresult}: {message}); the update "
                "stopped and will continue on the next run."
            )
        return None

    async def _apply_parsed(
        self, request: QbwcRequest, outstanding: plan.Outstanding, parsed: ResponseSet
    ) -> None:
        purpose = request.purpose
        if purpose == Purpose.WRITES:
            await self._apply_writes(request, parsed)
        elif purpose == Purpose.RECOVERY:
            await self._apply_recovery(outstanding, parsed)
        elif purpose == Purpose.LINK:
            await self._apply_links(request, parsed)
        elif purpose == Purpose.LISTS:
            await self._apply_lists(parsed)
        elif purpose == Purpose.DRAFTS:
            await self._apply_drafts(request, parsed)
        elif purpose == reconciliation_hook.PURPOSE:  # reconciliation hook
            await reconciliation_hook.apply(self.db, self.tenant.id, outstanding.meta, parsed)

    async def _apply_writes(self, request: QbwcRequest, parsed: ResponseSet) -> None:
        db, tenant_id = self.db, self.tenant.id
        # The entries' bodies are read only where a decision looks at one: a contact add's
        # name, a posted entry's ExternalGUID when QuickBooks' answer carries none.
        items = await repository.items_of(db, tenant_id, request.entry_ids, bodies=False)
        contacts = [item for item in items if item.entry_kind in plan.CONTACT_KINDS]
        await repository.load_bodies(db, tenant_id, contacts)
        links = await repository.links_for(db, tenant_id, items)
        outcome = results.writes(items, parsed)
        unnamed = {
            d.entry_id
            for d in outcome.decisions
            if d.saved is not None and not d.saved.external_guid
        }
        await repository.load_bodies(db, tenant_id, [i for i in items if i.entry_id in unnamed])
        await self.record(items, outcome, links)
        repository.set_request_state(db, request, outcome.set_state)
        self.plan.finish_isolated(request.entry_ids)

    async def _apply_recovery(self, outstanding: plan.Outstanding, parsed: ResponseSet) -> None:
        db, tenant_id = self.db, self.tenant.id
        recovering = outstanding.meta.get("recovering")
        doubtful = (
            await repository.sent_set(db, tenant_id, recovering)
            if isinstance(recovering, int)
            else None
        )
        if doubtful is None:
            return
        items = await repository.items_of(db, tenant_id, doubtful.entry_ids)
        links = await repository.links_for(db, tenant_id, items)  # these documents'
        outcome = results.recovery(items, links, parsed)
        await self.record(items, outcome, links)
        repository.set_request_state(db, doubtful, outcome.set_state)

    async def _apply_links(self, request: QbwcRequest, parsed: ResponseSet) -> None:
        items = await repository.items_of(self.db, self.tenant.id, request.entry_ids)
        for item in items:
            self.plan.link_names.pop(item.entry_id, None)
        await self.record(items, results.name_links(items, parsed))

    async def _apply_drafts(self, request: QbwcRequest, parsed: ResponseSet) -> None:
        db, tenant_id = self.db, self.tenant.id
        items = await repository.items_of(db, tenant_id, request.entry_ids)
        links = await repository.links_for(db, tenant_id, items)
        await self.record(items, results.drafts(items, links, parsed), links)

    async def _set_refused(self, request: QbwcRequest, hresult: str, message: str) -> None:
        """QuickBooks could not read the set at all: nothing was written; its halves go
        alone (``results.set_refused``)."""
        repository.set_request_state(self.db, request, RequestState.FAILED, hresult=hresult)
        items = await repository.items_of(self.db, self.tenant.id, request.entry_ids)
        outcome = results.set_refused(items, hresult, message)
        self.plan.split_isolated(request.entry_ids, outcome.split)
        await self.record(items, outcome)

    def _adapt_set_size(self, request: QbwcRequest, *, answered: bool) -> None:
        elapsed = (
            aware(request.answered_at) - aware(request.sent_at)
            if answered and request.answered_at is not None
            else None
        )
        current = self.set_size
        self.plan.set_size = self.options.sizing.next_size(
            current, full=len(request.entry_ids) >= current, elapsed=elapsed
        )

    async def _apply_lists(self, parsed: ResponseSet) -> None:
        iterators: dict[str, str] = {}
        for rs in parsed.results:
            list_type = lists.list_type_of(rs.request_id or "")
            if list_type is None:
                continue
            if rs.severity == "Error":
                log.warning("list_query_failed", list_type=list_type, status=rs.status_code)
                continue
            changes = await lists.apply_list_result(self.db, self.tenant.id, list_type, rs)
            if changes:
                pending.stage(
                    self.db,
                    m.ListChangesMessage(
                        tenant_id=self.tenant.id, list_type=list_type, changes=changes
                    ),
                )
            if rs.iterator_id and (rs.iterator_remaining or 0) > 0:
                iterators[list_type] = rs.iterator_id
        self.plan.iterators = iterators
        if not iterators:
            self.plan.lists_done = True

    # -- progress ------------------------------------------------------------------------------

    async def has_work(self, *, at_start: bool, in_doubt: int | None = None) -> bool:
        if in_doubt is None:
            in_doubt = await repository.in_doubt_count(self.db, self.tenant.id)
        if in_doubt or self.plan.link_names:
            return True
        if at_start:
            refreshed = await lists.latest_refresh(self.db, self.tenant.id)
            if refreshed is None or aware(refreshed) < utcnow() - self.options.list_refresh_every:
                return True
            # At login a count will do (the window with its bodies is read by the next call).
            if await repository.sendable_count(self.db, self.tenant.id, self.plan.deferred) > 0:
                return True
            return await reconciliation_hook.has_work(self.db, self.tenant.id, self.plan)
        if not self.plan.lists_done:
            return True
        window = await self.window(bodies=False)
        if plan.draft_candidates(window, self.plan):
            return True
        # Approved entries remain. If none of them can go out after all (waiting for a
        # dependency), the next sendRequestXML says so and the update ends normally.
        if window.sendable(self.plan.deferred):
            return True
        if not window.complete and (
            await repository.sendable_count(self.db, self.tenant.id, self.plan.deferred) > 0
        ):
            return True
        return await reconciliation_hook.has_work(self.db, self.tenant.id, self.plan)

    async def progress(self) -> int:
        """1-99 while work remains (sets done against sets still to go), 100 when done."""
        in_doubt = await repository.in_doubt_count(self.db, self.tenant.id)
        if not await self.has_work(at_start=False, in_doubt=in_doubt):
            return 100
        state = self.plan
        units = in_doubt
        units += 1 if state.link_names else 0
        units += 0 if state.lists_done else 1 + len(state.iterators)
        window = await self.window(bodies=False)
        units += 1 if plan.draft_candidates(window, state) else 0
        sendable = (
            len(window.sendable(state.deferred))
            if window.complete
            else await repository.sendable_count(self.db, self.tenant.id, state.deferred)
        )
        units += math.ceil(sendable / max(1, self.set_size))
        units += 1 if await reconciliation_hook.has_work(self.db, self.tenant.id, state) else 0
        done = state.units_done
        return max(1, min(99, (100 * done) // max(1, done + units)))

    def closing_message(self) -> str:
        """What this run did (not the tenant's totals)."""
        labels = (
            ("posted", "posted"),
            ("failed", "failed"),
            ("locked", "locked (changed in QuickBooks)"),
            ("retry_later", "to retry on the next run"),
        )
        parts = [
            f"{self.plan.done[key]} {label}" for key, label in labels if self.plan.done.get(key)
        ]
        if not parts:
            return "Done. Nothing was sent in this run."
        return f"Done. This run: {', '.join(parts)}."


# -- ending sessions ------------------------------------------------------------------------------


async def end_session(
    db: AsyncSession,
    row: QbwcSession,
    options: GatewayOptions,
    state: SessionState,
    reason: str,
) -> None:
    """End one live session now: its unanswered writes become in doubt, its ticket answers
    nothing of the tenant any more."""
    session = await WebConnectorSession.load(db, row, options)
    await session.abandon_outstanding(reason)
    session.end(state, reason)
    row.expected_call = NextCall.NOTHING.value


async def end_tenant_sessions(
    db: AsyncSession, tenant_id: str, reason: str, options: GatewayOptions | None = None
) -> int:
    """End every live session of the tenant at once (password rotated, tenant disabled, an
    operator's ``omni2qbd tenant end-sessions``); how many were live. Runs in the caller's
    transaction."""
    ended = 0
    for row in await repository.live_sessions(db, tenant_id):
        await end_session(db, row, options or _DEFAULTS, SessionState.CLOSED, reason)
        ended += 1
    return ended


_DEFAULTS = GatewayOptions(
    public_url="",
    session_timeout=timedelta(minutes=15),
    limits=plan.Limits(50, 512 * 1024),
    max_soap_bytes=8 * 1024 * 1024,
)
