with

source as (
    select * from {{ source('erp', 'erp_credit_memos') }}
    where {{ extracted_by_as_of('_extract_date') }}
),

versioned as (
    select
        *,
        {{ latest_version_rank(['credit_memo_id']) }} as version_rank
    from source
),

renamed as (
    select
        credit_memo_id,
        customer_id,
        credit_date,
        currency,
        amount as credit_amount,
        applied_invoice_id,
        reason_code,
        _source_file as source_file,
        _extract_date as extract_date,
        _loaded_at as loaded_at
    from versioned
    where version_rank = 1
)

select * from renamed
