"""What operators do in the browser: disable, enable and delete a tenant, and add, disable
and reset the password of a person, each seen from the other side (the Web Connector refused
and let in again, the person refused or let in)."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from omni2qbd.demo.company import seed_company
from omni2qbd_sims.webconnector.qwc_file import read_qwc
from tests.console.browser import screenshot, sign_in
from tests.console.console_stack import TAX_RATES, ConsoleStack, Person


def test_an_operator_disables_enables_and_deletes_a_tenant(
    page: Page, stack: ConsoleStack, operator: Person, tmp_path: Path
) -> None:
    base = stack.urls["gateway"]
    sign_in(page, stack, operator)
    page.get_by_label("Company name").fill("Lifecycle Traders")
    page.get_by_role("button", name="Add and connect").click()
    expect(page.get_by_role("heading", name="Connect Lifecycle Traders")).to_be_visible()
    tenant_path = page.url.removeprefix(base).removesuffix("connect")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the .qwc file").click()
    qwc_path = tmp_path / "lifecycle.qwc"
    download_info.value.save_as(qwc_path)
    qwc = read_qwc(qwc_path)
    page.get_by_role("button", name="Create the Web Connector password").click()
    password = page.locator("#qbwc-password").inner_text().strip()
    username = qwc.username
    company_path = "C:\\Companies\\Lifecycle Traders.qbw"
    seed_company(stack.quickbooks.company(company_path, file_id=qwc.file_id), tax_rate=TAX_RATES[0])

    # Disable, with the reason kept on the page; the Web Connector is refused.
    page.get_by_label("Why (kept with the tenant and shown on this page)").fill(
        "invoice unpaid since March"
    )
    page.get_by_role("button", name="Disable", exact=True).click()
    expect(page.locator("#flash")).to_have_text("Lifecycle Traders is disabled.")
    expect(page.get_by_text("This tenant is disabled: invoice unpaid since March")).to_be_visible()
    refused = stack.run_web_connector_as(username, password, company_path)
    assert refused.auth_status == "nvu" and refused.requests_processed == 0, refused
    page.goto(f"{base}/console/")
    row = page.get_by_role("row", name=re.compile("Lifecycle Traders"))
    expect(row).to_contain_text("disabled")

    # Enable: the Web Connector is let in again.
    page.goto(f"{base}{tenant_path}connect")
    page.get_by_role("button", name="Enable").click()
    expect(page.locator("#flash")).to_have_text("Lifecycle Traders is enabled.")
    expect(page.get_by_text("This tenant is disabled")).to_have_count(0)
    allowed = stack.run_web_connector_as(username, password, company_path)
    assert allowed.auth_status != "nvu" and allowed.round_trips > 0, allowed

    # Delete: refused in words until the name is typed exactly, then gone everywhere.
    delete = page.get_by_role("button", name="Delete the tenant and its data")
    page.get_by_label(re.compile("To delete the tenant and all its data")).fill("Lifecycle")
    delete.click()
    expect(page.locator("#flash")).to_contain_text("Not deleted")
    expect(page.locator("#flash")).to_contain_text("Lifecycle Traders")
    page.get_by_label(re.compile("To delete the tenant and all its data")).fill("Lifecycle Traders")
    screenshot(page, "tenant-delete", at=page.locator("#tenant-admin"))
    delete.click()
    expect(page).to_have_url(re.compile(r"/console/(\?.*)?$"))
    expect(page.locator("#flash")).to_contain_text("Lifecycle Traders and its data")
    expect(page.get_by_role("link", name="Lifecycle Traders")).to_have_count(0)
    gone = page.goto(f"{base}{tenant_path}")
    assert gone is not None and gone.status == 404


def test_an_operator_adds_disables_and_resets_the_password_of_a_person(
    page: Page, browser: Browser, stack: ConsoleStack, operator: Person
) -> None:
    base = stack.urls["gateway"]
    sign_in(page, stack, operator, path="/console/people")
    email = "temp.operator@example.com"
    page.get_by_label("Email").fill(email)
    page.get_by_label("Role").select_option("operator")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator("#flash")).to_have_text(f"Added {email}.")
    first_password = page.locator("#new-password").inner_text().strip()
    row = page.get_by_role("row", name=re.compile(re.escape(email)))
    expect(row).to_contain_text("Active")

    def try_sign_in(password: str) -> Page:
        other = browser.new_context().new_page()
        other.goto(f"{base}/console/login")
        other.get_by_label("Email").fill(email)
        other.get_by_label("Password").fill(password)
        other.get_by_role("button", name="Sign in").click()
        other.wait_for_load_state()
        return other

    signed_in = try_sign_in(first_password)
    expect(signed_in.get_by_role("heading", name="Tenants")).to_be_visible()

    # A new password: shown once, the old one refused, the person's open session ended.
    page.get_by_role("button", name=f"Reset password of {email}").click()
    expect(page.locator("#flash")).to_contain_text(f"New password for {email}")
    second_password = page.locator("#new-password").inner_text().strip()
    assert second_password and second_password != first_password
    screenshot(page, "people")
    signed_in.reload()
    expect(signed_in.get_by_role("heading", name="Sign in")).to_be_visible()
    refused = try_sign_in(first_password)
    expect(refused.get_by_role("alert")).to_have_text("Wrong email or password.")
    again = try_sign_in(second_password)
    expect(again.get_by_role("heading", name="Tenants")).to_be_visible()

    # Disabled: the open session ends and signing in is refused.
    page.goto(f"{base}/console/people")
    page.get_by_role("button", name=f"Disable {email}").click()
    expect(page.locator("#flash")).to_have_text(f"{email} can no longer sign in.")
    expect(page.get_by_role("row", name=re.compile(re.escape(email)))).to_contain_text("Disabled")
    again.reload()
    expect(again.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(try_sign_in(second_password).get_by_role("alert")).to_be_visible()
    # An operator cannot lock themself out.
    expect(page.get_by_role("button", name=f"Disable {operator.email}")).to_have_count(0)
    for opened in (signed_in, refused, again):
        opened.context.close()
