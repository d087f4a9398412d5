with

collectors as (
    select * from {{ ref('stg_erp__collectors') }}
),

customers as (
    select * from {{ ref('stg_erp__customers') }}
),

customer_counts as (
    select collector_id, count(*) as customer_count
    from customers
    group by collector_id
)

select
    collectors.collector_id,
    collectors.collector_name,
    collectors.email,
    collectors.daily_capacity,
    cast(coalesce(customer_counts.customer_count, 0) as integer) as customer_count
from collectors
left join customer_counts
    on collectors.collector_id = customer_counts.collector_id
