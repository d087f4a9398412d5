with

source as (
    select * from {{ source('erp', 'erp_fx_rates') }}
    where {{ extracted_by_as_of('_extract_date') }}
),

versioned as (
    select
        *,
        {{ latest_version_rank(['rate_date', 'currency']) }} as version_rank
    from source
),

renamed as (
    select
        rate_date,
        currency,
        rate_to_functional,
        _source_file as source_file,
        _extract_date as extract_date,
        _loaded_at as loaded_at
    from versioned
    where version_rank = 1
)

select * from renamed
