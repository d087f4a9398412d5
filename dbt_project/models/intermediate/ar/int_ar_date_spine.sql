{#- Every calendar day from the first receivable document to the as-of date: the days the daily
    balance and the KPIs are stated for. -#}

with

as_of as (
    select as_of_day_number from {{ ref('int_ar_as_of_date') }}
),

items as (
    select * from {{ ref('int_ar_items') }}
),

bounds as (
    select
        min(items.document_day_number) as first_day_number,
        max(as_of.as_of_day_number) as last_day_number
    from items
    cross join as_of
),

offsets as (
    {{ integer_series(5) }}
),

days as (
    select bounds.first_day_number + offsets.n as day_number
    from bounds
    inner join offsets
        on offsets.n <= bounds.last_day_number - bounds.first_day_number
)

select
    day_number,
    {{ date_from_day_number('day_number') }} as calendar_date
from days
