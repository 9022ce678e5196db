"""Settings: every mapping setting with its explanation and recommended value, QuickBooks
names chosen from the tenant's lists, each save a new version (kept, with who and when), and
after saving, which waiting entries the change touches."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from omni2qbd_gateway import pending
from omni2qbd_gateway.console import settings_form
from omni2qbd_gateway.console.access import Form, OnTenant, State, TenantPage, require_change
from omni2qbd_gateway.console.queue import page_context, scope_of
from omni2qbd_gateway.console.templating import render
from omni2qbd_gateway.settings_store import save_settings
from omni2qbd_gateway.workflow import entries as workflow_entries
from omni2qbd_gateway.workflow.states import ApiState
from omni2qbd_gateway.workflow.views import EntryItem
from omni2qbd_shared import messages as m
from omni2qbd_shared.db.models import QbListItem
from omni2qbd_shared.db.settings_store import latest_settings, settings_history
from omni2qbd_shared.tenant_settings import TenantSettings, settings_problems

router = APIRouter()
WAITING: tuple[ApiState, ...] = ("needs_attention", "ready")
WAITING_LIMIT = 500


async def _lists(db: AsyncSession, page: TenantPage) -> dict[str, list[str]]:
    """The tenant's QuickBooks names by list, for the searchable choices."""
    wanted = sorted(
        {*settings_form.LIST_OF_SECTION.values(), *settings_form.LIST_OF_FIELD.values()}
    )
    rows = await db.exec(
        scope_of(page)
        .select(QbListItem)
        .where(col(QbListItem.list_type).in_(wanted), col(QbListItem.is_active))
    )
    names: dict[str, list[str]] = {name: [] for name in wanted}
    for row in rows.all():
        names[row.list_type].append(row.full_name)
    return {k: sorted(v, key=str.casefold) for k, v in names.items()}


async def _current(db: AsyncSession, page: TenantPage) -> tuple[dict[str, Any], int | None]:
    saved = await latest_settings(db, page.tenant.id)
    if saved is None:
        return TenantSettings().model_dump(mode="json"), None
    return dict(saved.body), saved.version


def _problems_by_key(problems: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for problem in problems:
        key, sep, text = problem.partition(":")
        if sep and " " not in key.strip():
            found.setdefault(key.strip(), text.strip())
    return found


async def _page(
    request: Request,
    state: State,
    page: TenantPage,
    *,
    body: dict[str, Any] | None = None,
    problems: list[str] | None = None,
    saved: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    async with state.db() as db:
        current, version = await _current(db, page)
        lists = await _lists(db, page)
        history = await settings_history(db, page.tenant.id)
    shown = body if body is not None else current
    try:
        model = TenantSettings.model_validate(shown)
    except ValueError:
        model = TenantSettings.model_validate(current)
    return render(
        state.templates,
        request,
        "settings.html",
        page_context(
            page,
            "settings",
            sections=settings_form.sections(model, _problems_by_key(problems or [])),
            problems=problems or [],
            lists=lists,
            version=version,
            history=sorted(history, key=lambda v: v.version, reverse=True),
            saved=saved,
        ),
        status_code=status_code,
    )


@router.get("/tenants/{tenant_id}/settings")
async def settings_page(request: Request, state: State, page: OnTenant) -> Response:
    return await _page(request, state, page)


def _touches(item: EntryItem, changed: list[str]) -> bool:
    """An entry whose findings name a changed setting (or its section's map)."""
    for finding in item.findings:
        text = f"{finding.field or ''} {finding.message}"
        if any(key in text or key.split(".")[0] + "." in (finding.field or "") for key in changed):
            return True
    return False


@router.post("/tenants/{tenant_id}/settings")
async def save(request: Request, state: State, page: OnTenant, form: Form) -> Response:
    require_change(page)
    async with state.db() as db:
        current, _version = await _current(db, page)
    body = settings_form.body_from_form(current, form)
    problems = settings_problems(body)
    if problems:
        return await _page(request, state, page, body=body, problems=problems, status_code=422)
    clean = TenantSettings.model_validate(body).model_dump(mode="json")
    changed = settings_form.changed_keys(current, clean)
    if not changed:
        return await _page(request, state, page, saved={"version": None, "changed": []})
    actor = page.viewer.person.email
    async with state.db() as db:
        version = await save_settings(db, page.tenant.id, clean, actor=actor)
        # The mapper re-derives the waiting entries with the new version (transactional outbox).
        pending.stage(
            db,
            m.TenantEventMessage(
                tenant_id=page.tenant.id,
                event="settings_saved",
                actor=actor,
                detail={"version": version.version, "changed": changed},
            ),
        )
        waiting: list[EntryItem] = []
        for wanted in WAITING:
            found = await workflow_entries.list_entries(
                db,
                scope_of(page),
                workflow_entries.EntryFilter(state=wanted),
                limit=WAITING_LIMIT,
            )
            waiting += found.items
    touched = [item for item in waiting if _touches(item, changed)]
    saved = {
        "version": version.version,
        "changed": changed,
        "waiting": len(waiting),
        "touched": touched,
    }
    return await _page(request, state, page, saved=saved)
