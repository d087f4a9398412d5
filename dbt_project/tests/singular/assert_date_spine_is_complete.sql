-- The calendar must run without gaps up to the as-of date (the KPI windows count rows as days,
-- and the integer series behind it has a fixed size).

with

spine as (
    select
        min(day_number) as first_day_number,
        max(day_number) as last_day_number,
        count(*) as day_count
    from {{ ref('int_ar_date_spine') }}
),

as_of as (
    select as_of_day_number from {{ ref('int_ar_as_of_date') }}
)

select spine.*, as_of.as_of_day_number
from spine
cross join as_of
where spine.day_count > 0
    and (
        spine.last_day_number <> as_of.as_of_day_number
        or spine.day_count <> spine.last_day_number - spine.first_day_number + 1
    )
