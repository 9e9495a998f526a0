-- The full metric table of SPEC 4 at the default grain, as full.sql, with
-- the distinct counts written the plain way: COUNT(DISTINCT user_id) over
-- the segment-expanded impressions and attributed plays, on the ids
-- themselves (no hash).  The attribution join is full.sql's.  Kept to
-- show what full.sql's GROUP BY (key, user) form gains, and as the
-- hash-free check of full.sql's output.  Run after common.sql with the
-- same parameters.

CREATE TEMP TABLE ta AS
	SELECT title_id, asset_id,
		CAST(row_number() OVER (ORDER BY title_id, asset_id) - 1 AS BIGINT) AS ta,
		CAST(dense_rank() OVER (ORDER BY title_id) - 1 AS BIGINT) AS tid
	FROM (SELECT DISTINCT title_id, asset_id FROM read_csv({{imp}}, header = true, all_varchar = true, delim = ',', quote = '"', escape = '"'));
SET VARIABLE n_ta = (SELECT count(*) FROM ta);
SELECT CASE WHEN (SELECT max(tid) + 1 FROM ta) * getvariable('n_ta') > 2147483648
	THEN error('full.sql: too many titles and assets for the ASOF key') END;
-- Impressions with their ordering key.
CREATE TEMP TABLE imp_k AS
	SELECT i.ts, i.user_id, t.ta, t.tid,
		((t.tid << 32) + i.ts) * getvariable('n_ta') + (getvariable('n_ta') - 1 - t.ta) AS k
	FROM imp_csv i JOIN ta t USING (title_id, asset_id);
-- Attribution: each play (kind play) with the impression SPEC 4 names, if
-- any; t - W <= its <= t.
CREATE TEMP TABLE attributed AS
	SELECT i.ta, i.ts AS its, p.user_id, p.ms
	FROM (SELECT p.user_id, t.tid, p.ts, p.ms,
			((t.tid << 32) + p.ts) * getvariable('n_ta') + (getvariable('n_ta') - 1) AS k
		FROM play_csv p JOIN (SELECT DISTINCT title_id, tid FROM ta) t USING (title_id)) p
	ASOF JOIN imp_k i ON p.user_id = i.user_id AND p.k >= i.k
	WHERE i.tid = p.tid AND i.ts >= p.ts - {{window_s}};
-- Users with their segments: '*' and each cluster.
CREATE TEMP TABLE segs AS
	SELECT DISTINCT user_id, '*' AS segment FROM imp_k
	UNION ALL
	SELECT user_id, segment FROM cluster_csv;

COPY (
	WITH i AS (
		SELECT i.ta, muse_day(i.ts) AS day, s.segment,
			count(*) AS impressions, count(DISTINCT i.user_id) AS reach
		FROM imp_k i JOIN segs s USING (user_id)
		GROUP BY ALL
	), p AS (
		SELECT a.ta, muse_day(a.its) AS day, s.segment,
			count(*) AS plays,
			count_if(a.ms >= {{qualify_ms}}) AS qplays,
			coalesce(sum(a.ms) FILTER (WHERE a.ms >= {{qualify_ms}}), 0) AS watch_ms,
			coalesce(count(DISTINCT a.user_id) FILTER (WHERE a.ms >= {{qualify_ms}}), 0) AS qreach,
			coalesce(count(DISTINCT a.user_id) FILTER (WHERE a.ms >= {{qualify_ms}} AND a.ms >= {{authentic_ms}}), 0) AS areach
		FROM attributed a JOIN segs s USING (user_id)
		GROUP BY ALL
	)
	SELECT t.title_id AS title, t.asset_id AS asset, CAST(i.day AS VARCHAR) AS date, i.segment,
		i.impressions, coalesce(p.plays, 0) AS plays, coalesce(p.qplays, 0) AS qplays,
		printf('%d.%03d', coalesce(p.watch_ms, 0) // 1000, coalesce(p.watch_ms, 0) % 1000) AS watch_s,
		i.reach, coalesce(p.qreach, 0) AS qreach, coalesce(p.areach, 0) AS areach
	FROM i LEFT JOIN p USING (ta, day, segment) JOIN ta t USING (ta)
	ORDER BY title, asset, date, segment
) TO {{out}} (HEADER, DELIMITER '\t', QUOTE '');
