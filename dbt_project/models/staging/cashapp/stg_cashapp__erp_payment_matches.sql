{{ config(tags=['cash_applied']) }}

{#- Which ERP receipt is the same money as which bank credit the engine applied, one row per
    movement (the asset rewrites the table every run). -#}

with

source as (
    select * from {{ optional_source('cashapp', 'erp_payment_matches') }}
),

renamed as (
    select
        transaction_id,
        payment_id,
        customer_id as erp_customer_id,
        booking_date,
        payment_date,
        {{ money('amount') }} as matched_amount
    from source
)

select * from renamed
