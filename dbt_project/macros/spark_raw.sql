{#- Registers the ERP extracts exported as Parquet (orchestration/spark_raw.py writes
    <location>/<table>/*.parquet) as the `raw.erp_*` tables of the Spark metastore, so the sources
    resolve on Spark exactly as on DuckDB:

        dbt run-operation register_raw_parquet --target spark --args '{location: /abs/path}'

    Columns and types come from the sources' YAML (which tests/dbt/test_project_files.py keeps equal
    to ingestion/erp_contracts.py), so the tables have the contract's types - decimal(18,2), date,
    timestamp - and not whatever a schema inference would guess. The tables are external (LOCATION):
    dropping one leaves the files, and a fresh export is picked up by registering again. The same
    macro serves a Spark cluster with an object-store location (s3a://..., abfss://...). -#}
{% macro register_raw_parquet(location, source_name='erp') %}
    {%- if target.type != 'spark' -%}
        {{ exceptions.raise_compiler_error(
            "register_raw_parquet is for the spark target (got " ~ target.type ~ "): DuckDB and "
            ~ "PostgreSQL hold the raw tables themselves") }}
    {%- endif -%}
    {%- set location = location | string | trim -%}
    {%- if not location or "'" in location -%}
        {{ exceptions.raise_compiler_error("register_raw_parquet: location must be a folder path without quotes, got '" ~ location ~ "'") }}
    {%- endif -%}
    {%- set sources = graph.sources.values() | selectattr('source_name', 'equalto', source_name) | sort(attribute='name') | list -%}
    {%- if not sources -%}
        {{ exceptions.raise_compiler_error("register_raw_parquet: no source named '" ~ source_name ~ "'") }}
    {%- endif -%}
    {%- set schemas = sources | map(attribute='schema') | unique | list -%}
    {%- for schema in schemas -%}
        {%- do run_query('create schema if not exists ' ~ schema) -%}
    {%- endfor -%}
    {%- for source in sources -%}
        {%- set relation = api.Relation.create(schema=source.schema, identifier=source.identifier) -%}
        {%- set columns = [] -%}
        {%- for column in source.columns.values() -%}
            {%- if not column.data_type -%}
                {{ exceptions.raise_compiler_error("register_raw_parquet: column " ~ source.identifier ~ "." ~ column.name ~ " has no data_type in the sources YAML") }}
            {%- endif -%}
            {%- do columns.append(column.name ~ ' ' ~ spark_column_type(column.data_type)) -%}
        {%- endfor -%}
        {%- do run_query('drop table if exists ' ~ relation) -%}
        {%- do run_query(
            'create table ' ~ relation ~ ' (' ~ columns | join(', ') ~ ') using parquet'
            ~ " location '" ~ location.rstrip('/') ~ '/' ~ source.identifier ~ "'") -%}
        {{ log('registered ' ~ relation ~ ' on ' ~ location.rstrip('/') ~ '/' ~ source.identifier, info=true) }}
    {%- endfor -%}
{% endmacro %}

{#- The Spark spelling of a type of the sources' YAML (the DuckDB/PostgreSQL spelling of
    ingestion/erp_contracts.py SQL_TYPES): Spark has no varchar without a length and no
    timestamptz (its `timestamp` is an instant shown in the session time zone, which the profile
    pins to UTC). -#}
{% macro spark_column_type(data_type) %}
    {%- set normalized = data_type | lower | replace(' ', '') -%}
    {%- set spelled = {'varchar': 'string', 'text': 'string', 'timestamptz': 'timestamp'} -%}
    {{ return(spelled.get(normalized, normalized)) }}
{% endmacro %}
