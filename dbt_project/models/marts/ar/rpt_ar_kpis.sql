{{ config(tags=['cash_applied']) }}

{#- Receivables KPIs for every day from the first document to the as-of date, in functional
    currency, from the daily balance (so any past day is stated as it stood then). Formulas are in
    _ar__models.yml. Ratios go through macros/arithmetic.sql `ratio` so they round identically on
    every engine. The calendar is dense, so "the last N days" is a ROWS window of N rows. -#}
{%- set countback_days = var('dso_countback_max_days') -%}

with

spine as (
    select * from {{ ref('int_ar_date_spine') }}
),

balances as (
    select * from {{ ref('fct_ar_balance_daily') }}
),

daily_totals as (
    select
        balance_date,
        sum(open_amount_functional) as open_ar,
        sum(current_functional) as current_ar,
        sum(past_due_91_120_functional + past_due_over_120_functional) as over_90_ar,
        sum(invoiced_functional) as invoiced,
        sum(collected_functional) as collected
    from balances
    group by balance_date
),

daily as (
    select
        spine.day_number,
        spine.calendar_date as kpi_date,
        {{ money('coalesce(daily_totals.open_ar, 0)') }} as open_ar,
        {{ money('coalesce(daily_totals.current_ar, 0)') }} as current_ar,
        {{ money('coalesce(daily_totals.over_90_ar, 0)') }} as over_90_ar,
        {{ money('coalesce(daily_totals.invoiced, 0)') }} as invoiced,
        {{ money('coalesce(daily_totals.collected, 0)') }} as collected
    from spine
    left join daily_totals
        on spine.calendar_date = daily_totals.balance_date
),

windowed as (
    select
        day_number,
        kpi_date,
        open_ar,
        current_ar,
        over_90_ar,
        invoiced,
        sum(invoiced) over (order by day_number rows between 89 preceding and current row) as credit_sales_90d,
        sum(invoiced) over (order by day_number rows between 29 preceding and current row) as credit_sales_30d,
        sum(collected) over (order by day_number rows between 29 preceding and current row) as collections_30d,
        -- AR at the end of the day before the 30-day window; nothing was open before the first day
        coalesce(lag(open_ar, 30) over (order by day_number), 0) as open_ar_30d_ago,
        sum(invoiced) over (order by day_number rows between unbounded preceding and current row)
            as cumulative_sales
    from daily
),

countback_pairs as (
    -- each day d with each of the days t before it (within the look-back): sales from t through d
    select
        day_d.day_number,
        day_d.open_ar,
        day_d.cumulative_sales - day_t.cumulative_sales + day_t.invoiced as sales_since_t
    from windowed as day_d
    inner join windowed as day_t
        on day_t.day_number <= day_d.day_number
        and day_t.day_number > day_d.day_number - {{ countback_days }}
),

countback as (
    -- sales since t grow as t goes back, so the days "fully covered" by the open AR are the most
    -- recent ones; the first uncovered day is covered for the fraction that is left
    select
        day_number,
        sum(case when sales_since_t <= open_ar then 1 else 0 end) as covered_days,
        coalesce(max(case when sales_since_t <= open_ar then sales_since_t end), 0) as covered_sales,
        min(case when sales_since_t > open_ar then sales_since_t end) as sales_through_next_day
    from countback_pairs
    group by day_number
),

kpis as (
    select
        windowed.kpi_date,
        windowed.open_ar,
        windowed.current_ar,
        windowed.open_ar - windowed.current_ar as past_due_ar,
        windowed.over_90_ar,
        {{ money('windowed.credit_sales_90d') }} as credit_sales_90d,
        {{ money('windowed.credit_sales_30d') }} as credit_sales_30d,
        {{ money('windowed.collections_30d') }} as collections_30d,
        {{ money('windowed.open_ar_30d_ago') }} as open_ar_30d_ago,
        {{ ratio('windowed.open_ar * 90', 'windowed.credit_sales_90d') }} as dso_standard,
        {{ ratio('windowed.current_ar * 90', 'windowed.credit_sales_90d') }} as best_possible_dso,
        case
            when windowed.open_ar <= 0 then cast(0 as decimal(18, 2))
            when countback.sales_through_next_day is null then cast(countback.covered_days as decimal(18, 2))
            else countback.covered_days + {{ ratio(
                'windowed.open_ar - countback.covered_sales',
                'countback.sales_through_next_day - countback.covered_sales') }}
        end as dso_countback,
        {{ ratio(
            '(windowed.open_ar_30d_ago + windowed.credit_sales_30d - windowed.open_ar) * 100',
            'windowed.open_ar_30d_ago + windowed.credit_sales_30d - windowed.current_ar') }} as cei_pct,
        {{ ratio('windowed.current_ar * 100', 'windowed.open_ar') }} as pct_current,
        {{ ratio('windowed.over_90_ar', 'windowed.open_ar', 4) }} as share_over_90
    from windowed
    inner join countback
        on windowed.day_number = countback.day_number
)

select
    kpi_date,
    {{ money('open_ar') }} as open_ar_functional,
    {{ money('current_ar') }} as current_ar_functional,
    {{ money('past_due_ar') }} as past_due_ar_functional,
    {{ money('over_90_ar') }} as over_90_ar_functional,
    credit_sales_90d as credit_sales_90d_functional,
    credit_sales_30d as credit_sales_30d_functional,
    collections_30d as collections_30d_functional,
    open_ar_30d_ago as open_ar_30d_ago_functional,
    cast(dso_standard as decimal(18, 2)) as dso_standard,
    cast(dso_countback as decimal(18, 2)) as dso_countback,
    cast(best_possible_dso as decimal(18, 2)) as best_possible_dso,
    cast(dso_standard - best_possible_dso as decimal(18, 2)) as average_days_delinquent,
    cast(cei_pct as decimal(18, 2)) as cei_pct,
    cast(pct_current as decimal(18, 2)) as pct_current,
    cast(share_over_90 as decimal(18, 4)) as share_over_90
from kpis
