{{ config(tags=['cash_applied']) }}

{#- Each item's history as segments: day ranges [valid_from_day_number, valid_to_day_number) over
    which both its open amount and its aging bucket stay the same. A segment starts on every day the
    amount moves and on every day the item enters a new bucket (due date + 1, 31, 61, 91, 121
    days), so an item open for a year is a handful of rows, not 365: the daily balance joins these
    to the calendar instead of expanding item x day. Days are day numbers (macros/dates.sql).
    Zero-balance stretches are not segments; open segments end the day after the as-of date. -#}

with

as_of as (
    select as_of_day_number from {{ ref('int_ar_as_of_date') }}
),

items as (
    select * from {{ ref('int_ar_items') }}
),

events as (
    select * from {{ ref('int_ar_item_events') }}
),

item_summaries as (
    -- where each item ends up: its last movement and its balance on the as-of date
    select
        item_type,
        item_id,
        max(event_day_number) as last_event_day_number,
        sum(amount) as final_open_amount
    from events
    group by item_type, item_id
),

bucket_start_offsets as (
    {% for offset in aging_bucket_start_days() -%}
    select {{ offset }} as days_past_due{{ ' union all' if not loop.last }}
    {% endfor %}
),

amount_changes as (
    select
        item_type,
        item_id,
        event_day_number as day_number,
        amount
    from events
),

bucket_changes as (
    select
        items.item_type,
        items.item_id,
        items.due_day_number + bucket_start_offsets.days_past_due as day_number,
        cast(0 as {{ money_type() }}) as amount
    from items
    inner join item_summaries
        on items.item_id = item_summaries.item_id
        and items.item_type = item_summaries.item_type
    cross join bucket_start_offsets
    cross join as_of
    where items.due_day_number + bucket_start_offsets.days_past_due <= as_of.as_of_day_number
        -- a boundary after an item's final settlement changes nothing: most items of a long
        -- history are paid, so this keeps the rows near the number of movements
        and (
            item_summaries.final_open_amount <> 0
            or items.due_day_number + bucket_start_offsets.days_past_due < item_summaries.last_event_day_number
        )
),

changes as (
    select item_type, item_id, day_number, sum(amount) as amount
    from (
        select * from amount_changes
        union all
        select * from bucket_changes
    ) as all_changes
    group by item_type, item_id, day_number
),

running as (
    select
        item_type,
        item_id,
        day_number as valid_from_day_number,
        lead(day_number) over (partition by item_type, item_id order by day_number) as next_change_day_number,
        sum(amount) over (
            partition by item_type, item_id order by day_number rows between unbounded preceding and current row
        ) as open_amount
    from changes
),

segments as (
    select
        running.item_type,
        running.item_id,
        running.valid_from_day_number,
        coalesce(running.next_change_day_number, as_of.as_of_day_number + 1) as valid_to_day_number,
        running.open_amount
    from running
    cross join as_of
    where running.open_amount <> 0
)

select
    segments.item_id,
    segments.item_type,
    items.customer_id,
    items.currency,
    segments.valid_from_day_number,
    segments.valid_to_day_number,
    {{ money('segments.open_amount') }} as open_amount,
    segments.valid_from_day_number - items.due_day_number as days_past_due_at_start,
    {{ aging_bucket('segments.valid_from_day_number - items.due_day_number') }} as aging_bucket
from segments
inner join items
    on segments.item_id = items.item_id
    and segments.item_type = items.item_type
