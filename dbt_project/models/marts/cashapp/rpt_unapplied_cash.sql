{{ config(tags=['cash_applied']) }}

{#- Cash received from bank files and not applied to an invoice, one row per payment: pending review
    (suggested), unidentified, or an overpayment left on account; its age in calendar days from
    booking to the as-of date, and its amount in the functional currency at the as-of date's rate. -#}

with

as_of as (
    select * from {{ ref('int_ar_as_of_date') }}
),

unapplied as (
    select * from {{ ref('stg_cashapp__unapplied') }}
),

fx_rates as (
    select * from {{ ref('int_fx_rates_daily') }}
),

aged as (
    select
        unapplied.*,
        as_of.as_of_day_number,
        {{ dbt.datediff('unapplied.booking_date', 'as_of.as_of_date', 'day') }} as age_days
    from unapplied
    cross join as_of
)

select
    aged.run_date,
    cast(aged.transaction_id as {{ dbt.type_string() }}) as transaction_id,
    aged.booking_date,
    cast(aged.customer_id as {{ dbt.type_string() }}) as customer_id,
    cast(aged.currency as {{ dbt.type_string() }}) as currency,
    {{ money('aged.unapplied_amount') }} as unapplied_amount,
    cast(fx_rates.fx_rate as {{ rate_type() }}) as fx_rate,
    {{ to_functional('aged.unapplied_amount', 'fx_rates.fx_rate') }} as unapplied_amount_functional,
    cast(aged.unapplied_reason as {{ dbt.type_string() }}) as unapplied_reason,
    cast(aged.age_days as integer) as age_days,
    cast(
        case
            when aged.age_days <= 7 then '0-7'
            when aged.age_days <= 30 then '8-30'
            when aged.age_days <= 60 then '31-60'
            else '60+'
        end as {{ dbt.type_string() }}
    ) as age_bucket
from aged
left join fx_rates
    on aged.currency = fx_rates.currency
    and aged.as_of_day_number = fx_rates.day_number
