{{ config(tags=['collections']) }}

{#- The worklist of the latest as-of day: what each collector does on the next work day, in queue order. -#}

with

worklist as (
    select * from {{ ref('stg_collections__collector_worklist') }}
),

latest as (
    select max(as_of_date) as as_of_date from worklist
),

final as (
    select worklist.*
    from worklist
    inner join latest on worklist.as_of_date = latest.as_of_date
)

select * from final
