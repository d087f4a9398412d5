{{ config(tags=['collections']) }}

{#- The 13-week cash forecast of every as-of day (the history is what a forecast-vs-actual view reads). -#}

with

forecast as (
    select * from {{ ref('stg_collections__cash_forecast_weekly') }}
),

final as (
    select
        as_of_date,
        week_number,
        week_start,
        week_end,
        low_amount_functional,
        expected_amount_functional,
        high_amount_functional
    from forecast
)

select * from final
