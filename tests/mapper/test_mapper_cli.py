"""``omni2qbd settings example|validate`` and ``omni2qbd preview`` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from omni2qbd_mapper.preview_cli import EXIT_HELD, EXIT_NOT_IMPORTABLE
from omni2qbd_mapper.preview_cli import app as preview_app
from omni2qbd_mapper.settings_cli import app as settings_app
from omni2qbd_shared.qbxml.schema import validation_errors
from omni2qbd_shared.tenant_settings import TenantSettings
from tests.mapper.conftest import CORPUS

runner = CliRunner()


def write_settings(tmp_path: Path, **changes: object) -> Path:
    data = json.loads(runner.invoke(settings_app, ["example"]).stdout)
    data.update(changes)
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(data))
    return path


def test_example_is_complete_and_valid(tmp_path: Path) -> None:
    result = runner.invoke(settings_app, ["example"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert TenantSettings.model_validate(data) == TenantSettings()
    assert {"accounts", "items", "sales", "purchases", "tax", "classes", "contacts", "cogs"} <= set(
        data
    )
    path = tmp_path / "s.json"
    path.write_text(result.stdout)
    checked = runner.invoke(settings_app, ["validate", str(path)])
    assert checked.exit_code == 0 and "valid" in checked.stdout


def test_validate_explains_every_problem(tmp_path: Path) -> None:
    path = write_settings(
        tmp_path,
        time_zone="Mars/Olympus",
        sales={"invoice_ref_pattern": "INVOICE#{nope}"},
        tax={"mode": "tax_line", "taxable_code": "TAXABLE"},
        accounts={"cogs": "Cost of Goods Sold From Cin7 Omni Warehouse"},
    )
    result = runner.invoke(settings_app, ["validate", str(path)])
    assert result.exit_code == 1
    err = result.stderr
    assert "time_zone: 'Mars/Olympus' is not an IANA time zone" in err
    assert "sales.invoice_ref_pattern: unknown token(s) {nope}" in err
    assert "tax.taxable_code" in err
    assert "accounts.cogs" in err and "31" in err
    typo = write_settings(
        tmp_path, acounts={}, inventory_method="fifo", cogs={"monthly_ref_pattern": "{month}"}
    )
    result = runner.invoke(settings_app, ["validate", str(typo)])
    assert result.exit_code == 1
    assert "acounts: unknown setting" in result.stderr
    assert "inventory_method: 'fifo' is not one of 'perpetual' or 'periodic'" in result.stderr
    # Type errors elsewhere do not hide the other sections' problems.
    assert "cogs.monthly_ref_pattern: unknown token(s) {month}" in result.stderr
    broken = tmp_path / "broken.json"
    broken.write_text('{"time_zone": "UTC",}')
    result = runner.invoke(settings_app, ["validate", str(broken)])
    assert result.exit_code == 1 and "line 1" in result.stderr


def test_preview_prints_the_message_set_with_the_customer_add_first(tmp_path: Path) -> None:
    settings = write_settings(tmp_path)
    result = runner.invoke(
        preview_app,
        ["--settings", str(settings), "--format", "qbxml", str(CORPUS / "so_tax_exclusive.json")],
    )
    assert result.exit_code == 0, result.stderr
    text = result.stdout.strip()
    # The gateway's bytes (one shared builder): no line breaks between the declarations.
    assert text.startswith('<?xml version="1.0" encoding="utf-8"?><?qbxml version="13.0"?>')
    assert validation_errors(text, "13.0") == []
    assert text.index("<CustomerAddRq") < text.index("<InvoiceAddRq")
    assert "new_contact" in result.stderr


def test_preview_json_has_debit_credit_table_and_the_version_flag(tmp_path: Path) -> None:
    settings = write_settings(tmp_path)
    result = runner.invoke(
        preview_app,
        ["--settings", str(settings), "--kind", "purchase_order", str(CORPUS / "po_bill.json")],
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    bill = data["entries"][-1]
    assert bill["kind"] == "bill" and bill["total"] == "169.00"
    assert {
        "account": "Accounts Payable",
        "debit": "0.00",
        "credit": "169.00",
        "memo": "Bill from Acme Supply Co",
    } in bill["debit_credit"]
    v16 = runner.invoke(
        preview_app,
        [
            "--settings",
            str(settings),
            "--format",
            "qbxml",
            "--qbxml-version",
            "16.0",
            str(CORPUS / "po_bill.json"),
        ],
    )
    assert '<?qbxml version="16.0"?>' in v16.stdout and validation_errors(v16.stdout.strip()) == []


def test_preview_exit_codes_for_held_and_not_importable(tmp_path: Path) -> None:
    settings = write_settings(tmp_path)
    held = runner.invoke(
        preview_app, ["--settings", str(settings), str(CORPUS / "so_foreign_currency.json")]
    )
    assert held.exit_code == EXIT_HELD
    assert "[HOLD] foreign_currency" in held.stderr and "currencyCode" in held.stderr
    not_ready = runner.invoke(
        preview_app, ["--settings", str(settings), str(CORPUS / "so_not_invoiced.json")]
    )
    assert not_ready.exit_code == EXIT_NOT_IMPORTABLE
    assert "no_invoice_date" in not_ready.stderr


def test_preview_accepts_a_one_element_page_and_reports_bad_input(tmp_path: Path) -> None:
    settings = write_settings(tmp_path)
    page = tmp_path / "page.json"
    page.write_text(json.dumps([json.loads((CORPUS / "cn_credit_memo.json").read_text())]))
    result = runner.invoke(preview_app, ["--settings", str(settings), str(page)])
    assert (
        result.exit_code == 0 and json.loads(result.stdout)["entries"][-1]["kind"] == "credit_memo"
    )
    unknown = tmp_path / "unknown.json"
    unknown.write_text('{"id": 5}')
    result = runner.invoke(preview_app, ["--settings", str(settings), str(unknown)])
    assert result.exit_code == 1 and "--kind" in result.stderr
    bad_settings = write_settings(tmp_path, tax={"mode": "guess"})
    result = runner.invoke(preview_app, ["--settings", str(bad_settings), str(page)])
    assert result.exit_code == 1 and "tax.mode" in result.stderr


def test_preview_accepts_options_after_the_document(tmp_path: Path) -> None:
    settings = write_settings(tmp_path)
    document = str(CORPUS / "so_tax_exclusive.json")
    before = runner.invoke(
        preview_app, ["--settings", str(settings), "--format", "qbxml", document]
    )
    after = runner.invoke(preview_app, [document, "--settings", str(settings), "--format", "qbxml"])
    assert after.exit_code == before.exit_code == 0, after.output
    assert validation_errors(after.stdout) == []
