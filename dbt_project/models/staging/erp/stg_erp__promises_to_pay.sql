with

source as (
    select * from {{ source('erp', 'erp_promises_to_pay') }}
    where {{ extracted_by_as_of('_extract_date') }}
),

versioned as (
    select
        *,
        {{ latest_version_rank(['promise_id']) }} as version_rank
    from source
),

renamed as (
    select
        promise_id,
        customer_id,
        invoice_id,
        collector_id,
        promise_date,
        promised_pay_date,
        currency,
        promised_amount,
        status,
        _source_file as source_file,
        _extract_date as extract_date,
        _loaded_at as loaded_at
    from versioned
    where version_rank = 1
)

select * from renamed
