import { loadConfig } from './config';

describe('enricher config', () => {
  it('loadConfig should default to Wikimedia, human-content in, enriched and its error topic out, and a descriptive User-Agent', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ INPUT_TOPIC: 'wiki.changes.human-content', OUTPUT_TOPIC: 'wiki.changes.enriched', ERROR_TOPIC: 'wiki.changes.enriched.error', API_URL: 'https://{domain}/w/api.php', API_MAX_REVIDS: 50, API_MAXLAG_S: 5 });
    expect(c.USER_AGENT).toMatch(/^WikiMonitor-enricher\/\S+ \(.+\)/);
  });

  it('loadConfig should refuse an API URL without {domain}, more than 50 revids a call and fewer than 2 attempts, all at once', () => {
    let problems: string[] = [];
    try {
      loadConfig({ API_URL: 'https://en.wikipedia.org/w/api.php', API_MAX_REVIDS: '51', RETRY_MAX_ATTEMPTS: '1' });
    } catch (err) {
      problems = (err as { details?: { problems?: string[] } }).details?.problems ?? [];
    }
    expect(problems.map((p) => p.split(':')[0])).toEqual(expect.arrayContaining(['API_URL', 'API_MAX_REVIDS', 'RETRY_MAX_ATTEMPTS']));
  });
});
