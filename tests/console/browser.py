"""What the browser tests do again and again: sign in, keep a screenshot."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

from tests.console.console_stack import SCREENSHOTS, ConsoleStack, Person


def sign_in(page: Page, stack: ConsoleStack, person: Person, path: str = "/console/") -> None:
    page.goto(f"{stack.urls['gateway']}{path}")
    page.get_by_label("Email").fill(person.email)
    page.get_by_label("Password").fill(person.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def screenshot(page: Page, name: str, *, full_page: bool = False) -> Path:
    """Save a screenshot of a main screen for the docs (docs/screenshots/NAME.png)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
