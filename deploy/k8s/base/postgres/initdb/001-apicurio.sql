-- Runs once, when the PostgreSQL data directory is first initialised (docker-entrypoint-initdb.d):
-- the schema registry keeps its SQL storage in a database of its own, beside the app's "wikimonitor".
CREATE DATABASE apicurio;
