{#- Rows for which `expression` is not true fail (no dbt hub packages here, so our own version of
    dbt_utils.expression_is_true). Used for the accounting identities that hold within a row. -#}
{% test expression_is_true(model, expression, where_clause=none) %}
select *
from {{ model }}
where not ({{ expression }})
{%- if where_clause %}
    and ({{ where_clause }})
{%- endif %}
{% endtest %}
