{{ config(tags=['collections']) }}

{#- Worklists per as-of day, money from integer minor units (functional currency), exactly. Read
    through optional_source: the table exists once the collections asset has run. -#}

with

source as (
    select * from {{ optional_source('collections', 'collector_worklist') }}
),

renamed as (
    select
        as_of_date,
        worklist_date,
        collector_id,
        collector_name,
        customer_id,
        customer_name,
        segment,
        tier as risk_tier,
        action,
        channel,
        reason,
        status,
        rank as queue_rank,
        scheduled_for,
        priority,
        {{ money('cast(overdue_functional_minor as decimal(20, 0)) * 0.01') }} as overdue_amount_functional,
        {{ money('cast(at_risk_functional_minor as decimal(20, 0)) * 0.01') }} as at_risk_amount_functional,
        p_contact_changes_outcome,
        max_days_overdue,
        overdue_invoices,
        tone,
        best_weekday,
        best_hour,
        currency,
        email_to,
        email_subject,
        email_body
    from source
)

select * from renamed
