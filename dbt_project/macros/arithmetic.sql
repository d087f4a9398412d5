{#- Integer division that truncates, on integers of wide_integer_type(). Engines disagree: `/` on
    integers is integer division on PostgreSQL but a double on DuckDB, DuckDB's `//` is integer
    division on HUGEINT but a double on DECIMAL (measured on duckdb 2.0.0), and Spark spells it
    `div` (shared/STACK.md). Callers pass non-negative operands, where truncation and floor agree. -#}
{% macro integer_divide(numerator, denominator) -%}
    {{ return(adapter.dispatch('integer_divide')(numerator, denominator)) }}
{%- endmacro %}

{% macro default__integer_divide(numerator, denominator) -%}
    (({{ numerator }}) / ({{ denominator }}))
{%- endmacro %}

{% macro postgres__integer_divide(numerator, denominator) -%}
    div({{ numerator }}, {{ denominator }})
{%- endmacro %}

{% macro duckdb__integer_divide(numerator, denominator) -%}
    (({{ numerator }}) // ({{ denominator }}))
{%- endmacro %}

{% macro spark__integer_divide(numerator, denominator) -%}
    (({{ numerator }}) div ({{ denominator }}))
{%- endmacro %}

{#- An exact integer type wide enough for money in minor units times 10^6 (38 digits); bigint
    would overflow near 9.2e18, which a large ledger's AR x 90 x 10^4 can reach. -#}
{% macro wide_integer_type() -%}
    {{ return(adapter.dispatch('wide_integer_type')()) }}
{%- endmacro %}

{% macro default__wide_integer_type() -%}
    decimal(38, 0)
{%- endmacro %}

{% macro duckdb__wide_integer_type() -%}
    hugeint
{%- endmacro %}

{#- numerator / denominator rounded half away from zero to `scale` decimals, as decimal(18, scale);
    null when the denominator is 0 or null. Both operands must have at most two decimals (money).
    Why not plain `/`: DuckDB divides decimals in double precision, so a ratio that lands on a
    half-cent could round differently than PostgreSQL's exact numeric. Dividing integer minor
    units gives the same digits on every engine:
        q = (2|N| 10^scale + |D|) div (2|D|)   with N, D in cents, then the sign of N/D. -#}
{% macro ratio(numerator, denominator, scale=2) -%}
    {%- set n = 'cast(round((' ~ numerator ~ ') * 100, 0) as ' ~ wide_integer_type() ~ ')' -%}
    {%- set d = 'cast(round((' ~ denominator ~ ') * 100, 0) as ' ~ wide_integer_type() ~ ')' -%}
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
