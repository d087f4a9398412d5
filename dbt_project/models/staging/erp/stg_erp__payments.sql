with

source as (
    select * from {{ source('erp', 'erp_payments') }}
    where {{ extracted_by_as_of('_extract_date') }}
),

versioned as (
    select
        *,
        {{ latest_version_rank(['payment_id']) }} as version_rank
    from source
),

renamed as (
    select
        payment_id,
        customer_id,
        payment_date,
        currency,
        amount as payment_amount,
        method,
        reference,
        _source_file as source_file,
        _extract_date as extract_date,
        _loaded_at as loaded_at
    from versioned
    where version_rank = 1
)

select * from renamed
