{{ config(tags=['cash_applied']) }}

{#- The open receivable items on the as-of date, one row per item: invoices net of cash, discount
    and credits applied on or before it, credit memos on account, and unapplied cash. -#}

with

as_of as (
    select * from {{ ref('int_ar_as_of_date') }}
),

items as (
    select * from {{ ref('int_ar_items') }}
),

events as (
    select * from {{ ref('int_ar_item_events') }}
),

customers as (
    select * from {{ ref('dim_customers') }}
),

fx_rates as (
    select * from {{ ref('int_fx_rates_daily') }}
),

disputes as (
    select * from {{ ref('stg_erp__disputes') }}
),

open_amounts as (
    select
        item_type,
        item_id,
        sum(amount) as open_amount
    from events
    group by item_type, item_id
),

disputed_invoices as (
    -- open on the as-of date: opened by then, and not resolved by then
    select distinct disputes.invoice_id
    from disputes
    cross join as_of
    where disputes.opened_date <= as_of.as_of_date
        and (disputes.status = 'open' or disputes.resolved_date > as_of.as_of_date)
),

open_items as (
    select
        as_of.as_of_date,
        as_of.as_of_day_number,
        items.item_id,
        items.item_type,
        items.customer_id,
        items.currency,
        items.document_date,
        items.due_date,
        items.original_amount,
        open_amounts.open_amount,
        -- calendar days, as the aging report counts them (weekends and holidays included)
        {{ dbt.datediff('items.due_date', 'as_of.as_of_date', 'day') }} as days_past_due,
        disputed_invoices.invoice_id is not null as is_disputed
    from items
    inner join open_amounts
        on items.item_id = open_amounts.item_id
        and items.item_type = open_amounts.item_type
    cross join as_of
    left join disputed_invoices
        on items.item_type = 'invoice'
        and items.item_id = disputed_invoices.invoice_id
    where open_amounts.open_amount <> 0
)

select
    open_items.as_of_date,
    cast(open_items.item_id as {{ dbt.type_string() }}) as item_id,
    cast(open_items.item_type as {{ dbt.type_string() }}) as item_type,
    cast(open_items.customer_id as {{ dbt.type_string() }}) as customer_id,
    cast(customers.customer_name as {{ dbt.type_string() }}) as customer_name,
    cast(customers.parent_customer_id as {{ dbt.type_string() }}) as parent_customer_id,
    cast(coalesce(customers.top_parent_customer_id, open_items.customer_id) as {{ dbt.type_string() }})
        as top_parent_customer_id,
    cast(customers.collector_id as {{ dbt.type_string() }}) as collector_id,
    cast(open_items.currency as {{ dbt.type_string() }}) as currency,
    open_items.document_date,
    open_items.due_date,
    {{ money('open_items.original_amount') }} as original_amount,
    {{ money('open_items.open_amount') }} as open_amount,
    cast(fx_rates.fx_rate as {{ rate_type() }}) as fx_rate,
    {{ to_functional('open_items.open_amount', 'fx_rates.fx_rate') }} as open_amount_functional,
    cast(open_items.days_past_due as integer) as days_past_due,
    cast({{ aging_bucket('open_items.days_past_due') }} as {{ dbt.type_string() }}) as aging_bucket,
    open_items.is_disputed
from open_items
left join customers
    on open_items.customer_id = customers.customer_id
left join fx_rates
    on open_items.currency = fx_rates.currency
    and open_items.as_of_day_number = fx_rates.day_number
