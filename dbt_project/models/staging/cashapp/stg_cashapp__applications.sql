{{ config(tags=['cash_applied']) }}

{#- Cash the engine applied automatically, one row per run day, movement and invoice (or write-off),
    as of the as-of date. -#}

with

source as (
    select * from {{ optional_source('cashapp', 'applications') }}
    where {{ extracted_by_as_of('run_date') }}
),

renamed as (
    select
        run_date,
        transaction_id,
        booking_date,
        customer_id,
        item_id as invoice_id,
        item_type as application_type,
        currency,
        {{ money('applied_amount') }} as applied_amount,
        {{ money('coalesce(discount_amount, 0)') }} as discount_amount,
        {{ money('coalesce(deduction_amount, 0)') }} as deduction_amount,
        deduction_reason,
        method,
        cast(confidence as decimal(9, 6)) as confidence,
        evidence,
        model_version
    from source
)

select * from renamed
