{{ config(tags=['cash_applied']) }}

{#- The candidates behind each payment of the review queue, one row per payment, rank and invoice
    (or write-off / money on account): what a person accepts, corrects or rejects in the app. -#}

with

suggestions as (
    select * from {{ ref('stg_cashapp__suggestions') }}
),

queue as (
    select run_date, transaction_id from {{ ref('stg_cashapp__payments') }}
    where application_status in ('suggested', 'unidentified')
)

select
    suggestions.run_date,
    cast(suggestions.transaction_id as {{ dbt.type_string() }}) as transaction_id,
    cast(suggestions.suggestion_rank as integer) as suggestion_rank,
    cast(suggestions.customer_id as {{ dbt.type_string() }}) as customer_id,
    cast(suggestions.invoice_id as {{ dbt.type_string() }}) as invoice_id,
    cast(suggestions.application_type as {{ dbt.type_string() }}) as application_type,
    cast(suggestions.currency as {{ dbt.type_string() }}) as currency,
    {{ money('suggestions.applied_amount') }} as applied_amount,
    {{ money('suggestions.discount_amount') }} as discount_amount,
    {{ money('suggestions.deduction_amount') }} as deduction_amount,
    cast(suggestions.deduction_reason as {{ dbt.type_string() }}) as deduction_reason,
    {{ money('suggestions.unapplied_amount') }} as unapplied_amount,
    cast(suggestions.method as {{ dbt.type_string() }}) as method,
    cast(suggestions.confidence as decimal(9, 6)) as confidence,
    cast(suggestions.evidence as {{ dbt.type_string() }}) as evidence,
    cast(suggestions.model_version as {{ dbt.type_string() }}) as model_version
from suggestions
inner join queue
    on suggestions.run_date = queue.run_date
    and suggestions.transaction_id = queue.transaction_id
