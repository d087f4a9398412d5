{{ config(tags=['cash_applied']) }}

{#- What happened per customer, currency and day: invoiced (invoices issued) and collected (cash
    received), in transaction currency, plus the count of all ledger movements, so a day on
    which the last item closed still shows up in the daily balance. -#}

with

events as (
    select * from {{ ref('int_ar_item_events') }}
)

select
    customer_id,
    currency,
    event_day_number as day_number,
    {{ money("sum(case when event_type = 'invoice_issued' then amount else 0 end)") }} as invoiced_amount,
    {{ money("-sum(case when event_type = 'payment_received' then amount else 0 end)") }} as collected_amount,
    cast(count(*) as integer) as event_count
from events
group by customer_id, currency, event_day_number
