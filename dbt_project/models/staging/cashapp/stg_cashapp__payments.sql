{{ config(tags=['cash_applied']) }}

{#- Bank credits the cash-application engine handled, one row per run day and movement, as of the
    as-of date (run days after it are not known yet). -#}

with

source as (
    select * from {{ optional_source('cashapp', 'payments') }}
    where {{ extracted_by_as_of('run_date') }}
),

renamed as (
    select
        run_date,
        transaction_id,
        booking_date,
        currency,
        {{ money('amount') }} as received_amount,
        status as application_status,
        customer_id,
        {{ money('applied_amount') }} as applied_amount,
        {{ money('suggested_amount') }} as suggested_amount,
        {{ money('unapplied_amount') }} as unapplied_amount,
        method,
        cast(confidence as decimal(9, 6)) as confidence,
        reason as exception_reason,
        model_version,
        cast(remittance_documents as integer) as remittance_document_count
    from source
)

select * from renamed
