//! The custom fields Ledgerlink reads and writes on Salesforce objects (the names `ledgerlink
//! init` installs), kept with the client's JSON mapping so the flows never spell a field name.
//! The select lists in [`super::salesforce_json`] name the same fields.

/// Account: the linked QBO Customer Id (an external id: inbound upserts match on it).
pub const QBO_CUSTOMER_ID: &str = "QBO_Customer_Id__c";
/// Account: the billing email an invoice is sent to.
pub const EMAIL: &str = "Email__c";
/// Account: the payment terms' name (QBO `SalesTermRef`).
pub const PAYMENT_TERMS: &str = "Payment_Terms__c";
/// Account: exempt from sales tax (QBO `Taxable` false).
pub const TAX_EXEMPT: &str = "Tax_Exempt__c";
/// Account: the QBO location (Department) of its invoices.
pub const QBO_DEPARTMENT: &str = "QBO_Department__c";
/// Account: the QBO class of its invoices.
pub const QBO_CLASS: &str = "QBO_Class__c";

/// The Account's fields as an Opportunity's parent path, for the invoice details.
pub const ACCOUNT_EMAIL: &str = "Account.Email__c";
/// See [`ACCOUNT_EMAIL`].
pub const ACCOUNT_PAYMENT_TERMS: &str = "Account.Payment_Terms__c";
/// See [`ACCOUNT_EMAIL`].
pub const ACCOUNT_TAX_EXEMPT: &str = "Account.Tax_Exempt__c";

/// Product2: the linked QBO Item Id.
pub const QBO_ITEM_ID: &str = "QBO_Item_Id__c";
/// Product2: whether the product is taxable (the default taxable-field setting).
pub const TAXABLE: &str = "Taxable__c";

/// Pricebook2: prices include tax (the default pricebook-tax-inclusive-field setting).
pub const PRICES_INCLUDE_TAX: &str = "Prices_Include_Tax__c";

/// Opportunity: the invoice Ledgerlink created (an external id: inbound upserts match on it).
pub const QBO_INVOICE_ID: &str = "QBO_Invoice_Id__c";
/// Opportunity: the invoice's DocNumber.
pub const QBO_INVOICE_NUMBER: &str = "QBO_Invoice_Number__c";
/// Opportunity: the invoice's link in QBO.
pub const QBO_INVOICE_LINK: &str = "QBO_Invoice_Link__c";
/// Opportunity: `Unpaid`, `Partially Paid`, `Paid` (a picklist).
pub const PAYMENT_STATUS: &str = "Payment_Status__c";
/// Opportunity: paid so far.
pub const AMOUNT_PAID: &str = "Amount_Paid__c";
/// Opportunity: the invoice's open balance.
pub const OPEN_BALANCE: &str = "Open_Balance__c";
/// Opportunity: when the invoice was paid in full.
pub const PAID_DATE: &str = "Paid_Date__c";
/// Opportunity: credit memos counted against its invoices.
pub const AMOUNT_CREDITED: &str = "Amount_Credited__c";
/// Opportunity: refunds counted against its invoices.
pub const AMOUNT_REFUNDED: &str = "Amount_Refunded__c";
/// Opportunity: the total of its live invoices (a subscription has several).
pub const AMOUNT_INVOICED: &str = "Amount_Invoiced__c";
/// Opportunity: days since the invoice's due date, written by the aging job.
pub const DAYS_OUTSTANDING: &str = "Days_Outstanding__c";

/// Opportunity: the QBO recurring template (RecurringTransaction) of its subscription lines.
pub const QBO_RECURRING_ID: &str = "QBO_Recurring_Id__c";
/// Opportunity: the subscription is cancelled (the default subscription-cancel-field).
pub const SUBSCRIPTION_CANCELLED: &str = "Subscription_Cancelled__c";
/// OpportunityLineItem, else Product2: how often a subscription line bills (the default
/// subscription-frequency-field): Monthly, Quarterly, Semiannual, Annual, Weekly.
pub const BILLING_FREQUENCY: &str = "Billing_Frequency__c";
/// OpportunityLineItem, else Product2: a subscription's term in months (the default
/// subscription-term-field).
pub const SUBSCRIPTION_TERM: &str = "Subscription_Term__c";

/// The custom object with one record per invoice QBO generated from a subscription's template,
/// upserted by [`QBO_INVOICE_ID`]; it also has `Name`, [`QBO_INVOICE_NUMBER`],
/// [`AMOUNT_PAID`], [`OPEN_BALANCE`] and [`PAYMENT_STATUS`].
pub const SUBSCRIPTION_INVOICE: &str = "Ledgerlink_Subscription_Invoice__c";
/// Subscription invoice: its Opportunity (a lookup).
pub const OPPORTUNITY_REF: &str = "Opportunity__c";
/// Subscription invoice: the invoice's date (TxnDate).
pub const INVOICE_DATE: &str = "Invoice_Date__c";
/// Subscription invoice: the invoice's total.
pub const INVOICE_AMOUNT: &str = "Amount__c";

/// Order: the journal entry Ledgerlink posted.
pub const QBO_JOURNAL_ENTRY_ID: &str = "QBO_Journal_Entry_Id__c";

// --- Invoice objects (`invoice-source` = `invoice-object` | `billing`) ---

/// Salesforce Billing's invoice (managed package).
pub const BLNG_INVOICE: &str = "blng__Invoice__c";
/// Salesforce Billing's invoice line.
pub const BLNG_INVOICE_LINE: &str = "blng__InvoiceLine__c";
/// Billing invoice: its account.
pub const BLNG_ACCOUNT: &str = "blng__Account__c";
/// Billing invoice: its account's relationship.
pub const BLNG_ACCOUNT_REL: &str = "blng__Account__r";
/// Billing invoice: its date.
pub const BLNG_INVOICE_DATE: &str = "blng__InvoiceDate__c";
/// Billing invoice: its due date.
pub const BLNG_DUE_DATE: &str = "blng__DueDate__c";
/// Billing invoice: its status (`Posted` is invoiced).
pub const BLNG_INVOICE_STATUS: &str = "blng__InvoiceStatus__c";
/// Billing invoice (and line): total with tax.
pub const BLNG_TOTAL_AMOUNT: &str = "blng__TotalAmount__c";
/// Billing invoice (and line): total before tax.
pub const BLNG_SUBTOTAL: &str = "blng__Subtotal__c";
/// Billing invoice: its notes.
pub const BLNG_NOTES: &str = "blng__Notes__c";
/// Billing invoice's lines (child relationship).
pub const BLNG_INVOICE_LINES: &str = "blng__InvoiceInvoiceLines__r";
/// Billing invoice line: its invoice.
pub const BLNG_LINE_INVOICE: &str = "blng__Invoice__c";
/// Billing invoice line: its product.
pub const BLNG_PRODUCT: &str = "blng__Product__c";
/// Billing invoice line: its product's relationship.
pub const BLNG_PRODUCT_REL: &str = "blng__Product__r";
/// Billing invoice line: quantity.
pub const BLNG_QUANTITY: &str = "blng__Quantity__c";
/// Billing invoice line: unit price.
pub const BLNG_UNIT_PRICE: &str = "blng__UnitPrice__c";
/// Billing invoice line: description.
pub const BLNG_DESCRIPTION: &str = "blng__Description__c";
/// Billing invoice line: service start.
pub const BLNG_START_DATE: &str = "blng__StartDate__c";

/// The fields only Ledgerlink writes: a change event touching nothing else is our own echo.
pub const WRITTEN_BY_LEDGERLINK: [&str; 15] = [
    QBO_CUSTOMER_ID,
    QBO_ITEM_ID,
    QBO_INVOICE_ID,
    QBO_INVOICE_NUMBER,
    QBO_INVOICE_LINK,
    QBO_JOURNAL_ENTRY_ID,
    PAYMENT_STATUS,
    AMOUNT_PAID,
    OPEN_BALANCE,
    PAID_DATE,
    AMOUNT_CREDITED,
    AMOUNT_REFUNDED,
    AMOUNT_INVOICED,
    DAYS_OUTSTANDING,
    QBO_RECURRING_ID,
];
