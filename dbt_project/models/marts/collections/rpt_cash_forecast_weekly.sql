{{ config(tags=['collections']) }}

{#- The 13-week cash forecast of every as-of day (the history is what a forecast-vs-actual view reads).
    Scope: all receipts expected in the week, i.e. the cash of the invoices open at the as-of date
    (open_ar_expected_amount_functional) plus the cash of invoices not issued yet, from each
    customer's invoicing run-rate and pay-lag history (new_business_expected_amount_functional). -#}

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
        high_amount_functional,
        open_ar_expected_amount_functional,
        new_business_expected_amount_functional,
        case
            when new_business_expected_amount_functional <> 0 then 'open_ar_and_new_business'
            else 'open_ar'
        end as forecast_scope
    from forecast
)

select * from final
