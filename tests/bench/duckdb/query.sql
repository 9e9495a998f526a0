-- "Combined distinct reach of 3 assets across 2 segments", over the whole
-- period, from the CSV files: distinct users with an impression of any of
-- the assets {{assets}} who belong to any of the segments {{segments}}
-- ('*' is all users).  Run after common.sql (only impressions and
-- affinities are read; the plays file is never opened):
--   node run.mjs --str imp=... --str plays=... --str aff=... \
--       --list assets=A,B,C --list segments=S1,S2 common.sql query.sql
SELECT count(DISTINCT user_id) AS reach
FROM read_csv({{imp}}, header = true, all_varchar = true, delim = ',', quote = '"', escape = '"')
WHERE asset_id IN {{assets}}
	AND ('*' IN {{segments}}
		OR user_id IN (SELECT user_id FROM cluster_csv WHERE segment IN {{segments}}));
