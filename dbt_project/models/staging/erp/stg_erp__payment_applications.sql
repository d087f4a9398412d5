with

source as (
    select * from {{ source('erp', 'erp_payment_applications') }}
    where {{ extracted_by_as_of('_extract_date') }}
),

versioned as (
    select
        *,
        {{ latest_version_rank(['application_id']) }} as version_rank
    from source
),

renamed as (
    select
        application_id,
        payment_id,
        invoice_id,
        applied_date,
        applied_amount,
        discount_amount,
        _source_file as source_file,
        _extract_date as extract_date,
        _loaded_at as loaded_at
    from versioned
    where version_rank = 1
)

select * from renamed
