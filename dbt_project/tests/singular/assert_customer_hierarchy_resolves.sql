-- Every customer's top parent must itself have no parent: otherwise the chain is deeper than
-- the customer_hierarchy_max_depth var, loops, or points at a customer that does not exist.

select
    customers.customer_id,
    customers.top_parent_customer_id,
    top_parent.parent_customer_id as parent_of_top_parent
from {{ ref('dim_customers') }} as customers
inner join {{ ref('stg_erp__customers') }} as top_parent
    on customers.top_parent_customer_id = top_parent.customer_id
where top_parent.parent_customer_id is not null
