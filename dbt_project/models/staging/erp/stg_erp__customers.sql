with

source as (
    select * from {{ source('erp', 'erp_customers') }}
    where {{ extracted_by_as_of('_extract_date') }}
),

versioned as (
    select
        *,
        {{ latest_version_rank(['customer_id']) }} as version_rank
    from source
),

renamed as (
    select
        customer_id,
        customer_name,
        parent_customer_id,
        country,
        currency,
        credit_limit,
        payment_terms,
        segment,
        collector_id,
        contact_email,
        bank_account,
        created_date,
        _source_file as source_file,
        _extract_date as extract_date,
        _loaded_at as loaded_at
    from versioned
    where version_rank = 1
)

select * from renamed
