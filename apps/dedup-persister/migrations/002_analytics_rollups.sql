-- dedup-persister schema v2: rollups for the analytics page, kept exactly once by the writer in the
-- transaction that stores the rows they summarize (and the offsets), so a 30-day range reads about a
-- hundred rollup rows instead of every change. Buckets are epoch-aligned UTC minutes, hours and days.
-- Rows stored before this migration are rolled up here, once (the writer maintains them from now on).

-- Stored windows (wiki_aggregates), per wiki and for all wikis (wiki = '*'). A window is added once:
-- when its row is new; a re-emitted window with new counts adds the difference; an identical one nothing.
CREATE TABLE window_rollups (
  level             text NOT NULL CHECK (level IN ('minute', 'hour', 'day')),
  wiki              text NOT NULL,
  bucket_start      timestamptz NOT NULL,
  windows           int8 NOT NULL,
  total             int8 NOT NULL,
  count_edit        int8 NOT NULL,
  count_new         int8 NOT NULL,
  count_log         int8 NOT NULL,
  count_categorize  int8 NOT NULL,
  count_external    int8 NOT NULL,
  count_unknown     int8 NOT NULL,
  bot               int8 NOT NULL,
  human             int8 NOT NULL,
  bytes_added       int8 NOT NULL,
  bytes_removed     int8 NOT NULL,
  top_pages         jsonb NOT NULL,                  -- [{wiki (all-wikis rows only), name, count}], at most 50, largest first
  PRIMARY KEY (level, wiki, bucket_start)
);
CREATE INDEX window_rollups_time_idx ON window_rollups (level, bucket_start);

-- Stored changes (wiki_changes) by namespace, type and bot flag: additive, exact.
CREATE TABLE change_rollups (
  level          text NOT NULL CHECK (level IN ('minute', 'hour', 'day')),
  bucket_start   timestamptz NOT NULL,
  wiki           text NOT NULL,
  namespace      int4 NOT NULL,
  type           text NOT NULL,
  bot            boolean NOT NULL,
  domain         text NOT NULL,
  changes        int8 NOT NULL,
  bytes_added    int8 NOT NULL,
  bytes_removed  int8 NOT NULL,
  PRIMARY KEY (level, bucket_start, wiki, namespace, type, bot)
);

-- Top editors per hour and day, per wiki and for all wikis ('*'); minute edges are read from the changes.
CREATE TABLE editor_rollups (
  level         text NOT NULL CHECK (level IN ('hour', 'day')),
  wiki          text NOT NULL,
  bucket_start  timestamptz NOT NULL,
  changes       int8 NOT NULL,
  top_editors   jsonb NOT NULL,                      -- [{wiki (all-wikis rows only), name, count}], at most 50
  PRIMARY KEY (level, wiki, bucket_start)
);
CREATE INDEX editor_rollups_time_idx ON editor_rollups (level, bucket_start);

-- Changes a suspicious-activity heuristic flagged when they were stored (libs/domain analytics/heuristics.ts).
CREATE TABLE change_signals (
  id            text COLLATE "C" NOT NULL,
  kind          text NOT NULL,                       -- revert | large_removal
  event_time    timestamptz NOT NULL,
  wiki          text NOT NULL,
  domain        text NOT NULL,
  server_name   text,
  type          text NOT NULL,
  user_name     text NOT NULL,
  title         text NOT NULL,
  bytes_delta   int8,
  revision_old  int8,
  revision_new  int8,
  PRIMARY KEY (id, kind)
);
CREATE INDEX change_signals_time_idx ON change_signals (event_time DESC);

-- Backfill from the rows already stored.
INSERT INTO window_rollups
SELECT l.level, w.wiki, date_trunc(l.level, a.window_start, 'UTC'), count(*), sum(a.total), sum(a.count_edit), sum(a.count_new), sum(a.count_log),
       sum(a.count_categorize), sum(a.count_external), sum(a.count_unknown), sum(a.bot), sum(a.human), sum(a.bytes_added), sum(a.bytes_removed), '[]'::jsonb
FROM wiki_aggregates a
CROSS JOIN (VALUES ('minute'), ('hour'), ('day')) AS l(level)
CROSS JOIN LATERAL (VALUES (a.wiki), ('*')) AS w(wiki)
GROUP BY 1, 2, 3;

UPDATE window_rollups r SET top_pages = t.top
FROM (
  SELECT level, wiki, bucket, jsonb_agg(CASE WHEN wiki = '*' THEN jsonb_build_object('wiki', page_wiki, 'name', title, 'count', n) ELSE jsonb_build_object('name', title, 'count', n) END
                                        ORDER BY n DESC, page_wiki, title COLLATE "C") AS top
  FROM (
    SELECT level, wiki, bucket, page_wiki, title, n, row_number() OVER (PARTITION BY level, wiki, bucket ORDER BY n DESC, page_wiki, title COLLATE "C") AS rk
    FROM (
      SELECT l.level, w.wiki, date_trunc(l.level, a.window_start, 'UTC') AS bucket, a.wiki AS page_wiki, p.value->>'title' AS title, sum((p.value->>'count')::int8) AS n
      FROM wiki_aggregates a
      CROSS JOIN LATERAL jsonb_array_elements(a.top_pages) AS p
      CROSS JOIN (VALUES ('minute'), ('hour'), ('day')) AS l(level)
      CROSS JOIN LATERAL (VALUES (a.wiki), ('*')) AS w(wiki)
      GROUP BY 1, 2, 3, 4, 5
    ) s
  ) ranked
  WHERE rk <= 50
  GROUP BY level, wiki, bucket
) t
WHERE r.level = t.level AND r.wiki = t.wiki AND r.bucket_start = t.bucket;

INSERT INTO change_rollups
SELECT l.level, date_trunc(l.level, c.event_time, 'UTC'), c.wiki, c.namespace, c.type, c.bot, min(c.domain), count(*),
       sum(greatest(coalesce(c.length_new, 0) - coalesce(c.length_old, 0), 0)), sum(greatest(coalesce(c.length_old, 0) - coalesce(c.length_new, 0), 0))
FROM wiki_changes c
CROSS JOIN (VALUES ('minute'), ('hour'), ('day')) AS l(level)
GROUP BY 1, 2, 3, 4, 5, 6;

INSERT INTO editor_rollups
SELECT level, wiki, bucket, sum(n), coalesce(jsonb_agg(CASE WHEN wiki = '*' THEN jsonb_build_object('wiki', user_wiki, 'name', user_name, 'count', n) ELSE jsonb_build_object('name', user_name, 'count', n) END
                                        ORDER BY n DESC, user_wiki, user_name COLLATE "C") FILTER (WHERE rk <= 50), '[]'::jsonb)
FROM (
  SELECT level, wiki, bucket, user_wiki, user_name, n, row_number() OVER (PARTITION BY level, wiki, bucket ORDER BY n DESC, user_wiki, user_name COLLATE "C") AS rk
  FROM (
    SELECT l.level, w.wiki, date_trunc(l.level, c.event_time, 'UTC') AS bucket, c.wiki AS user_wiki, c.user_name, count(*) AS n
    FROM wiki_changes c
    CROSS JOIN (VALUES ('hour'), ('day')) AS l(level)
    CROSS JOIN LATERAL (VALUES (c.wiki), ('*')) AS w(wiki)
    GROUP BY 1, 2, 3, 4, 5
  ) s
) ranked
GROUP BY level, wiki, bucket;

-- The same rules as changeSignals() (REVERT_COMMENT_RE, LARGE_REMOVAL_BYTES, isAnonymousUser, isTemporaryAccount);
-- analytics.spec.ts checks that these literals match the domain's.
INSERT INTO change_signals
SELECT id, 'revert', event_time, wiki, domain, server_name, type, user_name, title, length_new - length_old, revision_old, revision_new
FROM wiki_changes WHERE type = 'edit' AND comment ~* '\y(revert(?:ed|ing)?|undid|undo|rollback|rv|rvv)\y';
INSERT INTO change_signals
SELECT id, 'large_removal', event_time, wiki, domain, server_name, type, user_name, title, length_new - length_old, revision_old, revision_new
FROM wiki_changes
WHERE NOT bot AND length_old - length_new >= 2000
  AND (user_name ~ '^(?:\d{1,3}\.){3}\d{1,3}$' OR user_name ~* '^[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}$' OR user_name ~ '^~\d{4}-');
