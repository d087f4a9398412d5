-- The accounting identity per invoice, recomputed from staging by a second route:
--   open amount = invoiced - cash applied - discount allowed - credit memos applied
--                 - cash applied from bank files that the ERP has not posted yet,
-- counting movements dated on or before the as-of date. Invoices not in fct_ar_open_items must
-- come out at zero. Returns the invoices where the ledger disagrees.

with

as_of as (
    select as_of_date from {{ ref('int_ar_as_of_date') }}
),

invoices as (
    select invoices.invoice_id, invoices.invoice_amount
    from {{ ref('stg_erp__invoices') }} as invoices
    cross join as_of
    where invoices.invoice_date <= as_of.as_of_date
),

applied as (
    select applications.invoice_id, sum(applications.applied_amount + applications.discount_amount) as applied_amount
    from {{ ref('stg_erp__payment_applications') }} as applications
    cross join as_of
    where applications.applied_date <= as_of.as_of_date
    group by applications.invoice_id
),

credited as (
    select credit_memos.applied_invoice_id as invoice_id, sum(credit_memos.credit_amount) as credited_amount
    from {{ ref('stg_erp__credit_memos') }} as credit_memos
    cross join as_of
    where credit_memos.credit_date <= as_of.as_of_date
        and credit_memos.applied_invoice_id is not null
    group by credit_memos.applied_invoice_id
),

bank_applied as (
    select bank_events.item_id as invoice_id, -sum(bank_events.amount) as applied_amount
    from {{ ref('int_cashapp_bank_item_events') }} as bank_events
    where bank_events.item_type = 'invoice'
    group by bank_events.item_id
),

ledger as (
    select item_id as invoice_id, open_amount
    from {{ ref('fct_ar_open_items') }}
    where item_type = 'invoice'
),

compared as (
    select
        invoices.invoice_id,
        invoices.invoice_amount
            - coalesce(applied.applied_amount, 0)
            - coalesce(credited.credited_amount, 0)
            - coalesce(bank_applied.applied_amount, 0) as expected_open_amount,
        coalesce(ledger.open_amount, 0) as ledger_open_amount
    from invoices
    left join applied on invoices.invoice_id = applied.invoice_id
    left join credited on invoices.invoice_id = credited.invoice_id
    left join bank_applied on invoices.invoice_id = bank_applied.invoice_id
    left join ledger on invoices.invoice_id = ledger.invoice_id
)

select *
from compared
where expected_open_amount <> ledger_open_amount
