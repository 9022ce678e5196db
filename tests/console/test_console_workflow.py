"""Matching a contact and the reconciliation charts, in the browser, on the same running
product as the review tests."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.console.browser import screenshot, sign_in
from tests.console.console_stack import Account, ConsoleStack, Person

# What each QuickBooks list of the demo company file holds, to search for in the pick box.
SEARCH_FOR = {
    "customer": ("Walk", "Walk-in Customer"),
    "supplier": ("Office", "Office Supplies Co"),
}


def test_match_a_contact_by_searching_quickbooks(
    page: Page, stack: ConsoleStack, acme: Account, bookkeeper: Person
) -> None:
    base = f"/console/tenants/{acme.tenant_id}/matching"
    sign_in(page, stack, bookkeeper, path=base)
    expect(page.get_by_role("heading", name="Matching contacts")).to_be_visible()
    waiting = page.locator("tbody tr:has(.pick)")
    assert waiting.count() >= 1, "no Cin7 contact waiting for a match"
    row = waiting.first
    name = row.locator("th[scope=row]").inner_text().split("\n")[0].strip()
    kind = "supplier" if "supplier" in row.inner_text() else "customer"
    typed, wanted = SEARCH_FOR[kind]
    screenshot(page, "matching")

    row.get_by_label("Search QuickBooks").fill(typed)
    use = row.get_by_role("button", name=f"Use {wanted}")
    expect(use).to_be_visible()
    use.click()
    expect(page.locator("#flash")).to_contain_text("Matched to the QuickBooks")
    expect(page.locator("#flash")).to_contain_text(wanted)
    matched = page.goto(f"{stack.urls['gateway']}{base}?status=matched")
    assert matched is not None and matched.status == 200
    done = page.locator(
        "tbody tr", has=page.get_by_role("rowheader", name=re.compile(re.escape(name)))
    )
    expect(done.first).to_contain_text(wanted)
    expect(done.first).to_contain_text(f"by {bookkeeper.email}")


def test_reconciliation_chart_is_drawn_after_quickbooks_is_read(
    page: Page, stack: ConsoleStack, acme: Account, bookkeeper: Person
) -> None:
    url = f"/console/tenants/{acme.tenant_id}/reconciliation"
    sign_in(page, stack, bookkeeper, path=url)
    expect(page.get_by_role("heading", name="Cin7 against QuickBooks")).to_be_visible()
    status = page.locator("#reading-status")
    if "has not been read" in status.inner_text():
        # The page asked for a reading; the next Web Connector run answers it.
        stack.run_web_connector(acme)
        page.reload()
    expect(status).to_contain_text("QuickBooks as read on")
    charts = page.locator("[data-chart]")
    expect(charts).to_have_count(4)
    for index in range(4):
        expect(charts.nth(index)).to_have_attribute("data-drawn", "true")
        expect(charts.nth(index).locator("canvas")).to_have_count(1)
    # Figures line up as an accounting report, and a difference leads to its documents.
    first_month = page.locator("section.card").first
    cells = first_month.locator("td.num")
    assert cells.first.evaluate("el => getComputedStyle(el).textAlign") == "right"
    screenshot(page, "reconciliation")


def test_settings_are_explained_chosen_from_quickbooks_and_versioned(
    page: Page, stack: ConsoleStack, acme: Account, bookkeeper: Person
) -> None:
    url = f"/console/tenants/{acme.tenant_id}/settings"
    sign_in(page, stack, bookkeeper, path=url)
    expect(page.get_by_role("heading", name="Settings", exact=True)).to_be_visible()
    income = page.get_by_label("Income", exact=True)
    # Accounts are chosen from the tenant's QuickBooks chart of accounts.
    assert income.get_attribute("list") == "qb-account"
    assert page.locator("#qb-account option[value='Sales']").count() == 1
    expect(page.locator("#s-accounts-income-help")).to_contain_text("account mode")

    # A required account left empty is refused in words, naming the setting.
    income.fill("")
    page.get_by_role("button", name="Save as a new version").click()
    expect(page.locator("#problems")).to_contain_text("Nothing was saved")
    expect(page.locator("#problems")).to_contain_text("accounts.income")

    page.get_by_label("Income", exact=True).fill("Sales")
    page.get_by_label("Memo pattern").first.fill("From Cin7 {reference}")
    page.get_by_role("button", name="Save as a new version").click()
    saved = page.locator("#saved")
    expect(saved).to_contain_text("Saved as version")
    expect(saved).to_contain_text("sales.memo_pattern")
    expect(saved).to_contain_text("checked again with these settings")
    history = page.locator("section", has_text="History").locator("tbody tr").first
    expect(history).to_contain_text(bookkeeper.email)
    screenshot(page, "settings")
