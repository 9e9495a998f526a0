-- "Combined distinct reach of 3 assets across 2 segments" over the whole
-- period, from the persisted database built by load_db.sql (run alone,
-- with --db FILE):
--   node run.mjs --db FILE --list assets=A,B,C --list segments=S1,S2 query_db.sql
SELECT count(DISTINCT user_id) AS reach
FROM imp_seg
WHERE asset_id IN {{assets}} AND segment IN {{segments}};
