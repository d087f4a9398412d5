{#- The rate in effect on every day of the spine, per currency: the latest rate dated on or
    before the day (no rates on weekends and holidays: Friday's rate carries over), never a rate
    dated after the as-of date. The functional currency is 1 by definition, whatever the
    extract says. -#}

with

as_of as (
    select as_of_date from {{ ref('int_ar_as_of_date') }}
),

spine as (
    select * from {{ ref('int_ar_date_spine') }}
),

rates as (
    select * from {{ ref('stg_erp__fx_rates') }}
),

rate_periods as (
    select
        rates.currency,
        rates.rate_to_functional,
        {{ day_number('rates.rate_date') }} as valid_from_day_number,
        lead({{ day_number('rates.rate_date') }}) over (
            partition by rates.currency order by rates.rate_date
        ) as valid_to_day_number
    from rates
    cross join as_of
    where rates.rate_date <= as_of.as_of_date
        and rates.currency <> '{{ var("functional_currency") }}'
),

foreign_currency_days as (
    select
        spine.day_number,
        spine.calendar_date,
        rate_periods.currency,
        rate_periods.rate_to_functional as fx_rate
    from spine
    inner join rate_periods
        on spine.day_number >= rate_periods.valid_from_day_number
        and (rate_periods.valid_to_day_number is null or spine.day_number < rate_periods.valid_to_day_number)
),

functional_currency_days as (
    select
        day_number,
        calendar_date,
        '{{ var("functional_currency") }}' as currency,
        cast(1 as {{ rate_type() }}) as fx_rate
    from spine
)

select
    day_number,
    calendar_date,
    currency,
    cast(fx_rate as {{ rate_type() }}) as fx_rate
from foreign_currency_days
union all
select
    day_number,
    calendar_date,
    currency,
    fx_rate
from functional_currency_days
