{{ config(tags=['predicted']) }}

{#- One row per customer: its risk tier and score from the latest scoring day on or before the
    ledger's as-of date, the trend against its own past, the alert with its evidence, and the
    scoring day before it (a new alert is one the previous day did not raise). -#}

with

as_of as (
    select * from {{ ref('int_ar_as_of_date') }}
),

risk as (
    select * from {{ ref('stg_ml__customer_risk') }}
),

customers as (
    select * from {{ ref('dim_customers') }}
),

ranked as (
    select
        risk.*,
        row_number() over (partition by risk.customer_id order by risk.as_of_date desc) as day_rank
    from risk
    cross join as_of
    where risk.as_of_date <= as_of.as_of_date
),

latest_day as (
    select max(as_of_date) as as_of_date from ranked
),

current_risk as (
    select ranked.*
    from ranked
    inner join latest_day
        on ranked.as_of_date = latest_day.as_of_date
    where ranked.day_rank = 1
),

previous_risk as (
    select * from ranked
    where day_rank = 2
),

final as (
    select
        current_risk.as_of_date,
        cast(current_risk.customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(customers.customer_name as {{ dbt.type_string() }}) as customer_name,
        cast(customers.top_parent_customer_id as {{ dbt.type_string() }}) as top_parent_customer_id,
        cast(customers.collector_id as {{ dbt.type_string() }}) as collector_id,
        cast(current_risk.risk_tier as {{ dbt.type_string() }}) as risk_tier,
        current_risk.risk_score,
        cast(current_risk.trend as {{ dbt.type_string() }}) as trend,
        current_risk.shift_days,
        current_risk.is_alerted,
        cast(current_risk.alert_signals as {{ dbt.type_string() }}) as alert_signals,
        current_risk.is_alerted and not coalesce(previous_risk.is_alerted, false) as is_new_alert,
        previous_risk.as_of_date as previous_as_of_date,
        cast(previous_risk.risk_tier as {{ dbt.type_string() }}) as previous_risk_tier,
        previous_risk.risk_score as previous_risk_score,
        current_risk.open_amount_functional,
        current_risk.overdue_amount_functional,
        current_risk.expected_late_30_amount_functional,
        current_risk.expected_days_late,
        current_risk.baseline_days_late,
        current_risk.recent_days_late,
        cast(current_risk.score_components as {{ dbt.type_string() }}) as score_components,
        cast(current_risk.reasons as {{ dbt.type_string() }}) as reasons,
        cast(current_risk.top_driver as {{ dbt.type_string() }}) as top_driver,
        cast(current_risk.drivers as {{ dbt.type_string() }}) as drivers,
        cast(current_risk.model_name as {{ dbt.type_string() }}) as model_name,
        cast(current_risk.model_version as {{ dbt.type_string() }}) as model_version
    from current_risk
    left join previous_risk
        on current_risk.customer_id = previous_risk.customer_id
    left join customers
        on current_risk.customer_id = customers.customer_id
)

select * from final
