-- DuckDB's CSV parsing alone, for reference: every row of the three files
-- read (all columns as text) and counted.  Run after common.sql.
SELECT (SELECT count(*) FROM read_csv({{imp}}, header = true, all_varchar = true, delim = ',', quote = '"', escape = '"'))
	+ (SELECT count(*) FROM read_csv({{plays}}, header = true, all_varchar = true, delim = ',', quote = '"', escape = '"'))
	+ (SELECT count(*) FROM read_csv({{aff}}, header = true, all_varchar = true, delim = ',', quote = '"', escape = '"')) AS rows;
