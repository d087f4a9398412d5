{#- Every change of an item's open amount the ERP posted, dated, up to the as-of date: the ERP's
    ledger as a list of signed movements (transaction currency). An item's open amount on day d is
    the sum of its events dated on or before d. Zero movements (an application without discount,
    say) are dropped: they change nothing and are not activity. Movements on an item that does not
    exist on the as-of date (an application to an invoice dated later) wait until it does. The
    ledger proper (int_ar_item_events) adds the cash applied from bank files that the ERP has not
    posted yet; the cash-application engine reads this one, the ERP's own view. -#}

with

as_of as (
    select as_of_date from {{ ref('int_ar_as_of_date') }}
),

items as (
    select * from {{ ref('int_ar_items') }}
),

credit_memos as (
    select * from {{ ref('stg_erp__credit_memos') }}
),

applications as (
    select * from {{ ref('stg_erp__payment_applications') }}
),

movements as (
    -- the document itself: invoice +amount, credit on account or cash received -amount
    select
        item_id,
        item_type,
        case item_type
            when 'invoice' then 'invoice_issued'
            when 'credit_memo' then 'credit_issued'
            else 'payment_received'
        end as event_type,
        document_date as event_date,
        original_amount as amount
    from items

    union all

    -- cash applied reduces the invoice ...
    select
        invoice_id as item_id,
        'invoice' as item_type,
        'cash_applied' as event_type,
        applied_date as event_date,
        -applied_amount as amount
    from applications

    union all

    -- ... and so does the early-payment discount allowed with it
    select
        invoice_id as item_id,
        'invoice' as item_type,
        'discount_allowed' as event_type,
        applied_date as event_date,
        -discount_amount as amount
    from applications

    union all

    -- the applied cash is no longer unapplied on the receipt
    select
        payment_id as item_id,
        'unapplied_payment' as item_type,
        'payment_applied' as event_type,
        applied_date as event_date,
        applied_amount as amount
    from applications

    union all

    -- a credit memo applied to an invoice reduces that invoice
    select
        applied_invoice_id as item_id,
        'invoice' as item_type,
        'credit_applied' as event_type,
        credit_date as event_date,
        -credit_amount as amount
    from credit_memos
    where applied_invoice_id is not null
)

select
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
