"""Connect a new tenant in the browser: Cin7 credentials tested in words, the .qwc file, the
Web Connector password shown once, and the first run's company file and lists."""

from __future__ import annotations

import threading
from pathlib import Path

from playwright.sync_api import Page, expect

from omni2qbd.demo.company import seed_company
from omni2qbd_gateway.qwc import OWNER_ID
from omni2qbd_sims.webconnector.qwc_file import read_qwc
from omni2qbd_sims.webconnector.report import SessionReport
from tests.conftest import run_blocking
from tests.console.browser import screenshot, sign_in
from tests.console.console_stack import TAX_RATES, ConsoleStack, Person


def test_an_operator_connects_a_new_tenant(
    page: Page, stack: ConsoleStack, operator: Person, tmp_path: Path
) -> None:
    base = stack.urls["gateway"]
    cin7 = stack.cin7_accounts[1]
    sign_in(page, stack, operator)
    page.get_by_label("Company name").fill("Harbor Supplies")
    page.get_by_role("button", name="Add and connect").click()
    expect(page.get_by_role("heading", name="Connect Harbor Supplies")).to_be_visible()

    # 1. A wrong key is refused in words, and nothing is saved.
    page.get_by_label("API user name").fill(cin7["username"])
    page.get_by_label("API key").fill("not-the-key")
    page.get_by_label("API address").fill(f"{stack.urls['cin7']}/api/")
    page.get_by_role("button", name="Test and save").click()
    expect(page.locator("#cin7-result")).to_contain_text("refused the API user")
    expect(page.get_by_text("Not connected yet.")).to_be_visible()
    page.get_by_label("API key").fill(cin7["connections"][0]["apiKey"])
    page.get_by_label("API address").fill(f"{stack.urls['cin7']}/api/")
    page.get_by_role("button", name="Test and save").click()
    expect(page.locator("#cin7-result")).to_contain_text("accepted the API user")
    expect(page.get_by_text(f"Saved: API user {cin7['username']}")).to_be_visible()

    # 2. The .qwc file, as the Web Connector will read it.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the .qwc file").click()
    qwc_path = tmp_path / download_info.value.suggested_filename
    download_info.value.save_as(qwc_path)
    qwc = read_qwc(qwc_path)
    assert qwc.app_url == f"{base}/qbwc" and qwc.owner_id == OWNER_ID

    # 3. The password, once, with the three steps.
    page.get_by_role("button", name="Create the Web Connector password").click()
    password = page.locator("#qbwc-password").inner_text().strip()
    assert len(password) >= 16
    expect(page.locator("ol.steps > li")).to_have_count(3)
    expect(page.get_by_text("Waiting for the Web Connector's first run")).to_be_visible()
    screenshot(page, "connect", at=page.locator("#step-password"))
    page.goto(page.url)  # opened again (not re-posted), the password is not there
    expect(page.locator("#qbwc-password")).to_have_count(0)

    # 4. The Web Connector adds the application from the .qwc and runs; the page follows.
    company_path = "C:\\Companies\\Harbor Supplies.qbw"
    company = stack.quickbooks.company(company_path, file_id=qwc.file_id)
    seed_company(company, tax_rate=TAX_RATES[1])
    reports: list[SessionReport] = []
    connector = stack.connector(qwc.username, password, company_path)
    runner = threading.Thread(target=lambda: reports.append(run_blocking(connector.run_session())))
    runner.start()
    first_run = page.locator("#first-run")
    expect(first_run).to_contain_text("The first run finished", timeout=60_000)
    runner.join(60)
    assert reports and reports[0].round_trips > 0
    expect(first_run).to_contain_text(company_path)
    expect(first_run).to_contain_text("13.0")
    # What QuickBooks said about itself in the first answer: product and version, in words.
    edition = company.edition
    product = first_run.locator("dt", has_text="QuickBooks").locator(
        "xpath=following-sibling::dd[1]"
    )
    expect(product).to_contain_text(edition.product_name)
    expect(product).to_contain_text(f"{edition.major_version}.{edition.minor_version}")
    accounts_row = first_run.get_by_role("row", name="Accounts")
    expect(accounts_row).to_contain_text(str(len(company.list_records("Account"))))
    screenshot(page, "connect-first-run", at=page.locator("#step-first-run"))
