"""Browser-test fixtures: the running product (``console_stack``) and Debian's Chromium driven
by Playwright (never a browser that Playwright downloads)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import REPO_ROOT
from tests.console.browser import SCREENSHOT_DIR
from tests.console.console_stack import Account, ConsoleStack, Person, build_stack

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture(scope="package", autouse=True)
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """OMNI2QBD_SCREENSHOT_DIR (relative to the repository), else a temporary directory."""
    chosen = os.environ.get("OMNI2QBD_SCREENSHOT_DIR")
    path = (REPO_ROOT / chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    SCREENSHOT_DIR[:] = [path]
    yield path
    SCREENSHOT_DIR.clear()


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleStack]:
    """Cin7 simulator and gateway up; one tenant ('Acme') connected and its documents mapped."""
    built = build_stack(tmp_path_factory.mktemp("console"))
    try:
        built.start_cin7()
        built.start_service("gateway")
        yield built
    finally:
        built.stop()


@pytest.fixture(scope="package")
def acme(stack: ConsoleStack) -> Account:
    """A tenant whose first Web Connector run read the lists, then fetched and mapped."""
    account = stack.create_account(0)
    report = stack.run_web_connector(account)
    assert report.status == "ok" or report.round_trips > 0, report
    stack.start_service("mapper")
    stack.start_service("fetcher")
    stack.wait_settled(account.tenant_id)
    return account


@pytest.fixture(scope="package")
def operator(stack: ConsoleStack) -> Person:
    return stack.create_person("operator")


@pytest.fixture(scope="package")
def bookkeeper(stack: ConsoleStack, acme: Account) -> Person:
    return stack.create_person("bookkeeper", acme.tenant_id)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: apt-get install -y chromium (.ci/run does it)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, accept_downloads=True)
    context.set_default_timeout(20_000)
    opened = context.new_page()
    yield opened
    context.close()
