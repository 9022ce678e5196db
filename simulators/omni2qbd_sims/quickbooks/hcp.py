"""The HostQuery/CompanyQuery/PreferencesQuery responses QBWC sends on a session's first
``sendRequestXML`` (``strHCPResponse``), modelled on the capture from QuickBooks Pro 2014
(reference/qbwc/captures/strHCPResponse-QuickBooksPro2014.xml), with this company's name,
edition, supported qbXML versions and FileID filled in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from omni2qbd_shared.xmlsafe import parse_xml

# A copy of reference/qbwc/captures/strHCPResponse-QuickBooksPro2014.xml (public test data
# of the qbwc/qbwc gem, redacted there).
_TEMPLATE = Path(__file__).with_name("hcp_capture_pro2014.xml")

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
    """The strHCPResponse text: the captured one (compact, single line) with this company's
    product, versions, name and FileID substituted."""
    root = parse_xml(_TEMPLATE.read_bytes())
    host = root.find("QBXMLMsgsRs/HostQueryRs/HostRet")
    company = root.find("QBXMLMsgsRs/CompanyQueryRs/CompanyRet")
    assert host is not None and company is not None
    _set(host, "ProductName", edition.product_name)
    _set(host, "MajorVersion", edition.major_version)
    _set(host, "MinorVersion", edition.minor_version)
    _set(host, "Country", edition.country)
    versions = host.findall("SupportedQBXMLVersion")
    anchor = host.index(versions[0])
    for old in versions:
        host.remove(old)
    for offset, version in enumerate(edition.qbxml_versions):
        element = etree.Element("SupportedQBXMLVersion")
        element.text = version
        host.insert(anchor + offset, element)
    _set(host, "QBFileMode", "SingleUser" if single_user else "MultiUser")
    _set(company, "CompanyName", company_name)
    _set(company, "LegalCompanyName", company_name)
    _add_subscribed_services(company)
    for ext in company.findall("DataExtRet"):
        if ext.findtext("DataExtName") == "FileID":
            _set(ext, "OwnerID", owner_id)
            _set(ext, "DataExtValue", file_id)
    text = etree.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" ?>{text}'


def _set(parent: etree._Element, tag: str, text: str) -> None:
    element = parent.find(tag)
    assert element is not None, tag
    element.text = text


# The capture left out CompanyRet's SubscribedServices list; real strHCPResponses carry it
# (e.g. the one in a public node-soap Web Connector stub, beside the same TaxForm and
# AccountantCopy elements). These are the first entries of that list, all "Never".
SUBSCRIBED_SERVICES = (
    ("QuickBooks Online Banking", "banking.qb"),
    ("QuickBooks Online Billing", "billing.qb"),
    ("QuickBooks Bill Payment", "billpay.qb"),
    ("QuickBooks Payroll Service", "payroll.qb"),
    ("Merchant Account Service", "mas.qbn"),
)


def _add_subscribed_services(company: etree._Element) -> None:
    if company.find("SubscribedServices") is not None:
        return
    services = etree.Element("SubscribedServices")
    for name, domain in SUBSCRIBED_SERVICES:
        service = etree.SubElement(services, "Service")
        etree.SubElement(service, "Name").text = name
        etree.SubElement(service, "Domain").text = domain
        etree.SubElement(service, "ServiceStatus").text = "Never"
    # Schema order: after TaxForm, before AccountantCopy.
    anchor = company.find("AccountantCopy")
    if anchor is None:
        company.append(services)
    else:
        anchor.addprevious(services)
