{{ config(tags=['cash_applied']) }}

{#- The review queue: every payment the engine did not apply automatically, with the bank line, the
    reason, the best candidate in words, how much is proposed and how much is unapplied, and how
    long it has waited (calendar days from booking to the as-of date). -#}

with

as_of as (
    select * from {{ ref('int_ar_as_of_date') }}
),

exceptions as (
    select * from {{ ref('stg_cashapp__exceptions') }}
),

payments as (
    select * from {{ ref('stg_cashapp__payments') }}
)

select
    exceptions.run_date,
    cast(exceptions.transaction_id as {{ dbt.type_string() }}) as transaction_id,
    exceptions.booking_date,
    cast(exceptions.currency as {{ dbt.type_string() }}) as currency,
    {{ money('exceptions.received_amount') }} as received_amount,
    cast(exceptions.counterparty_name as {{ dbt.type_string() }}) as counterparty_name,
    cast(exceptions.counterparty_account as {{ dbt.type_string() }}) as counterparty_account,
    cast(exceptions.remittance_text as {{ dbt.type_string() }}) as remittance_text,
    cast(exceptions.customer_id as {{ dbt.type_string() }}) as customer_id,
    cast(payments.application_status as {{ dbt.type_string() }}) as application_status,
    cast(exceptions.exception_reason as {{ dbt.type_string() }}) as exception_reason,
    cast(exceptions.exception_detail as {{ dbt.type_string() }}) as exception_detail,
    cast(exceptions.best_confidence as decimal(9, 6)) as best_confidence,
    cast(exceptions.candidate_count as integer) as candidate_count,
    cast(exceptions.remittance_document_count as integer) as remittance_document_count,
    {{ money('payments.suggested_amount') }} as suggested_amount,
    {{ money('payments.unapplied_amount') }} as unapplied_amount,
    cast({{ dbt.datediff('exceptions.booking_date', 'as_of.as_of_date', 'day') }} as integer) as days_in_queue
from exceptions
inner join payments
    on exceptions.run_date = payments.run_date
    and exceptions.transaction_id = payments.transaction_id
cross join as_of
