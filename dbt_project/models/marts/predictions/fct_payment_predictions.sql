{{ config(tags=['predicted']) }}

{#- One row per open invoice scored by the payment model: when it will most probably be paid, the
    range, the probabilities by due/+30/+60/+90, the model that said so and why. The predictions
    are those of the latest scoring run made as of the ledger's as-of date or before it; the open
    amount is the ledger's (null when the ledger holds the invoice closed: a deduction taken and
    awaiting its credit memo settles the invoice for the model, not yet for the ledger). -#}

with

as_of as (
    select * from {{ ref('int_ar_as_of_date') }}
),

predictions as (
    select * from {{ ref('stg_ml__payment_predictions') }}
),

open_items as (
    select * from {{ ref('fct_ar_open_items') }}
    where item_type = 'invoice'
),

customers as (
    select * from {{ ref('dim_customers') }}
),

scored as (
    select predictions.*
    from predictions
    cross join as_of
    where predictions.as_of_date <= as_of.as_of_date
),

final as (
    select
        scored.as_of_date,
        cast(scored.invoice_id as {{ dbt.type_string() }}) as invoice_id,
        cast(scored.customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(customers.customer_name as {{ dbt.type_string() }}) as customer_name,
        cast(customers.collector_id as {{ dbt.type_string() }}) as collector_id,
        cast(scored.currency as {{ dbt.type_string() }}) as currency,
        scored.invoice_date,
        scored.due_date,
        cast(scored.days_past_due as integer) as days_past_due,
        scored.invoice_amount,
        scored.invoice_amount_functional,
        open_items.open_amount,
        open_items.open_amount_functional,
        open_items.item_id is not null as is_open_in_ledger,
        scored.p10_days_late,
        scored.p50_days_late,
        scored.p90_days_late,
        scored.p10_pay_date,
        scored.p50_pay_date,
        scored.p90_pay_date,
        scored.p_paid_by_due,
        scored.p_paid_within_30,
        scored.p_paid_within_60,
        scored.p_paid_within_90,
        scored.p_late_over_30,
        {{ money('coalesce(open_items.open_amount_functional, scored.invoice_amount_functional) * scored.p_late_over_30') }}
            as expected_late_30_amount_functional,
        cast(scored.expected_bucket as {{ dbt.type_string() }}) as expected_bucket,
        cast(scored.top_driver as {{ dbt.type_string() }}) as top_driver,
        cast(scored.drivers as {{ dbt.type_string() }}) as drivers,
        cast(scored.model_name as {{ dbt.type_string() }}) as model_name,
        cast(scored.model_version as {{ dbt.type_string() }}) as model_version
    from scored
    left join open_items
        on scored.invoice_id = open_items.item_id
    left join customers
        on scored.customer_id = customers.customer_id
)

select * from final
