"""Poison documents in the whole flow: Cin7 serves a sales order whose total is not a number
and a purchase order with a line quantity that is not one. Each is dead-lettered with its
reason, named in ``omni2qbd status``, and nothing else is held up: every other Cin7 document
ends in the QuickBooks simulator's company file exactly once, or held with its reason."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from omni2qbd_shared.config import AppSettings
from omni2qbd_shared.dead_letters import list_dead_letters
from tests.conftest import AMQP_URL, REPO_ROOT
from tests.faults.flow_stack import FlowStack, flow_stack

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres, pytest.mark.timeout(300)]


def poison(stack: FlowStack) -> list[str]:
    """Break one sales order and one purchase order in the Cin7 simulator's data."""
    records = stack.store.tenants[stack.cin7_account["username"]].records
    order = next(iter(records["SalesOrders"].values()))
    order["total"] = "abc"
    purchase = next(r for r in records["PurchaseOrders"].values() if r.get("lineItems"))
    purchase["lineItems"][0]["qty"] = "lots"
    return [f"Cin7 sales_order {order['id']}", f"Cin7 purchase_order {purchase['id']}"]


async def status_of(stack: FlowStack) -> str:
    env = {
        **os.environ,
        "OMNI2QBD_DATABASE_URL": stack.options.database_url,
        "OMNI2QBD_AMQP_URL": AMQP_URL,
        "OMNI2QBD_AMQP_NAMESPACE": stack.options.amqp_namespace,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "omni2qbd", "status", stack.tenant.id,
        cwd=REPO_ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await process.communicate()
    assert process.returncode == 0, output.decode()
    return output.decode()


async def test_poison_documents_are_held_with_their_reason_and_hold_up_nothing(
    tmp_path: Path, postgres_database_url: str
) -> None:
    poisoned: list[str] = []
    async with flow_stack(
        tmp_path, postgres_database_url, before_start=lambda s: poisoned.extend(poison(s))
    ) as stack:
        settings = AppSettings(amqp_url=AMQP_URL, amqp_namespace=stack.options.amqp_namespace)
        for _ in range(600):  # a poison message goes through its retries first
            dead = await list_dead_letters(settings, stack.tenant.id)
            if len(dead) >= len(poisoned):
                break
            await asyncio.sleep(0.2)
        await stack.post_everything()
        result = await stack.account_for_every_document()
        status = await status_of(stack)
    assert sorted(result.dead_lettered) == sorted(poisoned)
    reasons = list(result.dead_lettered.values())
    assert any("total: 'abc' is not a number" in reason for reason in reasons), reasons
    assert any("'lots' is not a number" in reason for reason in reasons), reasons
    assert "DEAD-LETTERED (2)" in status and all(name in status for name in poisoned), status
    assert result.posted > 0 and sum(result.held.values()) > 0
