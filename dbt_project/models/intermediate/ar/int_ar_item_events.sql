{{ config(tags=['cash_applied']) }}

{#- Every change of an item's open amount, dated, up to the as-of date: the ledger as a list of
    signed movements (transaction currency). The ERP's postings (int_ar_erp_item_events) plus the
    cash the cash-application engine applied from bank files that the ERP has not posted yet
    (int_cashapp_bank_item_events): open balances fall as payments arrive, and a payment counts
    once, from the bank until the ERP posts its application, from the ERP after. -#}

with

erp_events as (
    select * from {{ ref('int_ar_erp_item_events') }}
),

bank_events as (
    select * from {{ ref('int_cashapp_bank_item_events') }}
),

unioned as (
    select item_id, item_type, customer_id, currency, event_type, event_date, event_day_number, amount
    from erp_events
    union all
    select item_id, item_type, customer_id, currency, event_type, event_date, event_day_number, amount
    from bank_events
)

select * from unioned
