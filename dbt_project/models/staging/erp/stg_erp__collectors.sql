with

source as (
    select * from {{ source('erp', 'erp_collectors') }}
    where {{ extracted_by_as_of('_extract_date') }}
),

versioned as (
    select
        *,
        {{ latest_version_rank(['collector_id']) }} as version_rank
    from source
),

renamed as (
    select
        collector_id,
        collector_name,
        email,
        daily_capacity,
        _source_file as source_file,
        _extract_date as extract_date,
        _loaded_at as loaded_at
    from versioned
    where version_rank = 1
)

select * from renamed
