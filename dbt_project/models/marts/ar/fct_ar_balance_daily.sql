{{ config(tags=['cash_applied']) }}

{#- The receivable balance of every customer and currency on every day from the first document to
    the as-of date on which the customer had an open item or ledger activity, aged as of that
    day. Built from balance segments joined to the calendar by day range (rows = customer-days
    with a balance, never items x days). Functional amounts use that day's rate, rounded half-up
    per bucket; the open amount in functional currency is the sum of its rounded buckets. -#}

with

spine as (
    select * from {{ ref('int_ar_date_spine') }}
),

balance_segments as (
    select * from {{ ref('int_ar_customer_balance_segments') }}
),

activity as (
    select * from {{ ref('int_ar_customer_daily_activity') }}
),

fx_rates as (
    select * from {{ ref('int_fx_rates_daily') }}
),

day_offsets as (
    -- 0, 1, 2, ... as many as the calendar has days
    select spine.day_number - first_day.day_number as day_offset
    from spine
    cross join (select min(day_number) as day_number from spine) as first_day
),

balance_days as (
    -- each segment expanded to its days. One inequality (offset < length) rather than "day between
    -- from and to": engines then emit just the matching rows (DuckDB's merge join with two range
    -- conditions compared every segment with every later day: 34 s vs 4 s on 2.8 M segments).
    select
        balance_segments.customer_id,
        balance_segments.currency,
        balance_segments.valid_from_day_number + day_offsets.day_offset as day_number,
        balance_segments.open_item_count,
        {% for bucket, column in aging_bucket_columns() -%}
        balance_segments.{{ column }}_amount{{ ',' if not loop.last }}
        {% endfor -%}
    from balance_segments
    inner join day_offsets
        on day_offsets.day_offset < balance_segments.valid_to_day_number - balance_segments.valid_from_day_number
),

customer_days as (
    -- a customer-day has at most one balance row (segments of a customer and currency do not
    -- overlap) and one activity row, so a full outer join pairs them: the same rows as a union
    -- grouped by customer-day, at 7.5 s instead of 10.9 on the 1M-invoice world's 9.3 M rows
    select
        coalesce(balance_days.customer_id, activity.customer_id) as customer_id,
        coalesce(balance_days.currency, activity.currency) as currency,
        coalesce(balance_days.day_number, activity.day_number) as day_number,
        coalesce(balance_days.open_item_count, 0) as open_item_count,
        {% for bucket, column in aging_bucket_columns() -%}
        coalesce(balance_days.{{ column }}_amount, 0) as {{ column }}_amount,
        {% endfor -%}
        coalesce(activity.invoiced_amount, 0) as invoiced_amount,
        coalesce(activity.collected_amount, 0) as collected_amount
    from balance_days
    full outer join activity
        on balance_days.customer_id = activity.customer_id
        and balance_days.currency = activity.currency
        and balance_days.day_number = activity.day_number
),

converted as (
    select
        spine.calendar_date as balance_date,
        customer_days.customer_id,
        customer_days.currency,
        fx_rates.fx_rate,
        customer_days.open_item_count,
        {{ money(sum_of_buckets('customer_days.', '_amount')) }} as open_amount,
        {% for bucket, column in aging_bucket_columns() -%}
        {{ to_functional('customer_days.' ~ column ~ '_amount', 'fx_rates.fx_rate') }} as {{ column }}_functional,
        {% endfor -%}
        {{ money('customer_days.invoiced_amount') }} as invoiced_amount,
        {{ to_functional('customer_days.invoiced_amount', 'fx_rates.fx_rate') }} as invoiced_functional,
        {{ money('customer_days.collected_amount') }} as collected_amount,
        {{ to_functional('customer_days.collected_amount', 'fx_rates.fx_rate') }} as collected_functional
    from customer_days
    inner join spine
        on customer_days.day_number = spine.day_number
    left join fx_rates
        on customer_days.currency = fx_rates.currency
        and customer_days.day_number = fx_rates.day_number
)

select
    balance_date,
    customer_id,
    currency,
    fx_rate,
    cast(open_item_count as integer) as open_item_count,
    open_amount,
    {{ money(sum_of_buckets('', '_functional')) }} as open_amount_functional,
    {% for bucket, column in aging_bucket_columns() -%}
    {{ column }}_functional,
    {% endfor -%}
    invoiced_amount,
    invoiced_functional,
    collected_amount,
    collected_functional
from converted
