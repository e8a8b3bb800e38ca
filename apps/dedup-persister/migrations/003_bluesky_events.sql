-- dedup-persister schema v3: Bluesky Jetstream events (issue 19), one row per event id, the same
-- exactly-once rule as wiki_changes: the id is the primary key, a redelivered event (a duplicate
-- delivery, a replay, a re-routed copy) is absorbed by ON CONFLICT DO NOTHING in the transaction
-- that also stores the consumed offsets. Identity and account events have no commit: their commit
-- columns are NULL, and so are the post columns of everything but app.bsky.feed.post creates/updates.

CREATE TABLE bsky_events (
  id                 text COLLATE "C" PRIMARY KEY,  -- at://<did>/<collection>/<rkey>#<rev>, <did>#identity#<seq>, <did>#account#<seq>
  did                text NOT NULL,
  time_us            int8 NOT NULL,                 -- Jetstream's cursor position
  event_time         timestamptz NOT NULL,          -- time_us / 1000
  received_time      timestamptz NOT NULL,
  kind               text NOT NULL,                 -- commit, identity, account
  early_format       boolean NOT NULL,
  collection         text,
  operation          text,                          -- create, update, delete
  rkey               text,
  rev                text,
  cid                text,
  record_json        text,
  post_text          text,
  post_langs         jsonb,                         -- ["en", ...]
  post_created_at    text,                          -- as the client wrote it (not validated)
  reply_root_uri     text,
  reply_parent_uri   text,
  quote_uri          text,
  handle             text,
  account_active     boolean,
  account_status     text,
  seq                int8,                          -- identity/account sequence number
  kafka_topic        text NOT NULL,
  kafka_partition    int4 NOT NULL,
  kafka_offset       int8 NOT NULL,
  persisted_at       timestamptz NOT NULL DEFAULT now()
);

-- Counts per collection/operation (or kind) over a time range: the history API and the analytics page.
CREATE INDEX bsky_events_event_time ON bsky_events (event_time);
CREATE INDEX bsky_events_subject_time ON bsky_events (kind, collection, operation, event_time);
CREATE INDEX bsky_events_did_time ON bsky_events (did, event_time);
