{{ config(tags=['cash_applied']) }}

{#- Payments the engine did not apply automatically (the review queue), one row per run day and
    movement, as of the as-of date. -#}

with

source as (
    select * from {{ optional_source('cashapp', 'exceptions') }}
    where {{ extracted_by_as_of('run_date') }}
),

renamed as (
    select
        run_date,
        transaction_id,
        booking_date,
        currency,
        {{ money('amount') }} as received_amount,
        counterparty_name,
        counterparty_account,
        remittance_text,
        customer_id,
        reason as exception_reason,
        detail as exception_detail,
        cast(best_confidence as decimal(9, 6)) as best_confidence,
        cast(candidate_count as integer) as candidate_count,
        cast(remittance_documents as integer) as remittance_document_count
    from source
)

select * from renamed
