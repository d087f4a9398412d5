{{ config(tags=['predicted']) }}

{#- The credit review queue of the latest scoring day on or before the ledger's as-of date: one
    row per customer in priority order, with the suggested category and limit and the reasons. -#}

with

as_of as (
    select * from {{ ref('int_ar_as_of_date') }}
),

reviews as (
    select * from {{ ref('stg_ml__credit_review_queue') }}
),

customers as (
    select * from {{ ref('dim_customers') }}
),

latest_day as (
    select max(reviews.as_of_date) as as_of_date
    from reviews
    cross join as_of
    where reviews.as_of_date <= as_of.as_of_date
),

final as (
    select
        reviews.as_of_date,
        cast(reviews.review_priority as integer) as review_priority,
        cast(reviews.customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(customers.customer_name as {{ dbt.type_string() }}) as customer_name,
        cast(customers.collector_id as {{ dbt.type_string() }}) as collector_id,
        cast(reviews.review_category as {{ dbt.type_string() }}) as review_category,
        reviews.needs_review,
        cast(reviews.risk_tier as {{ dbt.type_string() }}) as risk_tier,
        reviews.risk_score,
        reviews.current_credit_limit_functional,
        reviews.recommended_credit_limit_functional,
        {{ money('reviews.recommended_credit_limit_functional - reviews.current_credit_limit_functional') }}
            as credit_limit_change_functional,
        reviews.expected_late_30_amount_functional,
        cast(reviews.reasons as {{ dbt.type_string() }}) as reasons,
        cast(reviews.model_name as {{ dbt.type_string() }}) as model_name,
        cast(reviews.model_version as {{ dbt.type_string() }}) as model_version
    from reviews
    inner join latest_day
        on reviews.as_of_date = latest_day.as_of_date
    left join customers
        on reviews.customer_id = customers.customer_id
)

select * from final
