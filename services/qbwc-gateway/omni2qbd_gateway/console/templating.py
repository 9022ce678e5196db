"""Jinja2 for the console: autoescaped templates, the vocabulary as filters, safe headers."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from lxml import etree
from starlette.responses import Response

from omni2qbd_gateway.console import words
from omni2qbd_shared.db.models import aware
from omni2qbd_shared.xmlsafe import UnsafeXmlError, parse_xml

HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"

# Scripts only from our own static files (no inline script, so injected markup cannot run);
# inline style attributes stay allowed because uPlot sizes its canvas with them.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def when(value: datetime | str | None) -> str:
    """A moment as 'YYYY-MM-DD HH:MM UTC'; dates pass through unchanged."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
    else:
        moment = value
    return aware(moment).strftime("%Y-%m-%d %H:%M UTC")


def pretty_xml(text: str | None) -> str:
    """qbXML indented for reading (parsed with entities, DTDs and network off)."""
    if not text:
        return ""
    try:
        root = parse_xml(text)
    except (UnsafeXmlError, ValueError):
        return text
    body = etree.tostring(root.getroottree(), pretty_print=True, encoding="unicode")
    return body if body.lstrip().startswith("<?xml") else f'<?xml version="1.0"?>\n{body}'


def build_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    env = templates.env
    env.filters["money"] = words.money
    env.filters["money_or_blank"] = words.money_or_blank
    env.filters["state_words"] = words.state_words
    env.filters["kind_words"] = words.kind_words
    env.filters["when"] = when
    env.filters["qb_type_words"] = words.qb_type_words
    env.filters["pretty_xml"] = pretty_xml
    env.globals["STATES"] = words.STATES
    env.globals["STATE_HINTS"] = words.STATE_HINTS
    env.globals["ROLE_WORDS"] = words.ROLE_WORDS
    return templates


def render(
    templates: Jinja2Templates,
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    response = templates.TemplateResponse(
        request, template, context, status_code=status_code, headers=headers
    )
    response.headers.update(SECURITY_HEADERS)
    return response
