-- dedup-persister schema v1: changes (one row per meta.id), window aggregates (one row per wiki and
-- window), alerts (one row per deterministic alert id), and the consumed Kafka offsets, which are
-- written in the same transaction as the rows they cover.

CREATE TABLE wiki_changes (
  id                 text COLLATE "C" PRIMARY KEY,  -- meta.id: the dedup key
  event_time         timestamptz NOT NULL,          -- meta.dt
  received_time      timestamptz NOT NULL,
  wiki               text NOT NULL,
  domain             text NOT NULL,
  stream             text,
  type               text NOT NULL,
  namespace          int4 NOT NULL,
  title              text NOT NULL,
  title_url          text,
  user_name          text NOT NULL,
  bot                boolean NOT NULL,
  minor              boolean,
  patrolled          boolean,
  length_old         int8,
  length_new         int8,
  revision_old       int8,
  revision_new       int8,
  comment            text NOT NULL,
  rc_id              int8,
  server_name        text,
  request_id         text,
  schema_uri         text,
  log_id             int8,
  log_type           text,
  log_action         text,
  log_action_comment text,
  log_params         text,
  source_topic       text,                           -- upstream (EventStreams) position
  source_partition   int4,
  source_offset      int8,
  sse_id             text,
  kafka_topic        text NOT NULL,                  -- where the first copy was read from
  kafka_partition    int4 NOT NULL,
  kafka_offset       int8 NOT NULL,
  persisted_at       timestamptz NOT NULL DEFAULT now()
);
-- History API: newest first, keyset paging on (event_time, id); by wiki; by user.
CREATE INDEX wiki_changes_time_idx ON wiki_changes (event_time DESC, id DESC);
CREATE INDEX wiki_changes_wiki_time_idx ON wiki_changes (wiki, event_time DESC, id DESC);
CREATE INDEX wiki_changes_user_time_idx ON wiki_changes (user_name, event_time DESC, id DESC);

CREATE TABLE wiki_aggregates (
  wiki              text NOT NULL,
  window_start      timestamptz NOT NULL,
  window_end        timestamptz NOT NULL,
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
  distinct_editors  int4 NOT NULL,
  top_pages         jsonb NOT NULL,                  -- [{title, count}], most changed first
  first_event_time  timestamptz NOT NULL,
  last_event_time   timestamptz NOT NULL,
  kafka_topic       text NOT NULL,
  kafka_partition   int4 NOT NULL,
  kafka_offset      int8 NOT NULL,
  persisted_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (wiki, window_start, window_end)
);

CREATE TABLE wiki_alerts (
  id               text COLLATE "C" PRIMARY KEY,     -- deterministic: same condition, same id
  kind             text NOT NULL,
  source           text NOT NULL,
  subject          text NOT NULL,
  severity         text NOT NULL,
  observed         float8,
  expected         float8,
  score            float8,
  window_start     timestamptz,
  window_end       timestamptz,
  status           text,
  previous_status  text,
  message          text NOT NULL,
  created_at       timestamptz NOT NULL,
  kafka_topic      text NOT NULL,
  kafka_partition  int4 NOT NULL,
  kafka_offset     int8 NOT NULL,
  persisted_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX wiki_alerts_time_idx ON wiki_alerts (created_at DESC, id DESC);
CREATE INDEX wiki_alerts_subject_time_idx ON wiki_alerts (subject, created_at DESC, id DESC);

-- Next offset to read per consumer group and partition: the source of truth on partition assignment.
CREATE TABLE consumer_offsets (
  consumer_group  text NOT NULL,
  topic           text NOT NULL,
  partition       int4 NOT NULL,
  next_offset     int8 NOT NULL,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer_group, topic, partition)
);
