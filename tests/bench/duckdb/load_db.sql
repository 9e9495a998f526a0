-- Builds the persisted database that query_db.sql reads: every impression
-- once per segment of its user ('*' and each cluster), with its title,
-- asset, UTC date and country, sorted by asset then segment so that a
-- query for a few assets and segments reads few row groups (DuckDB keeps
-- min/max per row group and skips the others).  Run after common.sql
-- with --db FILE.
DROP TABLE IF EXISTS imp_seg;
CREATE TABLE imp_seg AS
	SELECT i.asset_id, s.segment, i.user_id, i.title_id, muse_day(i.ts) AS date, i.country
	FROM imp_csv i
	JOIN (SELECT user_id, segment FROM cluster_csv
		UNION ALL
		SELECT DISTINCT user_id, '*' FROM read_csv({{imp}}, header = true, all_varchar = true, delim = ',', quote = '"', escape = '"')) s
		USING (user_id)
	ORDER BY i.asset_id, s.segment, i.user_id;
CHECKPOINT;
