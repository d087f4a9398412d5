{{ config(tags=['cash_applied']) }}

{#- Cash-application KPIs per run day: the auto-match rate by payment, by invoice line and by amount
    (functional currency at the booking day's rate, rounded half-up per payment), what was left
    unapplied and how old it is on the as-of date, and the exceptions by reason. Precision against
    the truth is the bench's to measure (openar bench cashapp): the warehouse has no truth. -#}

{%- set reasons = [
    'payer_not_identified', 'low_confidence', 'ambiguous', 'partial_payment', 'short_payment',
    'overpayment', 'no_matching_items', 'no_open_items', 'items_already_applied', 'rejected_by_reviewer',
] -%}

with

as_of as (
    select * from {{ ref('int_ar_as_of_date') }}
),

payments as (
    select * from {{ ref('stg_cashapp__payments') }}
),

applications as (
    select * from {{ ref('stg_cashapp__applications') }}
),

suggestions as (
    select * from {{ ref('stg_cashapp__suggestions') }}
),

fx_rates as (
    select * from {{ ref('int_fx_rates_daily') }}
),

payments_functional as (
    select
        payments.run_date,
        payments.application_status,
        payments.exception_reason,
        {{ to_functional('payments.received_amount', 'fx_rates.fx_rate') }} as received_functional,
        {{ to_functional('payments.applied_amount', 'fx_rates.fx_rate') }} as applied_functional,
        {{ to_functional('payments.unapplied_amount', 'fx_rates.fx_rate') }} as unapplied_functional
    from payments
    left join fx_rates
        on payments.currency = fx_rates.currency
        and {{ day_number('payments.booking_date') }} = fx_rates.day_number
),

per_day as (
    select
        run_date,
        count(*) as payments_received,
        sum(case when application_status = 'auto_applied' then 1 else 0 end) as payments_auto_applied,
        sum(case when application_status = 'confirmed' then 1 else 0 end) as payments_confirmed,
        sum(case when application_status = 'suggested' then 1 else 0 end) as payments_suggested,
        sum(case when application_status = 'unidentified' then 1 else 0 end) as payments_unidentified,
        sum(received_functional) as received_functional,
        sum(applied_functional) as applied_functional,
        sum(unapplied_functional) as unapplied_functional,
        sum(case when unapplied_functional <> 0 then 1 else 0 end) as payments_with_unapplied_cash,
        {% for reason in reasons -%}
        sum(case when exception_reason = '{{ reason }}' then 1 else 0 end) as exceptions_{{ reason }},
        {% endfor -%}
        sum(
            case
                when application_status in ('suggested', 'unidentified')
                    and exception_reason not in ('{{ reasons | join("', '") }}')
                    then 1
                else 0
            end
        ) as exceptions_other
    from payments_functional
    group by run_date
),

auto_lines as (
    select run_date, count(*) as lines_auto_applied
    from applications
    where application_type = 'invoice'
    group by run_date
),

suggested_lines as (
    -- the invoice lines of each reviewed payment's first suggestion: what a person still has to check
    select run_date, count(*) as lines_suggested
    from suggestions
    where suggestion_rank = 1 and application_type = 'invoice'
    group by run_date
)

select
    per_day.run_date as kpi_date,
    cast(per_day.payments_received as integer) as payments_received,
    cast(per_day.payments_auto_applied as integer) as payments_auto_applied,
    cast(per_day.payments_confirmed as integer) as payments_confirmed,
    cast(per_day.payments_suggested as integer) as payments_suggested,
    cast(per_day.payments_unidentified as integer) as payments_unidentified,
    {{ ratio('100 * per_day.payments_auto_applied', 'per_day.payments_received') }} as auto_match_rate_payments_pct,
    cast(coalesce(auto_lines.lines_auto_applied, 0) as integer) as lines_auto_applied,
    cast(coalesce(suggested_lines.lines_suggested, 0) as integer) as lines_suggested,
    {{ ratio(
        '100 * coalesce(auto_lines.lines_auto_applied, 0)',
        'coalesce(auto_lines.lines_auto_applied, 0) + coalesce(suggested_lines.lines_suggested, 0)'
    ) }} as auto_match_rate_lines_pct,
    {{ money('per_day.received_functional') }} as received_functional,
    {{ money('per_day.applied_functional') }} as applied_functional,
    {{ ratio('100 * per_day.applied_functional', 'per_day.received_functional') }} as auto_match_rate_amount_pct,
    {{ money('per_day.unapplied_functional') }} as unapplied_functional,
    cast(per_day.payments_with_unapplied_cash as integer) as payments_with_unapplied_cash,
    cast({{ dbt.datediff('per_day.run_date', 'as_of.as_of_date', 'day') }} as integer) as unapplied_age_days,
    cast(per_day.payments_suggested + per_day.payments_unidentified as integer) as exceptions_total,
    {% for reason in reasons -%}
    cast(per_day.exceptions_{{ reason }} as integer) as exceptions_{{ reason }},
    {% endfor -%}
    cast(per_day.exceptions_other as integer) as exceptions_other
from per_day
left join auto_lines
    on per_day.run_date = auto_lines.run_date
left join suggested_lines
    on per_day.run_date = suggested_lines.run_date
cross join as_of
