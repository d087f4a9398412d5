{#- Parent chains are resolved with a fixed number of self-joins rather than recursive SQL, which
    dbt unit tests do not support and engines spell differently. -#}
{%- set max_depth = var('customer_hierarchy_max_depth') -%}

with

customers as (
    select * from {{ ref('stg_erp__customers') }}
),

collectors as (
    select * from {{ ref('stg_erp__collectors') }}
),

ancestors as (
    select
        c0.customer_id,
        {% for level in range(1, max_depth + 1) -%}
        c{{ level }}.customer_id as ancestor_{{ level }}_id{{ ',' if not loop.last }}
        {% endfor %}
    from customers as c0
    {% for level in range(1, max_depth + 1) -%}
    left join customers as c{{ level }}
        on c{{ level - 1 }}.parent_customer_id = c{{ level }}.customer_id
    {% endfor %}
),

top_parents as (
    select
        customer_id,
        coalesce(
            {% for level in range(max_depth, 0, -1) -%}
            ancestor_{{ level }}_id,
            {% endfor -%}
            customer_id
        ) as top_parent_customer_id,
        case
            {% for level in range(max_depth, 0, -1) -%}
            when ancestor_{{ level }}_id is not null then {{ level }}
            {% endfor -%}
            else 0
        end as hierarchy_depth
    from ancestors
)

select
    customers.customer_id,
    customers.customer_name,
    customers.parent_customer_id,
    top_parents.top_parent_customer_id,
    top_parent.customer_name as top_parent_customer_name,
    cast(top_parents.hierarchy_depth as integer) as hierarchy_depth,
    customers.country,
    customers.currency,
    customers.credit_limit,
    customers.payment_terms,
    customers.segment,
    customers.collector_id,
    collectors.collector_name,
    customers.contact_email,
    customers.created_date
from customers
inner join top_parents
    on customers.customer_id = top_parents.customer_id
inner join customers as top_parent
    on top_parents.top_parent_customer_id = top_parent.customer_id
left join collectors
    on customers.collector_id = collectors.collector_id
