{#- Folder schemas are used verbatim (staging, intermediate, marts) instead of dbt's default
    "<target schema>_<custom schema>", so the dashboard and BI tools read `marts.<model>` on every
    engine and target. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
