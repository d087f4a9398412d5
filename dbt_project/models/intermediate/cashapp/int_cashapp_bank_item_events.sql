{{ config(tags=['cash_applied']) }}

{#- Ledger movements of the cash the engine applied from bank files that the ERP has not posted yet:
    the invoice falls by the cash and the discount allowed; when the ERP already holds the receipt
    (matched in stg_cashapp__erp_payment_matches) but has not applied it, the receipt's unapplied
    cash falls by the same cash, so the money is counted once. As soon as the ERP posts an
    application of the matched receipt (dated on or before the as-of date), the ERP's events take
    over and these rows disappear (ml/cashapp/warehouse.py pending_bank_applications states the
    same rule for the engine's next day). Deductions stay open on the invoice, as in the ERP. -#}

with

as_of as (
    select as_of_date from {{ ref('int_ar_as_of_date') }}
),

items as (
    select * from {{ ref('int_ar_items') }}
),

applications as (
    select * from {{ ref('stg_cashapp__applications') }}
    where application_type = 'invoice'
),

matches as (
    select * from {{ ref('stg_cashapp__erp_payment_matches') }}
),

erp_applications as (
    select * from {{ ref('stg_erp__payment_applications') }}
),

posted_in_erp as (
    select distinct matches.transaction_id
    from matches
    inner join erp_applications
        on matches.payment_id = erp_applications.payment_id
    cross join as_of
    where erp_applications.applied_date <= as_of.as_of_date
),

pending as (
    select
        applications.transaction_id,
        applications.invoice_id,
        applications.booking_date,
        applications.applied_amount,
        applications.discount_amount,
        matches.payment_id,
        matches.payment_date
    from applications
    left join posted_in_erp
        on applications.transaction_id = posted_in_erp.transaction_id
    left join matches
        on applications.transaction_id = matches.transaction_id
    where posted_in_erp.transaction_id is null
),

movements as (
    select
        transaction_id,
        invoice_id as item_id,
        'invoice' as item_type,
        'bank_cash_applied' as event_type,
        booking_date as event_date,
        -applied_amount as amount
    from pending

    union all

    select
        transaction_id,
        invoice_id as item_id,
        'invoice' as item_type,
        'bank_discount_allowed' as event_type,
        booking_date as event_date,
        -discount_amount as amount
    from pending

    union all

    -- the ERP's receipt, once it has one: its cash is no longer unapplied (never before it exists)
    select
        transaction_id,
        payment_id as item_id,
        'unapplied_payment' as item_type,
        'bank_payment_applied' as event_type,
        case when payment_date > booking_date then payment_date else booking_date end as event_date,
        applied_amount as amount
    from pending
    where payment_id is not null
)

select
    movements.transaction_id,
    items.item_id,
    items.item_type,
    items.customer_id,
    items.currency,
    movements.event_type,
    movements.event_date,
    {{ day_number('movements.event_date') }} as event_day_number,
    {{ money('movements.amount') }} as amount
from movements
inner join items
    on movements.item_id = items.item_id
    and movements.item_type = items.item_type
cross join as_of
where movements.event_date <= as_of.as_of_date
    and movements.amount <> 0
