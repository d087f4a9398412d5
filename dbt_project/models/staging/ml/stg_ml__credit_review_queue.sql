{{ config(tags=['predicted']) }}

{#- Read through optional_source: the table exists once the scoring asset has run; before that (a
    fresh install, the PostgreSQL and Spark parity builds) the model is empty, not an error. -#}

{#- Credit review suggestions, one row per customer and scoring day. Limits in the functional
    currency, from integer minor units, exactly. -#}

with

source as (
    select * from {{ optional_source('ml', 'credit_review_queue') }}
),

renamed as (
    select
        customer_id,
        as_of_date,
        cast(priority as integer) as review_priority,
        category as review_category,
        needs_review,
        tier as risk_tier,
        cast(round(score, 1) as decimal(5, 1)) as risk_score,
        {{ money('cast(current_limit_minor as decimal(20, 0)) * 0.01') }} as current_credit_limit_functional,
        {{ money('cast(recommended_limit_minor as decimal(20, 0)) * 0.01') }}
            as recommended_credit_limit_functional,
        {{ money('cast(expected_late_30_amount_minor as decimal(20, 0)) * 0.01') }}
            as expected_late_30_amount_functional,
        reasons,
        model_name,
        model_version
    from source
)

select * from renamed
