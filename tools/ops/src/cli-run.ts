import type { OffsetHome, ResetTarget } from '@wikimonitor/domain';
import { type CliOptions, type CliValues, describeError, parseCommandLine } from '@wikimonitor/service-kit';
import { type OpsContext, type ReplayOptions, type ResetOptions, describeGroups, describeTopics, replayDeadLetters, resetOffsets } from './ops';

export const EXIT = { ok: 0, failed: 1, usage: 2, refused: 3 } as const;

export const HELP = `wikimonitor ops CLI: consumer-group offsets, lag and dead letters

Usage: ops-cli <command> [options]
  built:        node dist/tools/ops/cli.js <command>   (after: npx nx build ops-cli)
  in the lag-monitor image:  node cli.js <command>
  from source:  npx nx run ops-cli:cli -- <command>

Commands:
  reset-offsets     Plan (default) or, with --execute, move a stopped group's position.
      --group <id>              the consumer group (required)
      --topic <name>            topic to reset (repeatable; default: every topic the group committed)
      --partitions <0,1,...>    only these partitions
      one target:
      --to-earliest             the first retained record
      --to-latest               the end (skip everything not yet read)
      --to-offset <n>           this offset (kept within the retained range)
      --to-datetime <time>      the first record at/after an ISO-8601 time or epoch ms
      --shift-by=<n>            current offset + n (e.g. --shift-by=-100 re-reads 100 records)
      --execute                 apply the plan (without it nothing changes, like kafka-consumer-groups.sh)
      --dry-run                 the default, accepted for old scripts: show the plan, change nothing
      The plan shows per partition the current position, the target and the delta.
      Refused (exit 3) while the group has active members: stop its consumers first.
      dedup-persister (POSTGRES_OFFSET_GROUPS, or any group with rows there): its position is the
        PostgreSQL table consumer_offsets; reset there (with DATABASE_URL) or refused without it.
      aggregator (CHANGELOG_STATE_GROUPS): backward resets refused (window state in its changelog
        would count records twice); forward ones (--to-latest) allowed.

  describe-groups [group ...]   State, members, and per partition the committed offset, end offset,
                                lag in messages and lag in seconds (all groups when none named).
  describe-topics [topic ...]   Partitions, leader, replicas, in-sync replicas, log start and end offsets.

  replay-dlq        Re-produce dead letters to their source topic (same key, value and original headers).
                    Producer dead letters (raw JSON from the stream) are normalized again and sent
                    Avro-encoded to their dlq.target.topic or the raw topic; still-invalid and truncated
                    ones are reported, never replayed. Exactly once per dead letter: each replay is
                    marked (DLQ_REPLAYED_TOPIC, default wiki.dlq.replayed) in the transaction of its
                    records, and dead letters already marked are skipped ("already replayed").
      --dlq-topic <name>        dead-letter topic (default: DLQ_TOPIC or wiki.dlq)
      --source-topic <name>     only dead letters from this topic
      --app <name>              only dead letters written by this app
      --error-code <code>       only dead letters with this error code
      --to-topic <name>         send to this topic instead of each record's source topic
      --raw-topic <name>        where producer dead letters go (default: RAW_TOPIC or wiki.raw.changes)
      --since <time>            only dead letters written at/after this ISO-8601 time or epoch ms
      --limit <n>               at most n records
      --force                   replay dead letters already replayed too (sends them again)
      --dry-run                 list what would be replayed

Global options: --json (machine-readable output), --help
Environment: KAFKA_BOOTSTRAP_SERVERS (default 127.0.0.1:9092), KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_MECHANISM,
  KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD, KAFKA_SSL_CA_LOCATION, KAFKA_SSL_CERTIFICATE_LOCATION,
  KAFKA_SSL_KEY_LOCATION, KAFKA_SSL_KEY_PASSWORD, KAFKA_SASL_OAUTHBEARER_* (libs/kafka README; any as <NAME>_FILE),
  ADMIN_TIMEOUT_MS (default 10000),
  DATABASE_URL (the persister's offsets), POSTGRES_OFFSET_GROUPS (default dedup-persister),
  CHANGELOG_STATE_GROUPS (default aggregator), DLQ_TOPIC (default wiki.dlq), RAW_TOPIC (default wiki.raw.changes), DLQ_REPLAYED_TOPIC (default
  wiki.dlq.replayed), REPLAY_TRANSACTIONAL_ID (default wikimonitor-ops-replay), TOPIC_REPLICATION_FACTOR
  (default 1), SCHEMA_REGISTRY_URL (producer dead letters only), LOG_LEVEL (see tools/ops/README.md).
Examples:
  ops-cli describe-groups filter-router aggregator
  ops-cli reset-offsets --group filter-router --to-datetime 2026-11-21T10:00:00Z            # plan only
  ops-cli reset-offsets --group filter-router --to-datetime 2026-11-21T10:00:00Z --execute  # apply
  ops-cli replay-dlq --app dedup-persister --error-code DB_FAILED --dry-run
  ops-cli replay-dlq --app producer --error-code EVENT_TIME_FUTURE
Exit codes: 0 done (a plan too), 1 failed, 2 usage error, 3 refused (active members, or a reset the group's
  position cannot take).`;

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

class UsageError extends Error {}

/** A command's options through the workspace's strict parser: an unknown flag or stray argument is a UsageError (exit 2). */
function commandArgs<const O extends CliOptions>(args: string[], options: O, positionals = false): { values: CliValues<O>; positionals: string[] } {
  const r = parseCommandLine({ usage: HELP, options, positionals }, args);
  if (!r.ok) throw new UsageError(r.problem ?? r.text);
  return r;
}

function table(rows: Array<Array<string | number | null>>, header: string[]): string {
  const cells = [header, ...rows.map((r) => r.map((c) => (c === null ? '-' : String(c))))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (c ?? '').padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}

function parseTime(v: string, flag: string): number {
  const t = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(t)) throw new UsageError(`${flag}: not an ISO-8601 time or epoch milliseconds: ${v}`);
  return t;
}

function parseIntFlag(v: string, flag: string): number {
  if (!/^-?\d+$/.test(v)) throw new UsageError(`${flag}: not an integer: ${v}`);
  return Number(v);
}

/** Parses reset-offsets options (exported for unit tests). */
export function parseResetArgs(args: string[]): ResetOptions {
  const { values } = commandArgs(args, {
    group: { type: 'string' },
    topic: { type: 'string', multiple: true },
    partitions: { type: 'string' },
    'to-earliest': { type: 'boolean' },
    'to-latest': { type: 'boolean' },
    'to-offset': { type: 'string' },
    'to-datetime': { type: 'string' },
    'shift-by': { type: 'string' },
    execute: { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    json: { type: 'boolean' },
  });
  if (values.execute && values['dry-run']) throw new UsageError('reset-offsets: --execute and --dry-run contradict each other (planning is the default)');
  if (!values.group) throw new UsageError('reset-offsets: --group is required');
  const targets: ResetTarget[] = [];
  if (values['to-earliest']) targets.push({ kind: 'earliest' });
  if (values['to-latest']) targets.push({ kind: 'latest' });
  if (values['to-offset'] !== undefined) targets.push({ kind: 'offset', offset: parseIntFlag(values['to-offset'], '--to-offset') });
  if (values['to-datetime'] !== undefined) targets.push({ kind: 'timestamp', timestamp: parseTime(values['to-datetime'], '--to-datetime') });
  if (values['shift-by'] !== undefined) targets.push({ kind: 'shift', by: parseIntFlag(values['shift-by'], '--shift-by') });
  if (targets.length !== 1) throw new UsageError('reset-offsets: give exactly one of --to-earliest, --to-latest, --to-offset, --to-datetime, --shift-by');
  const partitions = values.partitions?.split(',').map((p) => parseIntFlag(p.trim(), '--partitions'));
  return { group: values.group, topics: values.topic ?? [], partitions, target: targets[0] as ResetTarget, execute: values.execute === true };
}

/** Parses replay-dlq options (exported for unit tests). */
export function parseReplayArgs(args: string[], defaultDlq: string, defaultRaw?: string): ReplayOptions {
  const { values } = commandArgs(args, {
    'dlq-topic': { type: 'string' },
    'source-topic': { type: 'string' },
    app: { type: 'string' },
    'error-code': { type: 'string' },
    'to-topic': { type: 'string' },
    'raw-topic': { type: 'string' },
    since: { type: 'string' },
    limit: { type: 'string' },
    force: { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    json: { type: 'boolean' },
  });
  const limit = values.limit === undefined ? undefined : parseIntFlag(values.limit, '--limit');
  if (limit !== undefined && limit < 1) throw new UsageError('--limit must be at least 1');
  return {
    dlqTopic: values['dlq-topic'] ?? defaultDlq,
    sourceTopic: values['source-topic'],
    app: values.app,
    errorCode: values['error-code'],
    toTopic: values['to-topic'],
    rawTopic: values['raw-topic'] ?? defaultRaw,
    since: values.since === undefined ? undefined : parseTime(values.since, '--since'),
    limit,
    force: values.force === true,
    dryRun: values['dry-run'] === true,
  };
}

function describeTarget(t: ResetTarget): string {
  switch (t.kind) {
    case 'earliest':
    case 'latest':
      return t.kind;
    case 'offset':
      return `offset ${t.offset}`;
    case 'timestamp':
      return `time ${new Date(t.timestamp).toISOString()}`;
    case 'shift':
      return `shift by ${t.by}`;
  }
}

const HOME_TEXT: Record<OffsetHome, string> = {
  kafka: 'Kafka committed offsets',
  postgres: 'PostgreSQL table consumer_offsets (the dedup-persister)',
  changelog: 'Kafka committed offsets + window state in a changelog (the aggregator)',
};

const fmtSeconds = (s: number | null) => (s === null ? null : s.toFixed(1));

/** Runs one CLI invocation; returns the exit code. All output goes through `io`. */
export async function runCli(argv: string[], io: CliIo, ctx: () => OpsContext, defaults: { dlqTopic: string; rawTopic?: string }): Promise<number> {
  const [command, ...rest] = argv;
  const json = rest.includes('--json');
  if (!command || command === 'help' || command === '--help' || command === '-h' || rest.includes('--help') || rest.includes('-h')) {
    io.out(HELP);
    return command && !['help', '--help', '-h'].includes(command) && !rest.includes('--help') && !rest.includes('-h') ? EXIT.usage : EXIT.ok;
  }
  try {
    switch (command) {
      case 'reset-offsets': {
        const opts = parseResetArgs(rest);
        const r = await resetOffsets(ctx(), opts);
        if (json) io.out(JSON.stringify(r, null, 2));
        else {
          io.out(`group ${r.group} (state ${r.state}, ${r.members} member(s)), position in ${HOME_TEXT[r.home]}: reset to ${describeTarget(opts.target)}`);
          io.out(
            table(
              r.plan.map((p) => [p.topic, p.partition, p.current, p.target, p.delta === null ? null : p.delta > 0 ? `+${p.delta}` : p.delta, p.low, p.high, p.lagAfter, p.clamped ? 'clamped' : '']),
              ['TOPIC', 'PARTITION', 'CURRENT', 'TARGET', 'DELTA', 'LOG-START', 'END', 'LAG-AFTER', ''],
            ),
          );
          if (!r.refused) for (const w of r.warnings) io.out(`note: ${w}`);
        }
        if (r.refused) {
          io.err(opts.execute ? r.refused : `note: --execute would be refused: ${r.refused}`);
          if (!opts.execute && !json) io.out('plan only: nothing changed.');
          return opts.execute ? EXIT.refused : EXIT.ok;
        }
        if (!json) io.out(r.executed ? `committed new offsets for ${r.plan.length} partition(s) of group ${r.group}${r.home === 'postgres' ? ' (PostgreSQL table consumer_offsets, and Kafka)' : ''}` : 'plan only: nothing changed. Run again with --execute to apply it.');
        return EXIT.ok;
      }
      case 'describe-groups': {
        const names = commandArgs(rest, { json: { type: 'boolean' } }, true).positionals;
        const groups = await describeGroups(ctx(), names);
        const missing = names.filter((n) => !groups.some((g) => g.groupId === n));
        if (json) io.out(JSON.stringify(groups, null, 2));
        else {
          for (const g of groups) {
            io.out(`\ngroup ${g.groupId}: state ${g.state}, ${g.memberCount} member(s), lag ${g.totalLag ?? 'unknown'} messages, ${fmtSeconds(g.maxLagSeconds) ?? '-'} s`);
            io.out(
              table(
                g.partitions.map((p) => [p.topic, p.partition, p.committedOffset, p.highWatermark, p.lag, fmtSeconds(p.lagSeconds), p.owner ? `${p.owner.clientId}@${p.owner.host}` : null, p.note]),
                ['TOPIC', 'PARTITION', 'COMMITTED', 'END', 'LAG', 'LAG-SECONDS', 'OWNER', 'NOTE'],
              ),
            );
          }
        }
        if (missing.length) {
          io.err(`unknown group(s): ${missing.join(', ')}`);
          return EXIT.failed;
        }
        return EXIT.ok;
      }
      case 'describe-topics': {
        const names = commandArgs(rest, { json: { type: 'boolean' } }, true).positionals;
        const topics = await describeTopics(ctx(), names);
        const missing = names.filter((n) => !topics.some((t) => t.topic === n));
        if (json) io.out(JSON.stringify(topics, null, 2));
        else {
          for (const t of topics) {
            io.out(`\ntopic ${t.topic}: ${t.partitions.length} partition(s), ${t.partitions.reduce((s, p) => s + (p.high - p.low), 0)} retained offsets`);
            io.out(table(t.partitions.map((p) => [p.partition, p.leader, p.replicas.join(','), p.isr.join(','), p.low, p.high]), ['PARTITION', 'LEADER', 'REPLICAS', 'ISR', 'LOG-START', 'END']));
          }
        }
        if (missing.length) {
          io.err(`unknown topic(s): ${missing.join(', ')}`);
          return EXIT.failed;
        }
        return EXIT.ok;
      }
      case 'replay-dlq': {
        const opts = parseReplayArgs(rest, defaults.dlqTopic, defaults.rawTopic);
        const r = await replayDeadLetters(ctx(), opts);
        if (json) io.out(JSON.stringify(r, null, 2));
        else {
          io.out(table(r.matched.map((m) => [`${m.dlqPartition}/${m.dlqOffset}`, m.destination, m.key, m.app, m.errorCode, m.sourcePartition === undefined ? null : `${m.sourcePartition}/${m.sourceOffset ?? '-'}`]), ['DLQ', 'TO', 'KEY', 'APP', 'ERROR', 'SOURCE']));
          io.out(`${opts.dryRun ? 'would replay' : 'replayed'} ${opts.dryRun ? r.matched.length : r.replayed} of ${r.scanned} dead letter(s) scanned${r.skipped ? `; ${r.skipped} skipped (source is not a Kafka topic; use --to-topic)` : ''}${r.truncated ? `; ${r.truncated} not replayable (value truncated to fit the dead-letter topic)` : ''}${r.invalid.length ? `; ${r.invalid.length} still invalid (not replayed)` : ''}${r.alreadyReplayed ? `; ${r.alreadyReplayed} already replayed (not sent again; --force sends again)` : ''}`);
          for (const i of r.invalid) io.out(`still invalid: ${i.dlqPartition}/${i.dlqOffset} ${i.code}: ${i.reason}`);
        }
        return EXIT.ok;
      }
      default:
        io.err(`unknown command: ${command}\n`);
        io.err(HELP);
        return EXIT.usage;
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`error: ${err.message}\n`);
      io.err(HELP);
      return EXIT.usage;
    }
    const e = describeError(err);
    io.err(`failed (${e.code}): ${e.message}`);
    return EXIT.failed;
  }
}
