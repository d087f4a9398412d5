with

source as (
    select * from {{ source('erp', 'erp_invoices') }}
    where {{ extracted_by_as_of('_extract_date') }}
),

versioned as (
    select
        *,
        {{ latest_version_rank(['invoice_id']) }} as version_rank
    from source
),

renamed as (
    select
        invoice_id,
        customer_id,
        invoice_date,
        due_date,
        currency,
        amount as invoice_amount,
        payment_terms,
        discount_pct,
        discount_due_date,
        po_number,
        _source_file as source_file,
        _extract_date as extract_date,
        _loaded_at as loaded_at
    from versioned
    where version_rank = 1
)

select * from renamed
