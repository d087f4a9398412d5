{{ config(tags=['cash_applied']) }}

{#- Cash applied automatically from bank files, one row per payment and invoice (or write-off of a
    small overpayment): amount, discount, deduction, how it was matched, with what confidence and
    why, by which model; and whether the ERP has posted it yet. -#}

with

applications as (
    select * from {{ ref('stg_cashapp__applications') }}
),

matches as (
    select * from {{ ref('stg_cashapp__erp_payment_matches') }}
),

pending as (
    -- payments the ledger still counts from the bank: the ERP has not posted them yet
    select distinct transaction_id from {{ ref('int_cashapp_bank_item_events') }}
)

select
    cast({{ dbt.concat(['applications.transaction_id', "':'", "coalesce(applications.invoice_id, applications.application_type)"]) }}
        as {{ dbt.type_string() }}) as application_id,
    applications.run_date,
    cast(applications.transaction_id as {{ dbt.type_string() }}) as transaction_id,
    applications.booking_date,
    cast(applications.customer_id as {{ dbt.type_string() }}) as customer_id,
    cast(applications.invoice_id as {{ dbt.type_string() }}) as invoice_id,
    cast(applications.application_type as {{ dbt.type_string() }}) as application_type,
    cast(applications.currency as {{ dbt.type_string() }}) as currency,
    {{ money('applications.applied_amount') }} as applied_amount,
    {{ money('applications.discount_amount') }} as discount_amount,
    {{ money('applications.deduction_amount') }} as deduction_amount,
    cast(applications.deduction_reason as {{ dbt.type_string() }}) as deduction_reason,
    cast(applications.method as {{ dbt.type_string() }}) as method,
    cast(applications.confidence as decimal(9, 6)) as confidence,
    cast(applications.evidence as {{ dbt.type_string() }}) as evidence,
    cast(applications.model_version as {{ dbt.type_string() }}) as model_version,
    cast(matches.payment_id as {{ dbt.type_string() }}) as erp_payment_id,
    pending.transaction_id is null as is_posted_in_erp
from applications
left join matches
    on applications.transaction_id = matches.transaction_id
left join pending
    on applications.transaction_id = pending.transaction_id
