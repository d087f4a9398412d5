{{ config(tags=['collections']) }}

{#- The collector's inbox: each triaged message with its subject, sender, customer and owning
    collector, newest first per customer. Messages the ERP could not link keep a null customer. -#}

with

triaged as (
    select * from {{ ref('stg_triage__message_triage') }}
),

messages as (
    select * from {{ ref('stg_erp__customer_messages') }}
),

customers as (
    select * from {{ ref('dim_customers') }}
),

final as (
    select
        triaged.message_id,
        triaged.customer_id,
        customers.customer_name,
        customers.collector_id,
        messages.received_at,
        triaged.received_date,
        messages.from_address,
        messages.subject,
        triaged.intent,
        triaged.confidence,
        triaged.second_intent,
        triaged.needs_review,
        triaged.quick_action,
        triaged.action_detail,
        triaged.invoice_ids,
        triaged.promised_date,
        triaged.promised_amount,
        triaged.promised_currency,
        triaged.dispute_reason,
        triaged.disputed_amount,
        triaged.new_contact_email,
        triaged.back_date,
        triaged.summary,
        triaged.reply_draft,
        triaged.model_version,
        row_number() over (
            partition by triaged.customer_id order by messages.received_at desc, triaged.message_id desc
        ) as recency_rank
    from triaged
    left join messages on triaged.message_id = messages.message_id
    left join customers on triaged.customer_id = customers.customer_id
)

select * from final
