"""What the browser tests do again and again: sign in, keep a screenshot."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Locator, Page

from tests.console.console_stack import ConsoleStack, Person

# Where screenshots go: set for the test session by conftest.py (the environment variable
# OMNI2QBD_SCREENSHOT_DIR, else a pytest temporary directory), so a test run never changes the
# committed docs/screenshots; `OMNI2QBD_SCREENSHOT_DIR=docs/screenshots` refreshes them.
SCREENSHOT_DIR: list[Path] = []


def sign_in(page: Page, stack: ConsoleStack, person: Person, path: str = "/console/") -> None:
    page.goto(f"{stack.urls['gateway']}{path}")
    page.get_by_label("Email").fill(person.email)
    page.get_by_label("Password").fill(person.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def screenshot(
    page: Page, name: str, *, full_page: bool = False, at: Locator | None = None
) -> Path:
    """Save a screenshot of a main screen as NAME.png in the session's screenshot directory
    (``at``: scrolled so that this part of the page is at the top)."""
    if at is not None:
        at.evaluate("el => el.scrollIntoView({block: 'start'})")
    directory = SCREENSHOT_DIR[0]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
