{{ config(tags=['predicted']) }}

{#- Every scoring day's risk of every customer up to the ledger's as-of date: how a customer's
    score, tier and alerts moved (the drill-down's history). -#}

with

as_of as (
    select * from {{ ref('int_ar_as_of_date') }}
),

risk as (
    select * from {{ ref('stg_ml__customer_risk') }}
),

final as (
    select
        risk.as_of_date,
        cast(risk.customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(risk.risk_tier as {{ dbt.type_string() }}) as risk_tier,
        risk.risk_score,
        cast(risk.trend as {{ dbt.type_string() }}) as trend,
        risk.shift_days,
        risk.is_alerted,
        cast(risk.alert_signals as {{ dbt.type_string() }}) as alert_signals,
        risk.open_amount_functional,
        risk.overdue_amount_functional,
        risk.expected_late_30_amount_functional,
        risk.baseline_days_late,
        risk.recent_days_late,
        cast(risk.model_version as {{ dbt.type_string() }}) as model_version
    from risk
    cross join as_of
    where risk.as_of_date <= as_of.as_of_date
)

select * from final
