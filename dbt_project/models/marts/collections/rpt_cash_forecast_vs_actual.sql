{{ config(tags=['collections']) }}

{#- Each past weekly forecast against the cash that came. The forecast covers all receipts (the open AR
    at its as-of date plus invoices issued later), so actual_amount_functional is all cash applied in
    the week; beside it, the open-AR part: cash applied to invoices issued on or before the as-of date
    against the forecast's open-AR expectation. Converted at the as-of day's rate like the forecast
    (the comparison measures timing, not FX moves). Cash is the ledger's
    applications: the ERP's (cash_applied) and the bank-applied ones the ERP has not posted yet
    (bank_cash_applied); discounts and credits are not cash. A week counts as complete once the
    ledger's as-of date has reached its last day; only complete weeks can raise an alert. -#}

{%- set alert_pct = var('forecast_deviation_alert_pct', 20) %}

with

forecasts as (
    select * from {{ ref('rpt_cash_forecast_weekly') }}
),

ledger_as_of as (
    select as_of_date as ledger_as_of_date from {{ ref('int_ar_as_of_date') }}
),

items as (
    select item_id, document_date from {{ ref('int_ar_items') }}
    where item_type = 'invoice'
),

events as (
    select * from {{ ref('int_ar_item_events') }}
    where item_type = 'invoice' and event_type in ('cash_applied', 'bank_cash_applied')
),

rates as (
    select calendar_date, currency, fx_rate from {{ ref('int_fx_rates_daily') }}
),

cash_per_week as (
    select
        forecasts.as_of_date,
        forecasts.week_number,
        sum({{ to_functional('0 - events.amount', 'rates.fx_rate') }}) as actual_amount_functional,
        sum(
            case when items.document_date <= forecasts.as_of_date
                then {{ to_functional('0 - events.amount', 'rates.fx_rate') }} else 0 end
        ) as actual_open_ar_amount_functional
    from forecasts
    inner join events
        on events.event_date >= forecasts.week_start
        and events.event_date <= forecasts.week_end
    inner join items
        on items.item_id = events.item_id
    inner join rates
        on rates.calendar_date = forecasts.as_of_date
        and rates.currency = events.currency
    group by forecasts.as_of_date, forecasts.week_number
),

compared as (
    select
        forecasts.as_of_date,
        forecasts.week_number,
        forecasts.week_start,
        forecasts.week_end,
        forecasts.low_amount_functional,
        forecasts.expected_amount_functional,
        forecasts.high_amount_functional,
        forecasts.open_ar_expected_amount_functional,
        forecasts.forecast_scope,
        {{ money('coalesce(cash_per_week.actual_amount_functional, 0)') }} as actual_amount_functional,
        {{ money('coalesce(cash_per_week.actual_open_ar_amount_functional, 0)') }} as actual_open_ar_amount_functional,
        forecasts.week_end <= ledger_as_of.ledger_as_of_date as is_complete,
        ledger_as_of.ledger_as_of_date
    from forecasts
    cross join ledger_as_of
    left join cash_per_week
        on cash_per_week.as_of_date = forecasts.as_of_date
        and cash_per_week.week_number = forecasts.week_number
    where forecasts.week_start <= ledger_as_of.ledger_as_of_date
),

final as (
    select
        as_of_date,
        week_number,
        week_start,
        week_end,
        is_complete,
        low_amount_functional,
        expected_amount_functional,
        high_amount_functional,
        actual_amount_functional,
        {{ money('actual_amount_functional - expected_amount_functional') }} as deviation_amount_functional,
        forecast_scope,
        open_ar_expected_amount_functional,
        actual_open_ar_amount_functional,
        -- the cast around the case, not inside it: PostgreSQL drops a numeric's scale through CASE
        cast(case
            when expected_amount_functional <> 0
                then round(
                    (actual_amount_functional - expected_amount_functional) * 100 / expected_amount_functional, 2
                )
        end as decimal(18, 2)) as deviation_pct,
        actual_amount_functional >= low_amount_functional
            and actual_amount_functional <= high_amount_functional as is_within_band,
        is_complete
            and (
                (expected_amount_functional <> 0
                    and abs(actual_amount_functional - expected_amount_functional) * 100
                        > {{ alert_pct }} * expected_amount_functional)
                or (expected_amount_functional = 0 and actual_amount_functional <> 0)
            ) as is_alert,
        cast({{ alert_pct }} as decimal(9, 2)) as alert_threshold_pct,
        ledger_as_of_date
    from compared
)

select * from final
