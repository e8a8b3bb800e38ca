import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { patchCommonCc } from './patch-kafka-addon.mjs';

const UNPATCHED = `v8::Local<v8::Object> FromConsumerGroupDescription(
    const rd_kafka_ConsumerGroupDescription_t* desc) {
  Nan::Set(returnObject, Nan::New("protocol").ToLocalChecked(),
           Nan::New<v8::String>(
               rd_kafka_ConsumerGroupDescription_partition_assignor(desc))
               .ToLocalChecked());
  Nan::Set(returnObject, Nan::New("partitionAssignor").ToLocalChecked(),
           Nan::New<v8::String>(
               rd_kafka_ConsumerGroupDescription_partition_assignor(desc))
               .ToLocalChecked());
}`;

test('every partition_assignor string goes through the NULL-safe helper, declared before its use', () => {
  const out = /** @type {string} */ (patchCommonCc(UNPATCHED));
  assert.equal(out.split('WmNonNullString(rd_kafka_ConsumerGroupDescription_partition_assignor(desc))').length - 1, 2);
  assert.equal(out.split('rd_kafka_ConsumerGroupDescription_partition_assignor(desc)').length - 1, 2);
  assert.ok(out.indexOf('static inline const char* WmNonNullString') < out.indexOf('FromConsumerGroupDescription('));
});

test('a patched source is left alone', () => {
  assert.equal(patchCommonCc(/** @type {string} */ (patchCommonCc(UNPATCHED))), null);
});

test('another version of the code is refused with a reason, not patched blindly', () => {
  assert.throws(() => patchCommonCc('int main() {}'), /another version of the addon/);
});

test('the installed addon source is patched (scripts/bootstrap.sh ran the patch)', () => {
  const require = createRequire(join(process.cwd(), 'package.json'));
  const dir = dirname(require.resolve('@confluentinc/kafka-javascript/package.json'));
  assert.equal(patchCommonCc(readFileSync(join(dir, 'src', 'common.cc'), 'utf8')), null);
});
