with

source as (
    select * from {{ source('erp', 'erp_customer_messages') }}
    where {{ extracted_by_as_of('_extract_date') }}
),

versioned as (
    select
        *,
        {{ latest_version_rank(['message_id']) }} as version_rank
    from source
),

renamed as (
    select
        message_id,
        customer_id,
        received_at,
        from_address,
        subject,
        body,
        _source_file as source_file,
        _extract_date as extract_date,
        _loaded_at as loaded_at
    from versioned
    where version_rank = 1
)

select * from renamed
