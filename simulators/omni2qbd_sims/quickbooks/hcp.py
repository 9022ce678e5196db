"""The HostQuery/CompanyQuery/PreferencesQuery responses QBWC sends on a session's first
``sendRequestXML`` (``strHCPResponse``), modelled on the capture from QuickBooks Pro 2014
(reference/qbwc/captures/strHCPResponse-QuickBooksPro2014.xml), with this company's name,
edition, supported qbXML versions and FileID filled in.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from omni2qbd_sims.quickbooks.qbtext import sub

_OLD_VERSIONS = [
    "1.0",
    "1.1",
    "2.0",
    "2.1",
    "3.0",
    "4.0",
    "4.1",
    "5.0",
    "6.0",
    "7.0",
    "8.0",
    "9.0",
    "10.0",
    "11.0",
    "12.0",
    "13.0",
]


@dataclass(frozen=True)
class Edition:
    product_name: str
    major_version: str
    minor_version: str
    qbxml_versions: tuple[str, ...]
    country: str = "US"

    @property
    def highest_version(self) -> str:
        return max(self.qbxml_versions, key=lambda v: tuple(int(p) for p in v.split(".")))


# The 2014 edition is the one the reference captured (qbXML 1.0-13.0). The reference could
# not confirm which desktop year first speaks 14.0-16.0 (§8.9); the 2021 edition below
# assumes 16.0 and exists so the product's 16.0 path can be exercised.
EDITIONS: dict[str, Edition] = {
    "pro2014": Edition("QuickBooks Pro 2014", "24", "0", tuple(_OLD_VERSIONS)),
    "enterprise2021": Edition(
        "QuickBooks Enterprise Solutions 21.0",
        "31",
        "0",
        (*_OLD_VERSIONS, "14.0", "15.0", "16.0"),
    ),
}
DEFAULT_EDITION = "pro2014"

# The OwnerID QBWC used for the FileID DataExt in the capture.
CAPTURE_OWNER_ID = "{512349B1-1111-2222-3333-000DE1813D20}"


def build_hcp_response(
    *,
    edition: Edition,
    company_name: str,
    file_id: str,
    owner_id: str,
    single_user: bool = True,
) -> str:
    """The strHCPResponse text, in the capture's compact single-line form."""
    root = etree.Element("QBXML")
    msgs = sub(root, "QBXMLMsgsRs")

    host_rs = _rs(msgs, "HostQueryRs", "0")
    host = sub(host_rs, "HostRet")
    sub(host, "ProductName", edition.product_name)
    sub(host, "MajorVersion", edition.major_version)
    sub(host, "MinorVersion", edition.minor_version)
    sub(host, "Country", edition.country)
    for version in edition.qbxml_versions:
        sub(host, "SupportedQBXMLVersion", version)
    sub(host, "IsAutomaticLogin", "false")
    sub(host, "QBFileMode", "SingleUser" if single_user else "MultiUser")

    company_rs = _rs(msgs, "CompanyQueryRs", "1")
    company = sub(company_rs, "CompanyRet")
    sub(company, "IsSampleCompany", "false")
    sub(company, "CompanyName", company_name)
    sub(company, "LegalCompanyName", company_name)
    address = sub(company, "Address")
    sub(address, "City", "Anytown")
    sub(address, "State", "CA")
    sub(address, "PostalCode", "12345")
    sub(address, "Country", "US")
    sub(company, "FirstMonthFiscalYear", "January")
    sub(company, "FirstMonthIncomeTaxYear", "January")
    sub(company, "CompanyType", "InformationTechnologyComputersSoftware")
    sub(company, "TaxForm", "Form1120")
    ext = sub(company, "DataExtRet")
    sub(ext, "OwnerID", owner_id)
    sub(ext, "DataExtName", "FileID")
    sub(ext, "DataExtType", "STR255TYPE")
    sub(ext, "DataExtValue", file_id)

    prefs_rs = _rs(msgs, "PreferencesQueryRs", "2")
    prefs = sub(prefs_rs, "PreferencesRet")
    accounting = sub(prefs, "AccountingPreferences")
    for tag, value in (
        ("IsUsingAccountNumbers", "false"),
        ("IsRequiringAccounts", "true"),
        ("IsUsingClassTracking", "true"),
        ("IsUsingAuditTrail", "true"),
        ("IsAssigningJournalEntryNumbers", "true"),
    ):
        sub(accounting, tag, value)
    finance = sub(prefs, "FinanceChargePreferences")
    for tag, value in (
        ("AnnualInterestRate", "0.00"),
        ("MinFinanceCharge", "0.00"),
        ("GracePeriod", "0"),
        ("IsAssessingForOverdueCharges", "false"),
        ("CalculateChargesFrom", "DueDate"),
        ("IsMarkedToBePrinted", "false"),
    ):
        sub(finance, tag, value)
    jobs = sub(prefs, "JobsAndEstimatesPreferences")
    sub(jobs, "IsUsingEstimates", "true")
    sub(jobs, "IsUsingProgressInvoicing", "false")
    sub(jobs, "IsPrintingItemsWithZeroAmounts", "false")
    multi = sub(prefs, "MultiCurrencyPreferences")
    sub(multi, "IsMultiCurrencyOn", "false")
    purchases = sub(prefs, "PurchasesAndVendorsPreferences")
    sub(purchases, "IsUsingInventory", "false")
    sub(purchases, "DaysBillsAreDue", "10")
    sub(purchases, "IsAutomaticallyUsingDiscounts", "false")
    reports = sub(prefs, "ReportsPreferences")
    sub(reports, "AgingReportBasis", "AgeFromDueDate")
    sub(reports, "SummaryReportBasis", "Accrual")
    sales = sub(prefs, "SalesAndCustomersPreferences")
    sub(sales, "IsTrackingReimbursedExpensesAsIncome", "false")
    sub(sales, "IsAutoApplyingPayments", "true")
    time = sub(prefs, "TimeTrackingPreferences")
    sub(time, "FirstDayOfWeek", "Monday")
    rights = sub(prefs, "CurrentAppAccessRights")
    sub(rights, "IsAutomaticLoginAllowed", "false")
    sub(rights, "IsPersonalDataAccessAllowed", "false")
    text = etree.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" ?>{text}'


def _rs(parent: etree._Element, tag: str, request_id: str) -> etree._Element:
    rs = sub(parent, tag)
    rs.set("requestID", request_id)
    rs.set("statusCode", "0")
    rs.set("statusSeverity", "Info")
    rs.set("statusMessage", "Status OK")
    return rs
