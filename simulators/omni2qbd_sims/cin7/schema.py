"""Field lists of the Cin7 Omni resources the simulator serves (reference §8).

The real API returns every field of a record, with ``null`` for unset ones, so each record the
simulator stores starts from a blank built out of these lists.
"""

from __future__ import annotations

from typing import Any

_ADDRESS = [
    "firstName",
    "lastName",
    "company",
    "email",
    "phone",
    "mobile",
    "fax",
    "deliveryFirstName",
    "deliveryLastName",
    "deliveryCompany",
    "deliveryAddress1",
    "deliveryAddress2",
    "deliveryCity",
    "deliveryState",
    "deliveryPostalCode",
    "deliveryCountry",
    "billingFirstName",
    "billingLastName",
    "billingCompany",
    "billingAddress1",
    "billingAddress2",
    "billingCity",
    "billingPostalCode",
    "billingState",
    "billingCountry",
]

TRANSACTION_HEADER = [
    "id",
    "createdDate",
    "modifiedDate",
    "createdBy",
    "processedBy",
    "isApproved",
    "reference",
    "memberId",
    "memberEmail",
    *_ADDRESS,
    "branchId",
    "branchEmail",
    "projectName",
    "trackingCode",
    "internalComments",
    "productTotal",
    "freightTotal",
    "freightDescription",
    "surcharge",
    "surchargeDescription",
    "discountTotal",
    "discountDescription",
    "total",
    "currencyCode",
    "currencyRate",
    "currencySymbol",
    "taxStatus",
    "taxRate",
    "source",
    "customFields",
    "status",
    "accountingAttributes",
    "modifiedCOGSDate",
    "lineItems",
]

_ORDER_EXTRA = [
    "stage",
    "memberCostCenter",
    "costCenter",
    "memberAlternativeTaxRate",
    "alternativeTaxRate",
    "estimatedDeliveryDate",
    "salesPersonId",
    "salesPersonEmail",
    "paymentTerms",
    "customerOrderNo",
    "voucherCode",
    "deliveryInstructions",
    "cancellationDate",
    "invoiceDate",
    "logisticsCarrier",
    "logisticsStatus",
    "isVoid",
]

SALES_ORDER = [
    *TRANSACTION_HEADER,
    *_ORDER_EXTRA,
    "invoiceNumber",
    "dispatchedDate",
    "ediStatus",
    "distributionBranchId",
    "departmentNumber",
    "storeLocationNumber",
    "distributionCenter",
]

PURCHASE_ORDER = [
    *TRANSACTION_HEADER,
    *_ORDER_EXTRA,
    "supplierInvoiceReference",
    "supplierAcceptanceDate",
    "port",
    "estimatedArrivalDate",
    "fullyReceivedDate",
]

CREDIT_NOTE = [
    *TRANSACTION_HEADER,
    "salesReference",
    "creditNoteNumber",
    "creditNoteDate",
    "completedDate",
    "customerReport",
    "alternativeAccountCode",
    "salesPersonId",
    "logisticsCarrier",
    "logisticsStatus",
]

_LINE_BASE = [
    "id",
    "createdDate",
    "transactionId",
    "parentId",
    "productId",
    "productOptionId",
    "integrationRef",
    "sort",
    "code",
    "name",
    "option1",
    "option2",
    "option3",
    "qty",
    "styleCode",
    "barcode",
    "supplierCode",
    "sizeCodes",
    "lineComments",
]

SALES_ORDER_LINE = [
    *_LINE_BASE,
    "unitCost",
    "unitPrice",
    "uomPrice",
    "uomQtyOrdered",
    "uomQtyShipped",
    "uomSize",
    "discount",
    "qtyShipped",
    "holdingQty",
    "accountCode",
    "stockControl",
    "stockMovements",
    "sizes",
]

PURCHASE_ORDER_LINE = [
    *_LINE_BASE,
    "unitPrice",
    "discount",
    "qtyShipped",
    "holdingQty",
    "accountCode",
]

CREDIT_NOTE_LINE = [
    *_LINE_BASE,
    "unitCost",
    "unitPrice",
    "discount",
    "qtyShipped",
    "accountCode",
]

CONTACT = [
    "id",
    "createdDate",
    "modifiedDate",
    "isActive",
    "type",
    "company",
    "firstName",
    "lastName",
    "jobTitle",
    "email",
    "website",
    "phone",
    "fax",
    "mobile",
    "address1",
    "address2",
    "city",
    "state",
    "postCode",
    "country",
    "postalAddress1",
    "postalAddress2",
    "postalCity",
    "postalPostCode",
    "postalState",
    "postalCountry",
    "notes",
    "integrationRef",
    "customFields",
    "secondaryContacts",
    "salesPersonId",
    "accountNumber",
    "billingId",
    "billingCompany",
    "accountsFirstName",
    "accountsLastName",
    "billingEmail",
    "accountsPhone",
    "billingCostCenter",
    "costCenter",
    "priceColumn",
    "percentageOff",
    "paymentTerms",
    "taxStatus",
    "taxNumber",
    "creditLimit",
    "balanceOwing",
    "onHold",
    "group",
    "subGroup",
    "stages",
    "accountingIntegrationId",
]

PRODUCT_OPTION = [
    "id",
    "createdDate",
    "modifiedDate",
    "status",
    "productId",
    "code",
    "barcode",
    "productOptionCode",
    "productOptionSizeCode",
    "productOptionBarcode",
    "productOptionSizeBarcode",
    "supplierCode",
    "option1",
    "option2",
    "option3",
    "optionWeight",
    "size",
    "sizeId",
    "retailPrice",
    "wholesalePrice",
    "vipPrice",
    "specialPrice",
    "specialsStartDate",
    "specialDays",
    "stockAvailable",
    "stockOnHand",
    "uomOptions",
    "image",
    "priceColumns",
]

PRODUCT = [
    "id",
    "status",
    "createdDate",
    "modifiedDate",
    "styleCode",
    "name",
    "description",
    "tags",
    "images",
    "pdfUpload",
    "pdfDescription",
    "supplierId",
    "brand",
    "category",
    "subCategory",
    "categoryIdArray",
    "channels",
    "weight",
    "height",
    "width",
    "length",
    "volume",
    "stockControl",
    "orderType",
    "productType",
    "productSubtype",
    "projectName",
    "optionLabel1",
    "optionLabel2",
    "optionLabel3",
    "salesAccount",
    "purchasesAccount",
    "importCustomsDuty",
    "sizeRangeId",
    "customFields",
    "productOptions",
]

STOCK_UNIT = [
    "productId",
    "productOptionId",
    "modifiedDate",
    "styleCode",
    "code",
    "barcode",
    "branchId",
    "branchName",
    "productName",
    "option1",
    "option2",
    "option3",
    "size",
    "available",
    "stockOnHand",
    "openSales",
    "incoming",
    "virtual",
    "holding",
]

ADJUSTMENT = [
    "id",
    "createdDate",
    "modifiedDate",
    "createdBy",
    "processedBy",
    "isApproved",
    "reference",
    "branchId",
    "completedDate",
    "adjustInAccountingSystem",
    "adjustmentReason",
    "alternativeAccountCode",
    "productTotal",
    "source",
    "lineItems",
]

ADJUSTMENT_LINE = [
    *_LINE_BASE[:13],
    "qty",
    "qtyAdjusted",
    "holdingQty",
    "account",
    "unitCost",
]

BRANCH = [
    "id",
    "createdDate",
    "modifiedDate",
    "isActive",
    "company",
    "firstName",
    "lastName",
    "jobTitle",
    "email",
    "website",
    "phone",
    "fax",
    "mobile",
    "address1",
    "address2",
    "city",
    "state",
    "postCode",
    "country",
    "postalAddress1",
    "postalAddress2",
    "postalCity",
    "postalPostCode",
    "postalState",
    "postalCountry",
    "notes",
    "integrationRef",
    "customFields",
    "secondaryContacts",
    "branchType",
    "stockControlOptions",
    "taxStatus",
    "accountNumber",
    "branchLocations",
]

PAYMENT = [
    "id",
    "createdDate",
    "modifiedDate",
    "paymentDate",
    "amount",
    "method",
    "isAuthorized",
    "transactionRef",
    "comments",
    "orderId",
    "orderRef",
    "paymentImportedRef",
    "batchReference",
    "reconcileDate",
    "branchId",
    "orderType",
]

RESOURCE_FIELDS: dict[str, list[str]] = {
    "SalesOrders": SALES_ORDER,
    "PurchaseOrders": PURCHASE_ORDER,
    "CreditNotes": CREDIT_NOTE,
    "Contacts": CONTACT,
    "Products": PRODUCT,
    "ProductOptions": PRODUCT_OPTION,
    "Stock": STOCK_UNIT,
    "Adjustments": ADJUSTMENT,
    "Branches": BRANCH,
    "Payments": PAYMENT,
}

LINE_FIELDS: dict[str, list[str]] = {
    "SalesOrders": SALES_ORDER_LINE,
    "PurchaseOrders": PURCHASE_ORDER_LINE,
    "CreditNotes": CREDIT_NOTE_LINE,
    "Adjustments": ADJUSTMENT_LINE,
}

# Verb matrix of reference §7 for the resources the simulator serves.
WRITABLE = frozenset(RESOURCE_FIELDS) - {"Stock"}
DELETABLE = frozenset({"Contacts", "Payments"})
GETTABLE_BY_ID = frozenset(RESOURCE_FIELDS) - {"Stock"}
# Documents whose line costs feed COGS (reference §10): a unitCost change bumps modifiedCOGSDate.
COGS_RESOURCES = frozenset({"SalesOrders", "PurchaseOrders", "CreditNotes"})


def blank(resource: str) -> dict[str, Any]:
    return dict.fromkeys(RESOURCE_FIELDS[resource])


def blank_line(resource: str) -> dict[str, Any]:
    return dict.fromkeys(LINE_FIELDS[resource])


def canonical_names(resource: str) -> dict[str, str]:
    """Lower-case name -> canonical camelCase name, so input and filters are case-insensitive."""
    return {name.lower(): name for name in RESOURCE_FIELDS[resource]}


def resolve_resource(name: str) -> str | None:
    """ASP.NET routing is case-insensitive: ``/v1/salesorders`` reaches SalesOrders."""
    for resource in RESOURCE_FIELDS:
        if resource.lower() == name.lower():
            return resource
    return None
