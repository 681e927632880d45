"""PostgreSQL: one module per aggregate, plain SQL next to the function that runs it."""
