{{ config(tags=['cash_applied']) }}

{#- Each customer's balance per currency as segments over which every aging bucket and the count
    of open items stay the same: item segments turned into +/- movements on their first and
    after their last day, summed per day and accumulated. Cost follows the number of changes, not
    items x days. Amounts in transaction currency. -#}

with

as_of as (
    select as_of_day_number from {{ ref('int_ar_as_of_date') }}
),

item_segments as (
    select * from {{ ref('int_ar_item_segments') }}
),

movements as (
    select customer_id, currency, valid_from_day_number as day_number, aging_bucket,
        open_amount as amount, 1 as item_count
    from item_segments

    union all

    select item_segments.customer_id, item_segments.currency, item_segments.valid_to_day_number as day_number,
        item_segments.aging_bucket, -item_segments.open_amount as amount, -1 as item_count
    from item_segments
    cross join as_of
    where item_segments.valid_to_day_number <= as_of.as_of_day_number
),

daily_movements as (
    select
        customer_id,
        currency,
        day_number,
        {% for bucket, column in aging_bucket_columns() -%}
        sum(case when aging_bucket = '{{ bucket }}' then amount else 0 end) as {{ column }}_change,
        {% endfor -%}
        sum(item_count) as open_item_count_change
    from movements
    group by customer_id, currency, day_number
),

running as (
    select
        customer_id,
        currency,
        day_number as valid_from_day_number,
        lead(day_number) over (partition by customer_id, currency order by day_number) as next_change_day_number,
        {% for bucket, column in aging_bucket_columns() -%}
        sum({{ column }}_change) over (
            partition by customer_id, currency order by day_number rows between unbounded preceding and current row
        ) as {{ column }}_amount,
        {% endfor -%}
        sum(open_item_count_change) over (
            partition by customer_id, currency order by day_number rows between unbounded preceding and current row
        ) as open_item_count
    from daily_movements
)

select
    running.customer_id,
    running.currency,
    running.valid_from_day_number,
    coalesce(running.next_change_day_number, as_of.as_of_day_number + 1) as valid_to_day_number,
    cast(running.open_item_count as integer) as open_item_count,
    {% for bucket, column in aging_bucket_columns() -%}
    {{ money('running.' ~ column ~ '_amount') }} as {{ column }}_amount{{ ',' if not loop.last }}
    {% endfor %}
from running
cross join as_of
where running.open_item_count <> 0
