"""Sign in, sign out, expiry, CSRF, and one tenant's people refused another tenant's pages,
in Chromium against the running gateway."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from omni2qbd_shared.db.console_sessions import ConsoleSession
from omni2qbd_shared.db.models import utcnow
from omni2qbd_shared.db.people import User
from tests.console.browser import screenshot, sign_in
from tests.console.console_stack import Account, ConsoleStack, Person


@pytest.fixture(scope="module")
def two_tenants(stack: ConsoleStack) -> tuple[Account, Account]:
    return stack.create_account(1), stack.create_account(2)


def test_sign_in_refuses_a_wrong_password_then_signs_in_and_out(
    page: Page, stack: ConsoleStack, operator: Person, two_tenants: tuple[Account, Account]
) -> None:
    base = stack.urls["gateway"]
    page.goto(f"{base}/console/")
    expect(page).to_have_url(f"{base}/console/login?next=/console/")
    page.get_by_label("Email").fill(operator.email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")
    page.get_by_label("Email").focus()  # the form is usable by keyboard: type, tab, enter
    page.keyboard.press("Control+A")
    page.keyboard.type(operator.email)
    page.keyboard.press("Tab")
    page.keyboard.type(operator.password)
    screenshot(page, "sign-in")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Tenants")).to_be_visible()
    for account in two_tenants:
        expect(page.get_by_role("link", name=account.name)).to_have_attribute(
            "href", f"/console/tenants/{account.tenant_id}/"
        )
    screenshot(page, "operator-tenants")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    page.goto(f"{base}/console/")
    expect(page).to_have_url(f"{base}/console/login?next=/console/")


def test_an_expired_session_asks_to_sign_in_again(
    page: Page, stack: ConsoleStack, operator: Person
) -> None:
    sign_in(page, stack, operator)
    expect(page.get_by_role("heading", name="Tenants")).to_be_visible()

    async def expire(db: Any) -> int:
        user = (await db.exec(select(User).where(User.email == operator.email))).one()
        rows = (
            await db.exec(select(ConsoleSession).where(ConsoleSession.user_id == user.id))
        ).all()
        for row in rows:
            row.expires_at = utcnow() - timedelta(seconds=1)
            db.add(row)
        return len(rows)

    assert stack.query(expire) >= 1
    page.reload()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_forms_without_the_csrf_token_are_refused(
    page: Page, stack: ConsoleStack, operator: Person
) -> None:
    base = stack.urls["gateway"]
    sign_in(page, stack, operator)
    # The browser sends the session cookie, but a forged form cannot know the token.
    forged = page.request.post(f"{base}/console/tenants", form={"name": "Forged Co"})
    assert forged.status == 403
    assert "did not come from this console" in forged.text()
    forged_logout = page.request.post(f"{base}/console/logout", form={})
    assert forged_logout.status == 403
    page.reload()
    expect(page.get_by_role("heading", name="Tenants")).to_be_visible()  # still signed in
    assert "Forged Co" not in page.content()
    # The sign-in form itself carries a token bound to a cookie.
    context = page.context.browser.new_context() if page.context.browser else None
    assert context is not None
    bare = context.request.post(
        f"{base}/console/login", form={"email": operator.email, "password": operator.password}
    )
    assert bare.status == 403
    context.close()


def test_a_tenants_bookkeeper_is_refused_another_tenants_pages(
    page: Page, stack: ConsoleStack, two_tenants: tuple[Account, Account]
) -> None:
    mine, theirs = two_tenants
    bookkeeper = stack.create_person("bookkeeper", mine.tenant_id)
    base = stack.urls["gateway"]
    sign_in(page, stack, bookkeeper)
    # A person with one tenant starts on that tenant's home.
    expect(page).to_have_url(f"{base}/console/tenants/{mine.tenant_id}/")
    for path in (
        f"/console/tenants/{theirs.tenant_id}/",
        f"/console/tenants/{theirs.tenant_id}/entries?state=ready",
        f"/console/tenants/{theirs.tenant_id}/entries/anything",
        f"/console/tenants/{theirs.tenant_id}/connect",
        f"/console/tenants/{theirs.tenant_id}/connect/qwc",
    ):
        response = page.goto(f"{base}{path}")
        assert response is not None and response.status == 404, path
        assert theirs.name not in page.content(), path
    screenshot(page, "another-tenant-refused")
    for path in ("/console/health", "/console/people", "/console/audit"):
        response = page.goto(f"{base}{path}")
        assert response is not None and response.status == 403, path
    # Nor can it be changed: a form posted to the other tenant is refused the same way.
    page.goto(f"{base}/console/tenants/{mine.tenant_id}/")
    token = page.evaluate(
        "() => JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRF-Token']"
    )
    posted = page.request.post(
        f"{base}/console/tenants/{theirs.tenant_id}/connect/password",
        form={"csrf_token": token},
    )
    assert posted.status == 404
