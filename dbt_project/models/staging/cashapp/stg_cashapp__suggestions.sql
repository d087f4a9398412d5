{{ config(tags=['cash_applied']) }}

{#- The engine's ranked proposals for payments left for review, one row per run day, movement, rank
    and invoice, as of the as-of date. -#}

with

source as (
    select * from {{ optional_source('cashapp', 'suggestions') }}
    where {{ extracted_by_as_of('run_date') }}
),

renamed as (
    select
        run_date,
        transaction_id,
        cast({{ adapter.quote('rank') }} as integer) as suggestion_rank,
        customer_id,
        item_id as invoice_id,
        item_type as application_type,
        currency,
        {{ money('applied_amount') }} as applied_amount,
        {{ money('coalesce(discount_amount, 0)') }} as discount_amount,
        {{ money('coalesce(deduction_amount, 0)') }} as deduction_amount,
        deduction_reason,
        {{ money('unapplied_amount') }} as unapplied_amount,
        method,
        cast(confidence as decimal(9, 6)) as confidence,
        evidence,
        model_version
    from source
)

select * from renamed
