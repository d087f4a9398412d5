{{ config(tags=['collections']) }}

{#- Weekly cash forecasts per as-of day; money from integer minor units (functional currency). -#}

with

source as (
    select * from {{ optional_source('collections', 'cash_forecast_weekly') }}
),

renamed as (
    select
        as_of_date,
        week as week_number,
        week_start,
        week_end,
        {{ money('cast(low_minor as decimal(20, 0)) * 0.01') }} as low_amount_functional,
        {{ money('cast(expected_minor as decimal(20, 0)) * 0.01') }} as expected_amount_functional,
        {{ money('cast(high_minor as decimal(20, 0)) * 0.01') }} as high_amount_functional,
        {{ money('cast(coalesce(open_ar_expected_minor, expected_minor) as decimal(20, 0)) * 0.01') }}
            as open_ar_expected_amount_functional,
        {{ money('cast(coalesce(new_business_expected_minor, 0) as decimal(20, 0)) * 0.01') }}
            as new_business_expected_amount_functional
    from source
)

select * from renamed
