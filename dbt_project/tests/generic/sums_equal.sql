{#- An identity between two models: sum(measure) per group in `model` equals
    sum(compare_measure) per group in `compare_model`, exactly. Groups present on one side only
    compare with 0, so a missing or extra group fails too. -#}
{% test sums_equal(model, measure, compare_model, compare_measure, group_by, where_clause=none, compare_where_clause=none) %}
with

left_side as (
    select {{ group_by | join(', ') }}, sum({{ measure }}) as total
    from {{ model }}
    {% if where_clause %}where {{ where_clause }}{% endif %}
    group by {{ group_by | join(', ') }}
),

right_side as (
    select {{ group_by | join(', ') }}, sum({{ compare_measure }}) as total
    from {{ compare_model }}
    {% if compare_where_clause %}where {{ compare_where_clause }}{% endif %}
    group by {{ group_by | join(', ') }}
),

compared as (
    select
        {% for column in group_by -%}
        coalesce(l.{{ column }}, r.{{ column }}) as {{ column }},
        {% endfor -%}
        coalesce(l.total, 0) as model_total,
        coalesce(r.total, 0) as compare_total
    from left_side as l
    full outer join right_side as r
        on {% for column in group_by -%}
        l.{{ column }} = r.{{ column }}{{ ' and ' if not loop.last }}
        {%- endfor %}
)

select *
from compared
where model_total <> compare_total
{% endtest %}
