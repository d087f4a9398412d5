with

source as (
    select * from {{ source('erp', 'erp_disputes') }}
    where {{ extracted_by_as_of('_extract_date') }}
),

versioned as (
    select
        *,
        {{ latest_version_rank(['dispute_id']) }} as version_rank
    from source
),

renamed as (
    select
        dispute_id,
        customer_id,
        invoice_id,
        opened_date,
        reason_code,
        currency,
        disputed_amount,
        is_deduction = 'true' as is_deduction,
        status,
        resolved_date,
        _source_file as source_file,
        _extract_date as extract_date,
        _loaded_at as loaded_at
    from versioned
    where version_rank = 1
)

select * from renamed
