{#- Dates as integer day numbers (days since 1970-01-01). Interval arithmetic differs between
    engines (DuckDB's date + interval returns a timestamp, and can collapse two different
    intervals in one SELECT: shared/STACK.md); integer comparisons and additions do not. -#}

{% macro day_number(date_expression) -%}
    cast({{ dbt.datediff("cast('1970-01-01' as date)", date_expression, 'day') }} as integer)
{%- endmacro %}

{% macro date_from_day_number(day_number_expression) -%}
    cast({{ dbt.dateadd('day', day_number_expression, "cast('1970-01-01' as date)") }} as date)
{%- endmacro %}

{#- The as-of date as a literal when the var (or else OPENAR_AS_OF_DATE) is set, else none.
    The daily run passes the date in the environment, not as a var: vars are part of the state dbt
    checks before partial parsing, so a date that changes every day made the first dbt build of
    each run parse the whole project again (about 6 s); a changed environment variable re-parses
    only the files that read it. -#}
{% macro as_of_date_literal() -%}
    {%- set as_of = var('as_of_date', none) -%}
    {%- if as_of is none or (as_of | string | trim) in ('', 'none', 'None', 'null') -%}
        {%- set as_of = env_var('OPENAR_AS_OF_DATE', '') -%}
    {%- endif -%}
    {%- set as_of_text = as_of | string | trim -%}
    {%- if as_of_text not in ('', 'none', 'None', 'null') -%}
        {%- if modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', as_of_text) is none -%}
            {{ exceptions.raise_compiler_error("the as-of date (var as_of_date or OPENAR_AS_OF_DATE) must be YYYY-MM-DD, got '" ~ as_of_text ~ "'") }}
        {%- endif -%}
        cast('{{ as_of_text }}' as date)
    {%- endif -%}
{%- endmacro %}

{#- Staging keeps only what the warehouse knew on the as-of date: rows extracted on or before it.
    Without an as-of var every row counts (the as-of date is then the latest extract date). -#}
{% macro extracted_by_as_of(extract_date_column) -%}
    {%- set literal = as_of_date_literal() -%}
    {%- if literal | trim -%}
        {{ extract_date_column }} <= {{ literal }}
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}
