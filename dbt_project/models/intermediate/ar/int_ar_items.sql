{#- Every receivable item that exists on the as-of date, whatever its balance: invoices, credit
    memos left on account, and cash receipts (which stay open as unapplied cash until applied).
    Amounts are signed from the customer's debt point of view: credits and cash are negative. A
    credit memo applied to an invoice is not an item of its own; it reduces that invoice. -#}

with

as_of as (
    select as_of_date from {{ ref('int_ar_as_of_date') }}
),

invoices as (
    select * from {{ ref('stg_erp__invoices') }}
),

credit_memos as (
    select * from {{ ref('stg_erp__credit_memos') }}
),

payments as (
    select * from {{ ref('stg_erp__payments') }}
),

invoice_items as (
    select
        invoices.invoice_id as item_id,
        'invoice' as item_type,
        invoices.customer_id,
        invoices.currency,
        invoices.invoice_date as document_date,
        invoices.due_date,
        invoices.invoice_amount as original_amount
    from invoices
    cross join as_of
    where invoices.invoice_date <= as_of.as_of_date
),

on_account_credit_items as (
    select
        credit_memos.credit_memo_id as item_id,
        'credit_memo' as item_type,
        credit_memos.customer_id,
        credit_memos.currency,
        credit_memos.credit_date as document_date,
        credit_memos.credit_date as due_date,
        -credit_memos.credit_amount as original_amount
    from credit_memos
    cross join as_of
    where credit_memos.applied_invoice_id is null
        and credit_memos.credit_date <= as_of.as_of_date
),

payment_items as (
    select
        payments.payment_id as item_id,
        'unapplied_payment' as item_type,
        payments.customer_id,
        payments.currency,
        payments.payment_date as document_date,
        payments.payment_date as due_date,
        -payments.payment_amount as original_amount
    from payments
    cross join as_of
    where payments.payment_date <= as_of.as_of_date
),

unioned as (
    select * from invoice_items
    union all
    select * from on_account_credit_items
    union all
    select * from payment_items
)

select
    item_id,
    item_type,
    customer_id,
    currency,
    document_date,
    due_date,
    {{ day_number('document_date') }} as document_day_number,
    {{ day_number('due_date') }} as due_day_number,
    {{ money('original_amount') }} as original_amount
from unioned
