{#- A customer's collection history as one dated list, newest first when read: the collectors'
    contacts and their outcomes, the promises to pay and their status, and the messages the customer
    sent. What a collector reads before calling. Reads only ERP staging: it builds with the base
    ledger, no stage tag. -#}

with

activities as (
    select * from {{ ref('stg_erp__collection_activities') }}
),

promises as (
    select * from {{ ref('stg_erp__promises_to_pay') }}
),

messages as (
    select * from {{ ref('stg_erp__customer_messages') }}
),

unioned as (
    select
        cast(activity_id as {{ dbt.type_string() }}) as event_id,
        'contact' as event_kind,
        customer_id,
        cast(activity_at as {{ dbt.type_timestamp() }}) as event_at,
        cast(activity_type as {{ dbt.type_string() }}) as event_type,
        cast(outcome as {{ dbt.type_string() }}) as status,
        cast(null as {{ dbt.type_string() }}) as currency,
        cast(null as {{ money_type() }}) as amount,
        cast(note as {{ dbt.type_string() }}) as summary
    from activities
    union all
    select
        cast(promise_id as {{ dbt.type_string() }}) as event_id,
        'promise' as event_kind,
        customer_id,
        cast(promise_date as {{ dbt.type_timestamp() }}) as event_at,
        'promise_to_pay' as event_type,
        cast(status as {{ dbt.type_string() }}) as status,
        cast(currency as {{ dbt.type_string() }}) as currency,
        {{ money('promised_amount') }} as amount,
        cast({{ dbt.concat(["'pay by '", 'cast(promised_pay_date as ' ~ dbt.type_string() ~ ')']) }}
            as {{ dbt.type_string() }}) as summary
    from promises
    union all
    select
        cast(message_id as {{ dbt.type_string() }}) as event_id,
        'message' as event_kind,
        customer_id,
        cast(received_at as {{ dbt.type_timestamp() }}) as event_at,
        'message' as event_type,
        cast(null as {{ dbt.type_string() }}) as status,
        cast(null as {{ dbt.type_string() }}) as currency,
        cast(null as {{ money_type() }}) as amount,
        -- the subject and the start of the body: enough to recognise the message in a list
        cast({{ dbt.concat(['coalesce(subject, \'\')', "' — '", 'substring(coalesce(body, \'\'), 1, 300)']) }}
            as {{ dbt.type_string() }}) as summary
    from messages
    -- a message the ERP could not tie to a customer belongs to no customer's history
    where customer_id is not null
)

select * from unioned
