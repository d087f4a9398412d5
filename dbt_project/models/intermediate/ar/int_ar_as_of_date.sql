{#- One row: the ledger's as-of date. The as_of_date var when given, else the latest extract date
    loaded across the ERP extracts (a quiet extract must not hold the ledger back). -#}
{%- set extracts = [
    'collectors', 'customers', 'fx_rates', 'invoices', 'credit_memos', 'payments',
    'payment_applications', 'promises_to_pay', 'collection_activities', 'disputes',
    'customer_messages',
] -%}

with

{% for extract in extracts %}
{{ extract }} as (
    select max(extract_date) as latest_extract_date
    from {{ ref('stg_erp__' ~ extract) }}
),
{% endfor %}

extract_dates as (
    {% for extract in extracts %}
    select latest_extract_date from {{ extract }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

latest as (
    select max(latest_extract_date) as latest_extract_date
    from extract_dates
),

final as (
    select
        {%- set literal = as_of_date_literal() %}
        {% if literal | trim -%}
        {{ literal }} as as_of_date,
        {%- else -%}
        latest_extract_date as as_of_date,
        {%- endif %}
        latest_extract_date
    from latest
)

select
    as_of_date,
    {{ day_number('as_of_date') }} as as_of_day_number,
    latest_extract_date
from final
