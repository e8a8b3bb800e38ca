// The smallest reproduction of the describeGroups crash in @confluentinc/kafka-javascript's native addon
// (see tools/build/patch-kafka-addon.mjs): describe one group through an admin client whose broker
// cannot be reached. Unpatched, the process dies with SIGSEGV (exit 139 in a shell); patched, the
// group comes back with its error and this prints it and exits 0.
//   node tools/build/describe-groups-repro.cjs [bootstrap] [groupId]   (default 127.0.0.1:1, "wm-repro")
// lag-monitor runs it as a child process at start to learn whether describeGroups is safe to call.
'use strict';
const { KafkaJS } = require('@confluentinc/kafka-javascript');

const bootstrap = process.argv[2] || '127.0.0.1:1';
const groupId = process.argv[3] ?? 'wm-repro';

(async () => {
  const admin = new KafkaJS.Kafka({}).admin({ 'bootstrap.servers': bootstrap, log_level: 0 });
  await admin.connect();
  try {
    const res = await admin.describeGroups([groupId], { timeout: 1500 });
    const g = res.groups[0];
    console.log(JSON.stringify({ ok: true, groupId: g?.groupId, error: g?.error?.message ?? null }));
  } catch (err) {
    console.log(JSON.stringify({ ok: true, threw: String(err?.message ?? err) }));
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
})();
