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

{#- Transaction amount x rate, rounded half-up to the cent, once. The product must be exact
    before that rounding (exact_amount_times_rate). The product is the costly part of the daily
    balance (8 conversions per customer-day), so zero amounts and rate 1 (the functional
    currency) skip it: most customer-days have one or two nonzero buckets. -#}
{% macro to_functional(amount, rate) -%}
    cast(
        case
            when {{ amount }} = 0 or {{ rate }} = 1 then {{ amount }}
            else {{ money(exact_amount_times_rate(amount, rate)) }}
        end
        as {{ money_type() }}
    )
{%- endmacro %}

{#- amount (2 decimals) x rate (8 decimals) with all 10 decimals kept. Engines type the product
    differently (measured on duckdb 2.0.0 and Spark 4.x):
    - DuckDB types decimal(18,2) * decimal(18,8) as decimal(18,10) and overflows above 100 million,
      so both sides are widened to decimal(38, ...) first (exact there, as on PostgreSQL's numeric);
    - Spark caps a product's precision at 38 by cutting its scale to 6: the widened product would
      be rounded to 6 decimals and then to 2, and 1.00 x 1.23499995 would come out 1.24 instead of
      1.23. Its decimal(18,2) * decimal(18,8) is decimal(37,10): exact, so no widening there. -#}
{% macro exact_amount_times_rate(amount, rate) -%}
    {{ return(adapter.dispatch('exact_amount_times_rate')(amount, rate)) }}
{%- endmacro %}

{% macro default__exact_amount_times_rate(amount, rate) -%}
    cast({{ amount }} as decimal(38, 2)) * cast({{ rate }} as decimal(38, 8))
{%- endmacro %}

{% macro spark__exact_amount_times_rate(amount, rate) -%}
    cast({{ amount }} as {{ money_type() }}) * cast({{ rate }} as {{ rate_type() }})
{%- endmacro %}
