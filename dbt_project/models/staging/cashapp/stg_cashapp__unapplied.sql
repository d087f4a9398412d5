{{ config(tags=['cash_applied']) }}

{#- Cash not applied to an invoice, one row per run day and movement with some, as of the as-of
    date. -#}

with

source as (
    select * from {{ optional_source('cashapp', 'unapplied') }}
    where {{ extracted_by_as_of('run_date') }}
),

renamed as (
    select
        run_date,
        transaction_id,
        booking_date,
        customer_id,
        currency,
        {{ money('unapplied_amount') }} as unapplied_amount,
        reason as unapplied_reason
    from source
)

select * from renamed
