{#- The aging buckets, by calendar days past due (as-of date minus due date):
    current <= 0, then 1-30, 31-60, 61-90, 91-120 and 120+. One definition for the open items,
    the item segments of the daily balance, and the bucket boundary days below. -#}
{% macro aging_bucket(days_past_due) -%}
    case
        when {{ days_past_due }} <= 0 then 'current'
        when {{ days_past_due }} <= 30 then '1-30'
        when {{ days_past_due }} <= 60 then '31-60'
        when {{ days_past_due }} <= 90 then '61-90'
        when {{ days_past_due }} <= 120 then '91-120'
        else '120+'
    end
{%- endmacro %}

{#- Days past due on which an item enters the next bucket (first day of each past-due bucket). -#}
{% macro aging_bucket_start_days() -%}
    {{ return([1, 31, 61, 91, 121]) }}
{%- endmacro %}

{#- Bucket labels and the column suffix each one gets in the wide marts. -#}
{% macro aging_bucket_columns() -%}
    {{ return([
        ('current', 'current'),
        ('1-30', 'past_due_1_30'),
        ('31-60', 'past_due_31_60'),
        ('61-90', 'past_due_61_90'),
        ('91-120', 'past_due_91_120'),
        ('120+', 'past_due_over_120'),
    ]) }}
{%- endmacro %}

{#- "<prefix><bucket column><suffix> + ..." over the six buckets: the total that buckets sum to. -#}
{% macro sum_of_buckets(prefix='', suffix='') -%}
    {%- set terms = [] -%}
    {%- for bucket, column in aging_bucket_columns() -%}
        {%- do terms.append(prefix ~ column ~ suffix) -%}
    {%- endfor -%}
    {{ return('(' ~ terms | join(' + ') ~ ')') }}
{%- endmacro %}
