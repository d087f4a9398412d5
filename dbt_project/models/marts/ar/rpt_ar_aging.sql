{{ config(tags=['cash_applied']) }}

{#- The aging report on the as-of date: open items summed per customer and currency into buckets,
    in transaction and functional currency. Functional totals are sums of the per-item rounded
    amounts, so they tie to fct_ar_open_items to the cent. -#}

with

open_items as (
    select * from {{ ref('fct_ar_open_items') }}
),

customers as (
    select * from {{ ref('dim_customers') }}
),

aged as (
    select
        as_of_date,
        customer_id,
        currency,
        {% for bucket, column in aging_bucket_columns() -%}
        sum(case when aging_bucket = '{{ bucket }}' then open_amount else 0 end) as {{ column }}_amount,
        sum(case when aging_bucket = '{{ bucket }}' then open_amount_functional else 0 end) as {{ column }}_functional,
        {% endfor -%}
        count(*) as open_item_count
    from open_items
    group by as_of_date, customer_id, currency
)

{#- Report column names: bucket_<label> (transaction currency) and bucket_<label>_functional. -#}
{%- set report_names = {
    'current': 'bucket_current', 'past_due_1_30': 'bucket_1_30', 'past_due_31_60': 'bucket_31_60',
    'past_due_61_90': 'bucket_61_90', 'past_due_91_120': 'bucket_91_120',
    'past_due_over_120': 'bucket_over_120',
} %}

select
    aged.as_of_date,
    cast(aged.customer_id as {{ dbt.type_string() }}) as customer_id,
    cast(customers.customer_name as {{ dbt.type_string() }}) as customer_name,
    cast(customers.parent_customer_id as {{ dbt.type_string() }}) as parent_customer_id,
    cast(coalesce(customers.top_parent_customer_id, aged.customer_id) as {{ dbt.type_string() }})
        as top_parent_customer_id,
    cast(customers.top_parent_customer_name as {{ dbt.type_string() }}) as top_parent_customer_name,
    cast(customers.collector_id as {{ dbt.type_string() }}) as collector_id,
    cast(customers.collector_name as {{ dbt.type_string() }}) as collector_name,
    cast(aged.currency as {{ dbt.type_string() }}) as currency,
    cast(aged.open_item_count as integer) as open_item_count,
    {% for bucket, column in aging_bucket_columns() -%}
    {{ money('aged.' ~ column ~ '_amount') }} as {{ report_names[column] }},
    {% endfor -%}
    {{ money(sum_of_buckets('aged.', '_amount')) }} as total_open,
    {% for bucket, column in aging_bucket_columns() -%}
    {{ money('aged.' ~ column ~ '_functional') }} as {{ report_names[column] }}_functional,
    {% endfor -%}
    {{ money(sum_of_buckets('aged.', '_functional')) }} as total_open_functional
from aged
left join customers
    on aged.customer_id = customers.customer_id
