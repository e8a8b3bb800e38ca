import { randomBytes } from 'node:crypto';
import { type Server, type Socket, createConnection, createServer } from 'node:net';
import { waitFor } from '@wikimonitor/testing';
import { type TcpProxy, startTcpProxy } from './tcp-proxy';

/** An echo server on loopback. */
async function echoServer(): Promise<{ server: Server; port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
    s.pipe(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port, sockets };
}

interface Client {
  socket: Socket;
  received: () => Buffer;
  closed: () => boolean;
}

async function connect(port: number): Promise<Client> {
  const socket = createConnection({ host: '127.0.0.1', port });
  const chunks: Buffer[] = [];
  let closed = false;
  socket.on('data', (b: Buffer) => chunks.push(b));
  socket.on('error', () => undefined);
  socket.on('close', () => (closed = true));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, received: () => Buffer.concat(chunks), closed: () => closed };
}

describe('tcp-proxy', () => {
  let echo: Awaited<ReturnType<typeof echoServer>>;
  let proxy: TcpProxy;
  const clients: Client[] = [];

  beforeEach(async () => {
    echo = await echoServer();
    proxy = await startTcpProxy({ targetPort: echo.port });
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.socket.destroy();
    await proxy.close();
    for (const s of echo.sockets) s.destroy();
    await new Promise<void>((resolve) => echo.server.close(() => resolve()));
  });

  it('tcp-proxy should pass bytes through unchanged and in order', async () => {
    const c = await connect(proxy.port);
    clients.push(c);
    const payload = randomBytes(256 * 1024);
    for (let i = 0; i < payload.length; i += 1000) c.socket.write(payload.subarray(i, i + 1000));
    await waitFor(() => c.received().length >= payload.length, 'echo of the payload', 10_000, 20);
    expect(c.received().equals(payload)).toBe(true);
    expect(proxy.stats()).toMatchObject({ accepted: 1, active: 1, bytesUp: payload.length, bytesDown: payload.length });
  });

  it('tcp-proxy should keep order under latency, jitter and a bandwidth limit', async () => {
    let seed = 7;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    await proxy.close();
    proxy = await startTcpProxy({ targetPort: echo.port, random, faults: { latencyMs: 20, jitterMs: 30, bytesPerSecond: 2_000_000 } });
    const c = await connect(proxy.port);
    clients.push(c);
    const payload = Buffer.from(Array.from({ length: 2000 }, (_, i) => `${i};`).join(''));
    for (let i = 0; i < payload.length; i += 37) c.socket.write(payload.subarray(i, i + 37));
    await waitFor(() => c.received().length >= payload.length, 'echo of the payload', 10_000, 20);
    expect(c.received().toString()).toBe(payload.toString());
  });

  it('tcp-proxy should hold every byte while paused and deliver them when the pause is lifted', async () => {
    const c = await connect(proxy.port);
    clients.push(c);
    proxy.setFaults({ paused: true });
    c.socket.write('held');
    await new Promise((r) => setTimeout(r, 300));
    expect(c.received().length).toBe(0);
    proxy.setFaults({ paused: false });
    await waitFor(() => c.received().toString() === 'held', 'the held bytes', 5_000, 20);
    expect(c.closed()).toBe(false);
  });

  it('tcp-proxy should reset open connections on demand and refuse new ones when told to', async () => {
    const c = await connect(proxy.port);
    clients.push(c);
    expect(proxy.resetAll()).toBe(1);
    await waitFor(() => c.closed(), 'the client to see the reset', 5_000, 20);
    proxy.setFaults({ refuseConnections: true });
    const refused = createConnection({ host: '127.0.0.1', port: proxy.port });
    refused.on('error', () => undefined);
    let gotData = false;
    refused.on('data', () => (gotData = true));
    refused.write('hello');
    await new Promise<void>((resolve) => refused.once('close', () => resolve()));
    expect(gotData).toBe(false);
    expect(proxy.stats()).toMatchObject({ resets: 1, refused: 1, active: 0 });
  });

  it('tcp-proxy should reset connections at random when a reset rate is set', async () => {
    const c = await connect(proxy.port);
    clients.push(c);
    proxy.setFaults({ resetsPerSecond: 50 });
    await waitFor(() => c.closed(), 'a random reset', 10_000, 20);
    expect(proxy.stats().resets).toBeGreaterThanOrEqual(1);
  });
});
