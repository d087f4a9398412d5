{#- Integer division that truncates on every engine: `/` on integers is integer division on
    PostgreSQL but returns a double on DuckDB, and Spark spells it `div` (shared/STACK.md).
    Callers pass non-negative operands, where truncation and floor agree. -#}
{% macro integer_divide(numerator, denominator) -%}
    {{ return(adapter.dispatch('integer_divide')(numerator, denominator)) }}
{%- endmacro %}

{% macro default__integer_divide(numerator, denominator) -%}
    (({{ numerator }}) / ({{ denominator }}))
{%- endmacro %}

{% macro duckdb__integer_divide(numerator, denominator) -%}
    (({{ numerator }}) // ({{ denominator }}))
{%- endmacro %}

{% macro spark__integer_divide(numerator, denominator) -%}
    (({{ numerator }}) div ({{ denominator }}))
{%- endmacro %}

{#- numerator / denominator rounded half away from zero to `scale` decimals, as decimal(18, scale);
    null when the denominator is 0 or null. Both operands must have at most two decimals (money).
    Why not plain `/`: DuckDB divides decimals in double precision, so a ratio that lands on a
    half-cent could round differently than PostgreSQL's exact numeric. Dividing integer minor
    units gives the same digits on every engine:
        q = (2|N| 10^scale + |D|) div (2|D|)   with N, D in cents, then the sign of N/D. -#}
{% macro ratio(numerator, denominator, scale=2) -%}
    {%- set n = 'cast(round((' ~ numerator ~ ') * 100, 0) as bigint)' -%}
    {%- set d = 'cast(round((' ~ denominator ~ ') * 100, 0) as bigint)' -%}
    {%- set unit = '0.' ~ ('0' * (scale - 1)) ~ '1' if scale > 0 else '1' -%}
    case
        when ({{ denominator }}) is null or ({{ numerator }}) is null or ({{ denominator }}) = 0 then null
        else cast(
            cast(
                (case when (({{ numerator }}) < 0) = (({{ denominator }}) < 0) or ({{ numerator }}) = 0 then 1 else -1 end)
                * {{ integer_divide('2 * abs(' ~ n ~ ') * ' ~ (10 ** scale) ~ ' + abs(' ~ d ~ ')', '2 * abs(' ~ d ~ ')') }}
                as decimal(38, 0)
            ) * cast({{ unit }} as decimal(38, {{ scale }}))
            as decimal(18, {{ scale }})
        )
    end
{%- endmacro %}
