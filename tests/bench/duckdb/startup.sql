-- A cold DuckDB process through Node that does nothing: the fixed cost
-- included in every cold DuckDB time of the race.
SELECT 1 AS one;
