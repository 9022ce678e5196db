"""Which QuickBooks item a Cin7 product line posts to: shared by sales and purchase rules."""

from __future__ import annotations

from omni2qbd_mapper.context import MappingContext
from omni2qbd_mapper.rules.amounts import Component
from omni2qbd_shared.entries import Finding, Ref


def resolve_item(ctx: MappingContext, component: Component) -> tuple[Ref, list[Finding]]:
    settings = ctx.settings
    code = component.code
    field = f"lineItems[{component.line_no - 1}].code"
    if code:
        if code in settings.items.item_map:
            name = settings.items.item_map[code]
            return ctx.item_ref(name), ctx.check_item(
                name, f"items.item_map[{code!r}]", f"product {code}", "product"
            )
        confirmed = ctx.lists.confirmed_match("item", code)
        if confirmed is not None:
            return Ref(name=confirmed.full_name, list_id=confirmed.list_id), ctx.check_item_type(
                confirmed.full_name, "product", field
            )
        found = ctx.lists.find("item", code)
        if found is not None:
            return Ref(name=found.full_name, list_id=found.list_id), ctx.check_item_type(
                found.full_name, "product", field
            )
    default = settings.items.default_item
    what = f"product code {code!r}" if code else "a line without a product code"
    if default:
        return ctx.item_ref(default), [
            ctx.finding(
                "unmapped_item",
                f"{ctx.label}, line {component.line_no}: {what} (field {field}) has no QuickBooks "
                f"item, so the default item {default!r} is used. Map it in items.item_map of "
                "the tenant settings.",
                field=field,
                blocking=False,
            ),
            *ctx.check_item(default, "items.default_item", "unmapped products", "product"),
        ]
    return Ref(name=code or "?"), [
        ctx.finding(
            "unmapped_item",
            f"{ctx.label}, line {component.line_no}: {what} (field {field}) has no QuickBooks "
            "item and no default item is set (items.default_item).",
            field=field,
        )
    ]
