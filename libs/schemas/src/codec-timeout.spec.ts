import { type AddressInfo, type Socket, createServer } from 'node:net';
import { WikiChangeSchema } from '@wikimonitor/contracts';
import { WikiMonitorError } from '@wikimonitor/service-kit';
import { createAvroCodec, createRegistryClient } from './codec';

describe('registry requests that never get an answer', () => {
  it('decode should fail with a retriable registry error within the request timeout instead of hanging its batch', async () => {
    // A network fault, not a registry: the connection is accepted and then nothing is ever written.
    const sockets: Socket[] = [];
    const server = createServer((s) => void sockets.push(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const codec = createAvroCodec({ client: createRegistryClient({ url, timeoutMs: 200 }), topic: 't', schema: WikiChangeSchema });
      const wire = Buffer.from([0, 0, 0, 0, 7, 1, 2, 3]);
      const started = Date.now();
      const err = await codec.decode(wire).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WikiMonitorError);
      expect(err).toMatchObject({ code: 'SCHEMA_REGISTRY_FAILED', retriable: true });
      // Three attempts (two retries) of 200 ms plus their waits: far below a hang.
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(sockets.length).toBeGreaterThanOrEqual(1);
    } finally {
      sockets.forEach((s) => s.destroy());
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
