-- The full metric table of SPEC 4 at the default grain (title, asset,
-- date, segment) with exact distinct counts, written to {{out}} as TSV in
-- the columns, order and number forms of `muse-cat store.msk` (title,
-- asset, date, segment, impressions, plays, qplays, watch_s, reach,
-- qreach, areach; rows sorted bytewise).  Run after common.sql:
--   node run.mjs --str imp=... --str plays=... --str aff=... --str out=... \
--       --num window_s=86400 --num qualify_ms=60000 --num authentic_ms=900000 \
--       common.sql full.sql
--
-- Tuned (it is the fastest of the exact forms tried on 2 threads; see
-- tests/bench/RESULTS.md):
--   - (title, asset) pairs become small integers ta in bytewise order, and
--     titles integers tid;
--   - the attribution join is one ASOF JOIN per user on a single BIGINT
--     ordering key k = ((tid << 32) + ts) * n + (n - 1 - ta), n the number
--     of pairs: for a play at t of title T the greatest k at or below the
--     play's own key is the latest impression of T at or before t and,
--     among impressions of the same second, the one with the bytewise
--     smallest asset (SPEC 4); a match of another title (no impression of
--     T at or before t) or one older than the window leaves the play
--     organic;
--   - distinct counts are computed as a GROUP BY (key, user) and a count
--     of the groups per key, instead of COUNT(DISTINCT) over the
--     segment-expanded rows (full_exact_cd.sql, slower);
--   - users are keyed by DuckDB's 64-bit hash(user_id) (the toolkit keys
--     them by a 128-bit hash): exact unless two of the ids collide, about
--     n^2 / 2^65, 10^-9 for 200 000 users; full_exact_cd.sql, which
--     counts the ids themselves, gives the same bytes on the benchmark
--     data.
-- Timestamps need ts < 2^32 (year 2106) and fewer than 2^31 / n titles.

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
	SELECT i.ts, hash(i.user_id) AS u, t.ta, t.tid,
		((t.tid << 32) + i.ts) * getvariable('n_ta') + (getvariable('n_ta') - 1 - t.ta) AS k
	FROM imp_csv i JOIN ta t USING (title_id, asset_id);
-- Attribution: each play (kind play) with the impression SPEC 4 names, if
-- any; t - W <= its <= t.
CREATE TEMP TABLE attributed AS
	SELECT i.ta, i.ts AS its, p.u, p.ms
	FROM (SELECT hash(p.user_id) AS u, t.tid, p.ts, p.ms,
			((t.tid << 32) + p.ts) * getvariable('n_ta') + (getvariable('n_ta') - 1) AS k
		FROM play_csv p JOIN (SELECT DISTINCT title_id, tid FROM ta) t USING (title_id)) p
	ASOF JOIN imp_k i ON p.u = i.u AND p.k >= i.k
	WHERE i.tid = p.tid AND i.ts >= p.ts - {{window_s}};
-- Per (key, user): what the user contributed to the key.  A play's key
-- is its impression's (title, asset, UTC date).
CREATE TEMP TABLE per_user AS
	SELECT ta, day, u,
		sum(imp) AS imps, sum(play) AS plays, sum(q) AS qplays, sum(watch) AS watch_ms,
		max(q) AS q, max(a) AS a
	FROM (
		SELECT ta, muse_day(ts) AS day, u, 1 AS imp, 0 AS play, 0 AS q, 0 AS watch, 0 AS a
		FROM imp_k
		UNION ALL
		SELECT ta, muse_day(its), u, 0, 1,
			CAST(ms >= {{qualify_ms}} AS INTEGER),
			CASE WHEN ms >= {{qualify_ms}} THEN ms ELSE 0 END,
			CAST(ms >= {{qualify_ms}} AND ms >= {{authentic_ms}} AS INTEGER)
		FROM attributed
	)
	GROUP BY ta, day, u;
-- Segments: '*' (every user) and each cluster of the user (many to many).
COPY (
	SELECT t.title_id AS title, t.asset_id AS asset, CAST(m.day AS VARCHAR) AS date, m.segment,
		m.impressions, m.plays, m.qplays,
		printf('%d.%03d', m.watch_ms // 1000, m.watch_ms % 1000) AS watch_s,
		m.reach, m.qreach, m.areach
	FROM (
		SELECT ta, day, segment,
			sum(imps) AS impressions, sum(plays) AS plays, sum(qplays) AS qplays,
			sum(watch_ms) AS watch_ms, count_if(imps > 0) AS reach,
			count_if(q > 0) AS qreach, count_if(a > 0) AS areach
		FROM (
			SELECT *, '*' AS segment FROM per_user
			UNION ALL
			SELECT u.*, c.segment FROM per_user u JOIN (SELECT hash(user_id) AS u, segment FROM cluster_csv) c USING (u)
		)
		GROUP BY ta, day, segment
	) m JOIN ta t USING (ta)
	ORDER BY title, asset, date, segment
) TO {{out}} (HEADER, DELIMITER '\t', QUOTE '');
