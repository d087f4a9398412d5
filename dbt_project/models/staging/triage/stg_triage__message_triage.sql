{{ config(tags=['collections']) }}

{#- Triaged messages, money from integer minor units, exactly. Read through optional_source: the
    table exists once the triage asset has run. -#}

with

source as (
    select * from {{ optional_source('triage', 'message_triage') }}
),

renamed as (
    select
        message_id,
        account_id as customer_id,
        received_date,
        intent,
        confidence,
        second_intent,
        needs_review,
        invoice_ids,
        promised_date,
        {{ money('cast(promised_amount_minor as decimal(20, 0)) * 0.01') }} as promised_amount,
        promised_currency,
        dispute_reason,
        {{ money('cast(disputed_amount_minor as decimal(20, 0)) * 0.01') }} as disputed_amount,
        new_contact_email,
        back_date,
        quick_action,
        action_detail,
        summary,
        reply_draft,
        model_version,
        triaged_as_of
    from source
)

select * from renamed
