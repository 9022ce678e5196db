"""Proposals for a match, and the checks before a new QuickBooks name (pure functions).

Order (docs/design.md §6): the exact normalised name (score 100), then the same e-mail address (95),
then similar names scored by rapidfuzz's ``WRatio`` (80 to 94, the best five). A new
customer/vendor name must fit QuickBooks' 41 characters and be free in every name list
(customers, vendors, employees, other names: status 3100).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rapidfuzz import fuzz, process

from omni2qbd_shared.qb_lists import normalise_name

NAME_MAX = 41
FUZZY_CUTOFF = 80.0
MAX_PROPOSALS = 5
Status = Literal["unmatched", "proposed", "matched"]
LIST_OF: dict[str, str] = {"customer": "customer", "supplier": "vendor", "product": "item"}


@dataclass(frozen=True)
class Proposal:
    list_id: str
    name: str
    list_type: str
    score: float
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {
            "list_id": self.list_id,
            "name": self.name,
            "list_type": self.list_type,
            "score": self.score,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class ListElement:
    list_id: str
    name: str
    list_type: str
    email: str | None
    is_active: bool


def propose(
    name: str, email: str | None, elements: Sequence[ListElement], *, by_email: bool = True
) -> list[Proposal]:
    """Exact normalised name, then e-mail, then fuzzy candidates, best first, no repeats."""
    active = [e for e in elements if e.is_active]
    wanted = normalise_name(name) if name else ""
    proposals = _exact_names(wanted, active) if wanted else []
    if by_email and email:
        proposals += _same_email(email, active)
    proposals = _first_per_element(proposals)
    if wanted:
        # Similar names only among elements not proposed already for a better reason.
        proposals += _similar_names(wanted, active, {p.list_id for p in proposals})
    return proposals[:MAX_PROPOSALS]


def _proposal(element: ListElement, score: float, reason: str) -> Proposal:
    return Proposal(element.list_id, element.name, element.list_type, round(score, 1), reason)


def _first_per_element(proposals: Sequence[Proposal]) -> list[Proposal]:
    """An element matched by name and by e-mail is proposed once, for its better reason."""
    seen: set[str] = set()
    unique: list[Proposal] = []
    for proposal in proposals:
        if proposal.list_id not in seen:
            seen.add(proposal.list_id)
            unique.append(proposal)
    return unique


def _exact_names(wanted: str, active: Sequence[ListElement]) -> list[Proposal]:
    return [
        _proposal(element, 100.0, "exact name")
        for element in active
        if normalise_name(element.name) == wanted
    ]


def _same_email(email: str, active: Sequence[ListElement]) -> list[Proposal]:
    address = email.strip().casefold()
    return [
        _proposal(element, 95.0, f"same e-mail address ({email.strip()})")
        for element in active
        if element.email and element.email.strip().casefold() == address
    ]


def _similar_names(wanted: str, active: Sequence[ListElement], seen: set[str]) -> list[Proposal]:
    choices = {e.list_id: normalise_name(e.name) for e in active if e.list_id not in seen}
    found = process.extract(
        wanted,
        choices,
        scorer=fuzz.WRatio,
        score_cutoff=FUZZY_CUTOFF,
        limit=MAX_PROPOSALS,
    )
    by_id = {e.list_id: e for e in active}
    # Below an exact name (100) and a shared e-mail address (95), however alike.
    return [
        _proposal(
            by_id[str(list_id)], min(float(score), 94.0), f"similar name ({score:.0f}% alike)"
        )
        for _, score, list_id in found
    ]


def status_of(matched: bool, proposals: Sequence[Proposal]) -> Status:
    if matched:
        return "matched"
    return "proposed" if proposals else "unmatched"


def name_problems(name: str, owners: Sequence[tuple[str, str]], party: str) -> list[str]:
    """Why a new QuickBooks customer/vendor called ``name`` cannot be created, with the fix.

    ``owners`` are (list type, full name) of QuickBooks names equal to ``name``.
    """
    label = "customer" if party == "customer" else "vendor"
    problems: list[str] = []
    if not name.strip():
        problems.append(
            "the Cin7 contact has no name (company, first/last name or e-mail); set one in "
            "Cin7 before it can be created in QuickBooks"
        )
    if len(name) > NAME_MAX:
        problems.append(
            f"the name {name!r} is {len(name)} characters and QuickBooks allows {NAME_MAX}: "
            f"shorten the company name in Cin7 to at most {NAME_MAX} characters (e.g. "
            f"{name[:NAME_MAX].rstrip()!r}), or match it to an existing QuickBooks {label}"
        )
    for list_type, existing in owners:
        what = list_type.replace("_", " ")
        fix = (
            f"match it to that {label} instead of creating one"
            if list_type == LIST_OF[party]
            else f"rename the contact in Cin7 (e.g. {name[: NAME_MAX - 4].rstrip()!r} + ' (V)') "
            f"or rename the QuickBooks {what}"
        )
        problems.append(
            f"the name {existing!r} is already used by a QuickBooks {what}, and QuickBooks "
            f"names are unique across customers, vendors, employees and other names: {fix}"
        )
    return problems
