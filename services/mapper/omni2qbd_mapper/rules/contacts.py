"""Finding the QuickBooks customer or vendor for a Cin7 document (docs/design.md §6).

Order: the settings file's map, a match a person confirmed, the exact (normalised) name, the
e-mail address; otherwise the contact is new and a CustomerAdd/VendorAdd entry goes first,
after a length and collision check (QuickBooks names are unique across all name lists).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

from omni2qbd_mapper.cin7doc import Cin7Doc
from omni2qbd_mapper.context import MappingContext
from omni2qbd_shared.entries import (
    Address,
    ContactDetails,
    Entry,
    EntryKind,
    Finding,
    Ref,
    SourceRef,
    external_guid_for,
)

NAME_MAX = 41
PERSON_NAME_MAX = 25
Party = Literal["customer", "vendor"]


@dataclass
class PartyResolution:
    ref: Ref
    contact_entry: Entry | None = None
    findings: list[Finding] = field(default_factory=list)


def _address(doc: Cin7Doc, prefix: str) -> Address | None:
    lines = [
        value
        for value in (
            doc.text(f"{prefix}Company"),
            doc.text(f"{prefix}Address1"),
            doc.text(f"{prefix}Address2"),
        )
        if value
    ]
    address = Address(
        lines=lines[:5],
        city=(doc.text(f"{prefix}City") or None),
        state=(doc.text(f"{prefix}State") or None),
        postal_code=(doc.text(f"{prefix}PostalCode") or None),
        country=(doc.text(f"{prefix}Country") or None),
    )
    return None if address.is_empty() else address


def contact_name(doc: Cin7Doc) -> str | None:
    """The name a new QuickBooks customer/vendor gets: company, else the person, else e-mail."""
    company = doc.text("company")
    if company:
        return " ".join(company.split())
    person = " ".join(p for p in (doc.text("firstName"), doc.text("lastName")) if p)
    if person:
        return person
    return doc.text("memberEmail") or doc.text("email")


def document_addresses(doc: Cin7Doc) -> tuple[Address | None, Address | None]:
    return _address(doc, "billing"), _address(doc, "delivery")


def resolve_party(ctx: MappingContext, party: Party) -> PartyResolution:
    """The QuickBooks customer or vendor of the document: mapped in the settings, confirmed
    by a person, found by name or e-mail, or else a new one (or a finding)."""
    doc = ctx.doc
    member_id = doc.text("memberId")
    name = contact_name(doc)
    email = doc.text("memberEmail") or doc.text("email")
    mapped = (
        ctx.settings.contacts.customer_map
        if party == "customer"
        else ctx.settings.contacts.vendor_map
    )
    if member_id is not None and member_id in mapped:
        return _mapped_party(ctx, party, member_id, mapped[member_id])

    if member_id is not None:
        confirmed = ctx.lists.confirmed_match(party, member_id)
        if confirmed is not None:
            return PartyResolution(ref=Ref(name=confirmed.full_name, list_id=confirmed.list_id))

    found = _party_by_name_or_email(ctx, party, name, email, member_id)
    if found is not None:
        return found
    if not name or not ctx.settings.contacts.create_unmatched:
        return _unmatched_party(ctx, party, name, member_id)
    return _new_contact(ctx, party, name, member_id, email)


def _label(party: Party) -> str:
    return "customer" if party == "customer" else "vendor"


def _mapped_party(
    ctx: MappingContext, party: Party, member_id: str, qb_name: str
) -> PartyResolution:
    """The contact the settings map the Cin7 member to (``contacts.<party>_map``)."""
    label = _label(party)
    setting = f"contacts.{party}_map"
    found = ctx.lists.find(party, qb_name)
    if ctx.lists.is_mirrored(party) and found is None:
        return PartyResolution(
            ref=Ref(name=qb_name),
            findings=[
                ctx.finding(
                    "unmatched_contact",
                    f"{ctx.label}: Cin7 contact {member_id} is mapped to QuickBooks {label} "
                    f"{qb_name!r} ({setting}), but QuickBooks has no {label} by that name.",
                    field="memberId",
                )
            ],
        )
    return PartyResolution(
        ref=Ref(name=found.full_name, list_id=found.list_id) if found else Ref(name=qb_name)
    )


def _party_by_name_or_email(
    ctx: MappingContext, party: Party, name: str | None, email: str | None, member_id: str | None
) -> PartyResolution | None:
    """A QuickBooks contact of the same name, else of the same e-mail, said in a finding."""
    label = _label(party)
    if name:
        by_name = ctx.lists.find(party, name)
        if by_name is not None:
            return PartyResolution(
                ref=Ref(name=by_name.full_name, list_id=by_name.list_id),
                findings=[
                    ctx.finding(
                        "contact_matched_by_name",
                        f"{ctx.label}: {name!r} matched QuickBooks {label} "
                        f"{by_name.full_name!r} by name; to make it permanent, add memberId "
                        f"{member_id} to contacts.{party}_map in the tenant settings.",
                        field="company",
                        blocking=False,
                    )
                ],
            )
    if email:
        by_email = ctx.lists.find_by_email(party, email)
        if by_email is not None:
            return PartyResolution(
                ref=Ref(name=by_email.full_name, list_id=by_email.list_id),
                findings=[
                    ctx.finding(
                        "contact_matched_by_email",
                        f"{ctx.label}: contact e-mail {email!r} matched QuickBooks {label} "
                        f"{by_email.full_name!r}; to make it permanent, add memberId "
                        f"{member_id} to contacts.{party}_map in the tenant settings.",
                        field="memberEmail",
                        blocking=False,
                    )
                ],
            )
    return None


def _unmatched_party(
    ctx: MappingContext, party: Party, name: str | None, member_id: str | None
) -> PartyResolution:
    """No contact found and none to create (no name, or creating is off): a blocking finding."""
    label = _label(party)
    if not name:
        return PartyResolution(
            ref=Ref(name=f"Cin7 contact {member_id or '?'}"),
            findings=[
                ctx.finding(
                    "unmatched_contact",
                    f"{ctx.label} has no contact name (fields company, firstName/lastName, "
                    f"memberEmail), so no QuickBooks {label} can be matched or created. "
                    "Set the contact on the document in Cin7.",
                    field="company",
                )
            ],
        )
    return PartyResolution(
        ref=Ref(name=name),
        findings=[
            ctx.finding(
                "unmatched_contact",
                f"{ctx.label}: Cin7 contact {name!r} (memberId {member_id}) is not matched "
                f"to a QuickBooks {label}. Map it in contacts.{party}_map of the tenant "
                "settings (`omni2qbd settings set`; creating new contacts is "
                "off: contacts.create_unmatched).",
                field="memberId",
            )
        ],
    )


def _new_contact(
    ctx: MappingContext, party: Party, name: str, member_id: str | None, email: str | None
) -> PartyResolution:
    findings = _new_contact_findings(ctx, party, name, member_id)
    details = _contact_details(ctx, name, member_id, email)
    identity = member_id or hashlib.sha256(name.casefold().encode()).hexdigest()[:16]
    kind = EntryKind.CUSTOMER_ADD if party == "customer" else EntryKind.VENDOR_ADD
    key = f"{kind.value}:contact:{identity}"
    # The contact entry's revision follows who the contact is, not the document it came from:
    # each order carries its own addresses and phone, and a new revision per order would
    # replace an already approved CustomerAdd every time another order of that customer is
    # mapped (taking its approval away while its invoices wait for it).
    identity_fields = details.model_dump_json(
        include={
            "name",
            "company_name",
            "first_name",
            "last_name",
            "email",
            "currency",
            "cin7_member_id",
        }
    )
    revision = hashlib.sha256(identity_fields.encode()).hexdigest()
    entry = ctx.new_entry(kind, key)
    entry.source = SourceRef(kind="contact", cin7_id=identity, revision=revision, reference=name)
    entry.external_guid = external_guid_for(ctx.tenant_id, key, revision)
    entry.header.contact = details
    entry.header.party = Ref(name=details.name)
    entry.currency = details.currency or ctx.settings.home_currency.upper()
    entry.findings = [f for f in findings if f.code != "new_contact"]
    return PartyResolution(ref=Ref(name=details.name), contact_entry=entry, findings=findings)


def _new_contact_findings(
    ctx: MappingContext, party: Party, name: str, member_id: str | None
) -> list[Finding]:
    """A new contact is said; a name too long or used by another list blocks it."""
    label = _label(party)
    findings: list[Finding] = [
        ctx.finding(
            "new_contact",
            f"{ctx.label}: Cin7 contact {name!r} has no QuickBooks {label} yet; a new {label} is "
            "created on import (or map it to an existing one in contacts."
            f"{party}_map of the tenant settings).",
            field="memberId",
            blocking=False,
        )
    ]
    if len(name) > NAME_MAX:
        findings.append(
            ctx.finding(
                "name_too_long",
                f"{ctx.label}: contact name {name!r} is {len(name)} characters; QuickBooks allows "
                f"{NAME_MAX}. Shorten the company name of Cin7 contact {member_id or ''} (field "
                "company) or match it to an existing QuickBooks "
                f"{label}.".replace("  ", " "),
                field="company",
            )
        )
    owner = ctx.lists.name_owner(name)
    if owner is not None and owner != party:
        findings.append(
            ctx.finding(
                "name_in_use",
                f"{ctx.label}: the name {name!r} is already used by a QuickBooks "
                f"{owner.replace('_', ' ')}, and QuickBooks names must be unique across customers, "
                f"vendors, employees and other names. Rename the Cin7 contact, or map memberId "
                f"{member_id} to another QuickBooks {party} in contacts.{party}_map of the "
                "tenant settings.",
                field="company",
            )
        )
    return findings


def _contact_details(
    ctx: MappingContext, name: str, member_id: str | None, email: str | None
) -> ContactDetails:
    """The new contact as the document shows it (currency only when it is not the home one)."""
    doc = ctx.doc
    billing, delivery = document_addresses(doc)
    home = ctx.settings.home_currency.upper()
    currency = (doc.text("currencyCode") or home).upper()
    first = doc.text("firstName")
    last = doc.text("lastName")
    return ContactDetails(
        name=name[:NAME_MAX],
        # Cut to QuickBooks' limits when rendered, with a text_shortened note (rules.limits).
        company_name=doc.text("company") or None,
        first_name=first or None,
        last_name=last or None,
        email=email,
        phone=(doc.text("phone") or None),
        bill_address=billing,
        ship_address=delivery,
        currency=currency if ctx.settings.multi_currency and currency != home else None,
        cin7_member_id=member_id,
    )
