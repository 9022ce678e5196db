"""Turning Cin7 lines and header totals into net amounts, tax and a rounding difference.

Cin7 exposes no tax amount: for tax-exclusive documents the tax is ``total - (productTotal +
freightTotal + surcharge - discountTotal)``; for tax-inclusive ones it is embedded in every
price at ``taxRate``. Both are checked against the rate, and whatever per-line rounding leaves
over goes to a rounding line so the entry's total equals Cin7's to the cent.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from omni2qbd_mapper.cin7doc import Cin7Doc
from omni2qbd_shared.entries import ZERO, LineRole, money

HUNDRED = Decimal(100)
HALF_CENT = Decimal("0.005")
RATE_PLACES = Decimal("0.00001")  # PRICETYPE allows five decimals


@dataclass
class Component:
    """One amount on the document: a product line, freight, surcharge or the header discount."""

    role: LineRole
    gross: Decimal  # as Cin7 shows it (tax included when taxStatus is Incl), two places
    taxable: bool
    description: str
    net: Decimal = ZERO
    qty: Decimal | None = None
    unit_price: Decimal | None = None
    code: str | None = None
    account_code: str | None = None
    line_id: str | None = None
    line_no: int = 0


def tax_status(doc: Cin7Doc) -> str:
    """``incl``, ``excl`` or ``exempt`` (Undefined and missing are treated as exclusive)."""
    status = (doc.text("taxStatus") or "").lower()
    if status.startswith("incl"):
        return "incl"
    if status.startswith("exempt"):
        return "exempt"
    return "excl"


def line_description(line: Cin7Doc) -> str:
    name = line.text("name") or ""
    options = " / ".join(
        o for o in (line.text("option1"), line.text("option2"), line.text("option3")) if o
    )
    code = line.text("code")
    text = name
    if options:
        text = f"{text} ({options})" if text else options
    if code and code not in text:
        text = f"{code} {text}".strip()
    return text or "Cin7 line"


def line_quantity_and_price(line: Cin7Doc, absolute: bool) -> tuple[Decimal, Decimal]:
    """Ordered quantity and unit price, preferring the unit-of-measure pair when present."""
    if line.has("uomQtyOrdered") and line.dec("uomQtyOrdered") != 0 and line.has("uomPrice"):
        qty, price = line.dec("uomQtyOrdered"), line.dec("uomPrice")
    else:
        qty, price = line.dec("qty"), line.dec("unitPrice")
    if absolute:
        return abs(qty), abs(price)
    return qty, price


def product_components(doc: Cin7Doc, *, absolute: bool, taxable: bool) -> list[Component]:
    """One component per Cin7 line. ``absolute`` (credit notes): returned lines, negative in
    Cin7, become positive credit lines; a line Cin7 shows positive on a credit note (a
    restocking fee, a charge) reduces the credit, so it becomes a negative line."""
    components = []
    for number, line in enumerate(doc.lines(), start=1):
        qty, price = line_quantity_and_price(line, False)
        discount = abs(line.dec("discount"))
        if qty == 0 and price == 0 and discount == 0:
            continue  # kit children and comment lines carry nothing to post
        if absolute:
            sign = Decimal(-1) if qty * price > 0 else Decimal(1)
            qty, price = sign * abs(qty), abs(price)
            gross = money(sign * (abs(qty) * price - discount))
        else:
            gross = money(qty * price - discount)
        line_taxable = taxable
        if line.has("taxRate") and line.dec("taxRate") == 0:
            line_taxable = False
        description = line_description(line)
        if discount:
            description = f"{description} (less discount {discount:.2f})"
        components.append(
            Component(
                role=LineRole.PRODUCT,
                gross=gross,
                taxable=line_taxable,
                description=description,
                qty=qty,
                unit_price=price,
                code=line.text("code"),
                account_code=line.text("accountCode"),
                line_id=line.text("id"),
                line_no=number,
            )
        )
    return components


def to_net(components: list[Component], status: str, rate: Decimal) -> None:
    """Fill ``net``: tax taken out of taxable amounts of a tax-inclusive document."""
    for component in components:
        if status == "incl" and component.taxable and rate:
            component.net = money(component.gross * HUNDRED / (HUNDRED + rate))
        else:
            component.net = component.gross


def expected_tax(components: list[Component], status: str, rate: Decimal) -> Decimal:
    if status == "exempt" or not rate:
        return ZERO
    if status == "incl":
        taxable_gross = sum((c.gross for c in components if c.taxable), ZERO)
        return money(taxable_gross * rate / (HUNDRED + rate))
    taxable_net = sum((c.net for c in components if c.taxable), ZERO)
    return money(taxable_net * rate / HUNDRED)


def unit_rate(component: Component, status: str, rate: Decimal) -> Decimal | None:
    """The unit price to show on an item line, if quantity x rate reproduces the amount."""
    if component.qty in (None, ZERO) or component.unit_price is None:
        return None
    price = component.unit_price
    if status == "incl" and component.taxable and rate:
        price = price * HUNDRED / (HUNDRED + rate)
    price = price.quantize(RATE_PLACES)
    assert component.qty is not None
    if money(price * component.qty) != component.net:
        return None
    if abs(price) >= Decimal("1e10") or abs(component.qty) >= Decimal("1e10"):
        return None
    return price


def rounding_allowance(tolerance: Decimal, rounded_amounts: int) -> Decimal:
    """The largest difference rounding can explain: the tenant's tolerance plus half a cent
    for every amount that was rounded on its own (so long documents are not held for it)."""
    return tolerance + HALF_CENT * rounded_amounts
