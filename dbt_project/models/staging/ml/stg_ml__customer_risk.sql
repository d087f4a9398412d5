{{ config(tags=['predicted']) }}

{#- Read through optional_source: the table exists once the scoring asset has run; before that (a
    fresh install, the PostgreSQL and Spark parity builds) the model is empty, not an error. -#}

{#- Customer risk snapshots, one row per customer and scoring day (the history tells new alerts
    from old ones). Money from integer minor units (functional currency), exactly. -#}

with

source as (
    select * from {{ optional_source('ml', 'customer_risk') }}
),

renamed as (
    select
        customer_id,
        as_of_date,
        tier as risk_tier,
        cast(round(score, 1) as decimal(5, 1)) as risk_score,
        trend,
        cast(round(shift_days, 1) as decimal(7, 1)) as shift_days,
        alert as is_alerted,
        alert_signals,
        {{ money('cast(open_amount_minor as decimal(20, 0)) * 0.01') }} as open_amount_functional,
        {{ money('cast(overdue_amount_minor as decimal(20, 0)) * 0.01') }} as overdue_amount_functional,
        {{ money('cast(expected_late_30_amount_minor as decimal(20, 0)) * 0.01') }}
            as expected_late_30_amount_functional,
        cast(round(expected_days_late, 1) as decimal(7, 1)) as expected_days_late,
        cast(round(baseline_days_late, 1) as decimal(7, 1)) as baseline_days_late,
        cast(round(recent_days_late, 1) as decimal(7, 1)) as recent_days_late,
        score_components,
        reasons,
        top_driver,
        drivers,
        model_name,
        model_version
    from source
)

select * from renamed
