import { diffUrl } from './links';

describe('diffUrl', () => {
  it.each([
    ['an edit: the diff', { type: 'edit', domain: 'en.wikipedia.org', title: 'A', revision_old: 1, revision_new: 2 }, 'https://en.wikipedia.org/w/index.php?diff=2&oldid=1'],
    ['server_name wins over domain', { type: 'edit', domain: 'x.org', server_name: 'www.wikidata.org', title: 'Q1', revision_old: 1, revision_new: 2 }, 'https://www.wikidata.org/w/index.php?diff=2&oldid=1'],
    ['a new page: its first revision', { type: 'new', domain: 'de.wikipedia.org', title: 'B', revision_new: 7 }, 'https://de.wikipedia.org/w/index.php?oldid=7'],
    ['a log event: the log entry', { type: 'log', domain: 'commons.wikimedia.org', title: 'F', log_id: 99 }, 'https://commons.wikimedia.org/w/index.php?title=Special:Log&logid=99'],
    ['categorize: the page', { type: 'categorize', domain: 'en.wikipedia.org', title: 'Category:Living people' }, 'https://en.wikipedia.org/w/index.php?title=Category%3ALiving_people'],
    ['a host that is no host name: no link', { type: 'edit', domain: 'evil.org/x?', title: 'A', revision_new: 2 }, null],
  ])('diffUrl should link %s', (_n, c, expected) => expect(diffUrl(c)).toBe(expected));
});
