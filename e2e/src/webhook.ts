import { createServer } from 'node:http';
import type { WikiAlert } from '@wikimonitor/contracts';

export interface WebhookReceiver {
  url: string;
  /** Alerts received so far, with their receipt time. */
  received(): Array<{ at: number; alert: WikiAlert }>;
  close(): Promise<void>;
}

/** A loopback HTTP endpoint for lag-monitor's ALERT_WEBHOOK_URL that records every alert posted to it. */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const got: Array<{ at: number; alert: WikiAlert }> = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (b: Buffer) => (body += b.toString('utf8')));
    req.on('end', () => {
      try {
        got.push({ at: Date.now(), alert: JSON.parse(body) as WikiAlert });
        res.writeHead(204).end();
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/alerts`,
    received: () => [...got],
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
