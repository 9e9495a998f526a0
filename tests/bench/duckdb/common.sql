-- Shared by the SQL files of the DuckDB side of the race: the SPEC 3 input
-- tables read from CSV, typed and cleaned as muse-ingest does.  run.mjs
-- substitutes {{imp}}, {{plays}} and {{aff}} (the three CSV paths).
--
-- Timestamps (SPEC 3), as epoch seconds, fractions truncated:
--   YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)  the first 19 characters are
--       the local time; the offset (when the 6th character from the end is
--       a sign) is subtracted; dropping the fraction of the local time
--       truncates the instant too, offsets being whole minutes
--   YYYY-MM-DD HH:MM:SS                          UTC
--   13 digits                                    epoch milliseconds
--   other digits                                 epoch seconds
CREATE OR REPLACE MACRO muse_ts(s) AS
	CASE WHEN s[5] = '-' THEN
		epoch_ms(CAST(s[1:19] AS TIMESTAMP)) // 1000
		- CASE WHEN length(s) > 19 AND s[-6] IN ('+', '-') THEN
			(CASE WHEN s[-6] = '+' THEN 1 ELSE -1 END)
			* (CAST(s[-5:-4] AS BIGINT) * 3600 + CAST(s[-2:-1] AS BIGINT) * 60)
		  ELSE 0 END
	WHEN length(s) = 13 THEN CAST(s AS BIGINT) // 1000
	ELSE CAST(s AS BIGINT) END;

-- The UTC day of epoch seconds.
CREATE OR REPLACE MACRO muse_day(t) AS DATE '1970-01-01' + CAST(t // 86400 AS INTEGER);

-- Durations in whole milliseconds, rounded half up (as the reference and
-- muse-ingest do; a cast to DECIMAL(18,3) rounds half away from zero).
CREATE OR REPLACE MACRO muse_ms(s) AS CAST(CAST(s AS DECIMAL(18, 3)) * 1000 AS BIGINT);

CREATE OR REPLACE TEMP VIEW imp_csv AS
	SELECT muse_ts(ts) AS ts, user_id, asset_id, title_id, country
	FROM read_csv({{imp}}, header = true, all_varchar = true, delim = ',', quote = '"', escape = '"');

-- Previews never count; a missing or empty kind means play.
CREATE OR REPLACE TEMP VIEW play_csv AS
	SELECT muse_ts(ts) AS ts, user_id, title_id, muse_ms(duration_s) AS ms
	FROM read_csv({{plays}}, header = true, all_varchar = true, delim = ',', quote = '"', escape = '"')
	WHERE coalesce(kind, 'play') = 'play';

-- One row per (user, cluster) membership: a field may hold several
-- clusters separated by '|'; repeated memberships count once.
CREATE OR REPLACE TEMP VIEW cluster_csv AS
	SELECT DISTINCT user_id, unnest(string_split(cluster, '|')) AS segment
	FROM read_csv({{aff}}, header = true, all_varchar = true, delim = ',', quote = '"', escape = '"');
