{{ config(tags=['predicted']) }}

{#- Read through optional_source: the table exists once the scoring asset has run; before that (a
    fresh install, the PostgreSQL and Spark parity builds) the model is empty, not an error. -#}

{#- The payment model's predictions of the latest scoring run, one row per invoice it scored.
    Money arrives in integer minor units and leaves as decimal(18,2): minor x 0.01 is exact on
    every engine (a division would be a double on DuckDB). Probabilities to 4 decimals, days to 1. -#}

with

source as (
    select * from {{ optional_source('ml', 'payment_predictions') }}
),

renamed as (
    select
        invoice_id,
        customer_id,
        as_of_date,
        invoice_date,
        due_date,
        currency,
        {{ money('cast(amount_minor as decimal(20, 0)) * 0.01') }} as invoice_amount,
        {{ money('cast(amount_functional_minor as decimal(20, 0)) * 0.01') }} as invoice_amount_functional,
        cast(days_past_due as integer) as days_past_due,
        cast(round(p10_days_late, 1) as decimal(5, 1)) as p10_days_late,
        cast(round(p50_days_late, 1) as decimal(5, 1)) as p50_days_late,
        cast(round(p90_days_late, 1) as decimal(5, 1)) as p90_days_late,
        p10_pay_date,
        p50_pay_date,
        p90_pay_date,
        cast(round(p_paid_by_due, 4) as decimal(5, 4)) as p_paid_by_due,
        cast(round(p_paid_within_30, 4) as decimal(5, 4)) as p_paid_within_30,
        cast(round(p_paid_within_60, 4) as decimal(5, 4)) as p_paid_within_60,
        cast(round(p_paid_within_90, 4) as decimal(5, 4)) as p_paid_within_90,
        cast(round(p_late_over_30, 4) as decimal(5, 4)) as p_late_over_30,
        bucket as expected_bucket,
        top_driver,
        drivers,
        model_name,
        model_version
    from source
)

select * from renamed
