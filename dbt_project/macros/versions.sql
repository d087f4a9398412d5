{#- Rank of each row among the versions of its key, 1 = current. A later extract supersedes an
    earlier one; within an extract date a later load; within a load the later row of the file
    (the contract's "later version of the same key" rule). -#}
{% macro latest_version_rank(key_columns) -%}
    row_number() over (
        partition by {{ key_columns | join(', ') }}
        order by _extract_date desc, _loaded_at desc, _row_number desc
    )
{%- endmacro %}
