{#- Money is exact everywhere: decimal(18,2) (two minor-unit digits covers USD, EUR and GBP),
    never float. `money` rounds half away from zero (what "half-up" means in accounting and
    Python's ROUND_HALF_UP) before narrowing, so no engine is left to pick its own cast rounding. -#}

{% macro money_type() -%}
    decimal(18, 2)
{%- endmacro %}

{% macro rate_type() -%}
    decimal(18, 8)
{%- endmacro %}

{% macro money(expression) -%}
    cast(round({{ expression }}, 2) as {{ money_type() }})
{%- endmacro %}

{#- Transaction amount x rate, rounded half-up to the cent. Both sides are widened to
    decimal(38, ...) first: DuckDB types decimal(18,2) * decimal(18,8) as decimal(18,10) and
    overflows above 100 million (measured on duckdb 2.0.0). That wide arithmetic is the costly part
    of the daily balance (8 conversions per customer-day), so zero amounts and rate 1 (the
    functional currency) skip it: most customer-days have one or two nonzero buckets. -#}
{% macro to_functional(amount, rate) -%}
    cast(
        case
            when {{ amount }} = 0 or {{ rate }} = 1 then {{ amount }}
            else {{ money('cast(' ~ amount ~ ' as decimal(38, 2)) * cast(' ~ rate ~ ' as decimal(38, 8))') }}
        end
        as {{ money_type() }}
    )
{%- endmacro %}
