// The analytics page: plain browser JavaScript bundled with uPlot by build-extras.mjs (no CDN).
import uPlot from 'uplot';

// Okabe-Ito: distinguishable with the common colour-vision deficiencies.
const COLORS = ['#0072b2', '#e69f00', '#009e73', '#cc79a7', '#56b4e9', '#d55e00', '#f0e442', '#000000'];
const NAMESPACES = { 0: 'article', 1: 'talk', 2: 'user', 3: 'user talk', 4: 'project', 6: 'file', 8: 'MediaWiki', 10: 'template', 12: 'help', 14: 'category', 120: 'property', 146: 'lexeme' };

const $ = (id) => document.getElementById(id);
const int = new Intl.NumberFormat('en');
const compact = new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 1 });
const dec = new Intl.NumberFormat('en', { maximumFractionDigits: 1 });
const fmtNum = (n) => (Math.abs(n) >= 100_000 ? compact.format(n) : int.format(n));
function fmtBytes(n) {
  const a = Math.abs(n);
  const s = a >= 1e9 ? `${dec.format(a / 1e9)} GB` : a >= 1e6 ? `${dec.format(a / 1e6)} MB` : a >= 1e3 ? `${dec.format(a / 1e3)} kB` : `${int.format(a)} B`;
  return n < 0 ? `−${s}` : s;
}
const fmtTime = (iso) => new Date(iso).toLocaleString('en-GB', { hour12: false });
const el = (tag, props = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
};

const state = { range: '1h', wiki: '', alerts: [], seriesPlot: null, botsPlot: null, feedFilter: {}, feedIds: new Set(), refreshTimer: null, blueskyTimer: undefined, updates: 0 };

function readHash() {
  const h = new URLSearchParams(location.hash.slice(1));
  if (h.get('range')) state.range = h.get('range');
  state.wiki = h.get('wiki') ?? '';
}
function writeHash() {
  const h = new URLSearchParams({ range: state.range });
  if (state.wiki) h.set('wiki', state.wiki);
  history.replaceState(null, '', `#${h}`);
}

async function api(path, params) {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== '' && v !== undefined && v !== null));
  const res = await fetch(`${path}?${q}`);
  const body = await res.json();
  if (!res.ok) throw new Error(body.message ?? res.statusText);
  return body;
}

function bars(id, items, label, value, fmt = fmtNum, link) {
  const ol = $(id);
  ol.replaceChildren();
  const max = Math.max(1, ...items.map(value));
  for (const it of items) {
    const name = label(it);
    const lab = link ? el('a', { href: link(it), class: 'label', title: name }, name) : el('span', { class: 'label', title: name }, name);
    ol.append(el('li', { dataset: { key: name, value: String(value(it)) } }, lab, el('span', { class: 'bar', style: `width:${(100 * value(it)) / max}%`, 'aria-hidden': 'true' }), el('span', { class: 'value' }, fmt(value(it)))));
  }
  if (!items.length) ol.append(el('li', {}, el('span', { class: 'label' }, 'nothing in this range')));
}

function plot(container, existing, opts, data) {
  if (existing) {
    existing.destroy();
  }
  const width = Math.max(300, container.clientWidth - 10);
  return new uPlot({ width, height: container.classList.contains('small') ? 180 : 280, ...opts }, data, container);
}

/** Alert markers: a dashed vertical line at each spike's window (uPlot draw hook). */
function alertMarkers(u) {
  const ctx = u.ctx;
  ctx.save();
  ctx.strokeStyle = '#d55e00';
  ctx.lineWidth = 2 * devicePixelRatio;
  ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
  for (const a of state.alerts) {
    if (!a.window_start) continue;
    const x = u.valToPos(Date.parse(a.window_start) / 1000, 'x', true);
    if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
    ctx.beginPath();
    ctx.moveTo(x, u.bbox.top);
    ctx.lineTo(x, u.bbox.top + u.bbox.height);
    ctx.stroke();
  }
  ctx.restore();
}

async function loadSeries() {
  const s = await api('/api/analytics/series', { range: state.range, wiki: state.wiki });
  const perMin = s.step_ms / 60_000;
  const xs = s.times.map((t) => t / 1000);
  const rate = (arr) => arr.map((v) => v / perMin);
  const series = [{}, { label: state.wiki || 'all wikis', stroke: COLORS[0], width: 2, value: (_u, v) => (v == null ? '–' : dec.format(v)) }];
  const data = [xs, rate(s.series.total)];
  s.wikis.forEach((w, i) => {
    series.push({ label: w.wiki, stroke: COLORS[(i + 1) % COLORS.length], width: 1.5, value: (_u, v) => (v == null ? '–' : dec.format(v)) });
    data.push(rate(w.total));
  });
  const axes = [{}, { label: 'edits / min', values: (_u, vals) => vals.map((v) => compact.format(v)) }];
  state.seriesPlot = plot($('series-chart'), state.seriesPlot, { series, axes, hooks: { draw: [alertMarkers] } }, data);
  state.botsPlot = plot(
    $('bots-chart'),
    state.botsPlot,
    { series: [{}, { label: 'human', stroke: COLORS[2], width: 2 }, { label: 'bot', stroke: COLORS[1], width: 2 }], axes },
    [xs, rate(s.series.human), rate(s.series.bot)],
  );
  const total = s.series.total.reduce((a, b) => a + b, 0);
  const chart = $('series-chart');
  chart.dataset.points = String(xs.length);
  chart.dataset.total = String(total);
  chart.dataset.step = s.step;
  $('series-meta').textContent = `${s.step} steps · ${fmtTime(s.from)} – ${fmtTime(s.to)}${s.covered_until ? ` · windows until ${fmtTime(s.covered_until)}` : ''}`;
  const list = $('wiki-list');
  list.replaceChildren(...s.wikis.map((w) => el('option', { value: w.wiki })));
}

async function loadBreakdown() {
  const b = await api('/api/analytics/breakdown', { range: state.range, wiki: state.wiki, top: 10 });
  $('totals').replaceChildren(
    el('dt', {}, 'changes (windows)'), el('dd', { id: 'total-changes', dataset: { value: String(b.total) } }, fmtNum(b.total)),
    el('dt', {}, 'bytes added'), el('dd', { class: 'pos' }, fmtBytes(b.bytes_added)),
    el('dt', {}, 'bytes removed'), el('dd', { class: 'neg' }, fmtBytes(-b.bytes_removed)),
    el('dt', {}, 'windows'), el('dd', {}, fmtNum(b.windows)),
  );
  $('totals-meta').textContent = state.wiki || 'all wikis';
  bars('by-type', Object.entries(b.by_type).filter(([, v]) => v > 0), ([k]) => k, ([, v]) => v);
  bars('bot-human', [['human', b.human], ['bot', b.bot]], ([k]) => k, ([, v]) => v);
  bars('by-namespace', b.by_namespace, (n) => `${n.namespace} ${NAMESPACES[n.namespace] ?? ''}`.trim(), (n) => n.count);
  bars('top-wikis', b.top_wikis, (w) => w.wiki, (w) => w.count, fmtNum, (w) => `#range=${state.range}&wiki=${encodeURIComponent(w.wiki)}`);
  bars('new-pages', b.new_pages_by_domain, (d) => d.domain, (d) => d.count);
  bars('top-pages', b.top_pages, (p) => (p.wiki ? `${p.wiki}: ${p.title}` : p.title), (p) => p.count);
  bars('top-editors', b.top_editors, (p) => (p.wiki ? `${p.wiki}: ${p.user}` : p.user), (p) => p.count);
}

function alertItem(a) {
  const li = el('li', { class: 'alert', dataset: { id: a.id, wiki: a.subject } });
  li.append(el('strong', {}, `${a.severity} ${a.kind} · ${a.subject}`), ' ', a.window_start ? fmtTime(a.window_start) : fmtTime(a.created_at), ' · ');
  if (a.observed != null) li.append(`${fmtNum(a.observed)} changes (expected ${dec.format(a.expected ?? 0)}) · `);
  if (a.window_start && a.window_end) {
    li.append(el('a', { class: 'alert-link', href: `#range=${state.range}&drill=${encodeURIComponent(a.subject)}|${a.window_start}|${a.window_end}` }, 'window and its changes'));
  }
  return li;
}

async function loadSuspicious() {
  const s = await api('/api/analytics/suspicious', { range: state.range, wiki: state.wiki });
  state.alerts = s.alerts.filter((a) => a.kind === 'spike');
  $('alerts').replaceChildren(...(state.alerts.length ? state.alerts.map(alertItem) : [el('li', {}, 'no spike alerts in this range')]));
  $('rules').textContent = `Revert burst: ${s.rules.revert_burst}. Large removal: ${s.rules.large_removal}. ${s.rules.note}`;
  $('suspicious').replaceChildren(
    ...(s.findings.length
      ? s.findings.map((f) =>
          el(
            'li',
            { class: 'finding', dataset: { kind: f.kind } },
            el('strong', {}, `${f.kind.replace('_', ' ')} · ${f.wiki} · ${f.user}`),
            ` ${fmtTime(f.from)} · ${f.reason} · `,
            ...f.changes.slice(0, 5).flatMap((c) => (c.diff_url ? [el('a', { href: c.diff_url, target: '_blank', rel: 'noopener' }, c.title), ' '] : [])),
          ),
        )
      : [el('li', {}, 'nothing flagged in this range')]),
  );
  state.seriesPlot?.redraw(false);
}

function changeRow(c) {
  const delta = c.length_new != null || c.length_old != null ? (c.length_new ?? 0) - (c.length_old ?? 0) : null;
  return el(
    'tr',
    { class: 'change', dataset: { id: c.id, wiki: c.wiki, type: c.type, bot: String(c.bot), namespace: String(c.namespace) } },
    el('td', {}, fmtTime(c.event_time)),
    el('td', {}, c.wiki),
    el('td', {}, c.type),
    el('td', {}, c.title),
    el('td', {}, `${c.user}${c.bot ? ' (bot)' : ''}`),
    el('td', { class: `num ${delta > 0 ? 'pos' : delta < 0 ? 'neg' : ''}` }, delta === null ? '' : fmtBytes(delta)),
    el('td', {}, c.diff_url ? el('a', { href: c.diff_url, target: '_blank', rel: 'noopener', class: 'diff' }, 'diff') : ''),
  );
}

const matches = (c, f) => (!f.wiki || c.wiki === f.wiki) && (!f.type || c.type === f.type) && (!f.bot || String(c.bot) === f.bot) && (f.namespace === undefined || f.namespace === '' || String(c.namespace) === f.namespace);

async function loadFeed() {
  const f = state.feedFilter;
  const page = await api('/api/changes', { wiki: f.wiki, type: f.type, bot: f.bot, namespace: f.namespace, limit: 50 });
  state.feedIds = new Set(page.items.map((c) => c.id));
  $('feed').replaceChildren(...page.items.map((c) => changeRow(c)));
  $('feed').dataset.filter = JSON.stringify(f);
}

async function openDrill(wiki, from, to) {
  const [agg, changes] = await Promise.all([api('/api/aggregates', { wiki, from, to, bucket: '1m', top: 5 }), api('/api/changes', { wiki, from, to, limit: 200 })]);
  const d = $('drill');
  d.hidden = false;
  d.dataset.wiki = wiki;
  $('drill-title').textContent = `${wiki} · ${fmtTime(from)} – ${fmtTime(to)}`;
  const b = agg.buckets.filter((x) => x.total > 0);
  const total = b.reduce((a, x) => a + x.total, 0);
  $('drill-window').textContent = `${fmtNum(total)} changes in the window; top pages: ${b.flatMap((x) => x.top_pages).slice(0, 5).map((p) => `${p.title} (${p.count})`).join(', ') || '–'}`;
  $('drill-changes').replaceChildren(...changes.items.map((c) => changeRow(c)));
  d.dataset.changes = String(changes.items.length);
  d.scrollIntoView();
}

/** The Bluesky panel: events stored in bsky_events over the range (all of Bluesky; the wiki filter does not apply). */
async function loadBluesky() {
  const b = await api('/api/analytics/bluesky', { range: state.range, top: 12 });
  $('bsky-totals').replaceChildren(
    el('dt', {}, 'events'), el('dd', { id: 'bsky-total', dataset: { value: String(b.total) } }, fmtNum(b.total)),
    el('dt', {}, 'accounts'), el('dd', { id: 'bsky-accounts', dataset: { value: String(b.distinct_accounts) } }, fmtNum(b.distinct_accounts)),
    el('dt', {}, 'identity / account'), el('dd', {}, `${fmtNum(b.by_kind.identity ?? 0)} / ${fmtNum(b.by_kind.account ?? 0)}`),
  );
  $('bsky-meta').textContent = b.total ? '' : 'no events in this range';
  bars('bsky-subjects', b.by_subject, (x) => x.subject, (x) => x.count);
  bars('bsky-operations', Object.entries(b.by_operation).filter(([, v]) => v > 0), ([k]) => k, ([, v]) => v);
}

async function refresh() {
  writeHash();
  for (const b of document.querySelectorAll('#ranges button')) b.setAttribute('aria-pressed', String(b.dataset.range === state.range));
  $('wiki').value = state.wiki;
  await Promise.all([loadSuspicious(), loadBreakdown(), loadBluesky()]);
  await loadSeries();
  document.body.dataset.range = state.range;
  document.body.dataset.wiki = state.wiki;
  document.body.dataset.loaded = String(Date.now());
}

function scheduleRefresh() {
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(() => refresh().then(() => (document.body.dataset.updates = String(++state.updates))).catch(showError), 500);
}

function showError(err) {
  $('connection').textContent = `error: ${err.message}`;
  $('connection').dataset.state = 'down';
}

function connect() {
  const es = new EventSource('/api/analytics/events');
  es.onopen = () => {
    $('connection').textContent = 'live';
    $('connection').dataset.state = 'live';
  };
  es.onerror = () => {
    $('connection').textContent = 'reconnecting';
    $('connection').dataset.state = 'down';
  };
  es.addEventListener('window', (e) => {
    const w = JSON.parse(e.data);
    document.body.dataset.lastWindow = `${w.wiki}|${w.window_start}`;
    if (!state.wiki || state.wiki === w.wiki) scheduleRefresh();
  });
  es.addEventListener('alert', () => scheduleRefresh());
  // Bluesky events stored: only the Bluesky panel is refreshed (at most once a second).
  es.addEventListener('bluesky', () => {
    if (state.blueskyTimer) return;
    state.blueskyTimer = setTimeout(() => {
      state.blueskyTimer = undefined;
      loadBluesky().catch(showError);
    }, 1000);
  });
  es.addEventListener('changes', (e) => {
    const fresh = JSON.parse(e.data).filter((c) => !state.feedIds.has(c.id) && matches(c, state.feedFilter));
    const body = $('feed');
    for (const c of fresh) {
      state.feedIds.add(c.id);
      body.prepend(changeRow(c));
    }
    while (body.children.length > 200) body.lastChild.remove();
    if (fresh.length) body.dataset.live = String(Number(body.dataset.live ?? 0) + fresh.length);
  });
}

function route() {
  const h = new URLSearchParams(location.hash.slice(1));
  const drill = h.get('drill');
  if (drill) {
    const [wiki, from, to] = drill.split('|');
    openDrill(wiki, from, to).catch(showError);
  }
}

readHash();
document.getElementById('ranges').addEventListener('click', (e) => {
  const r = e.target.closest('button')?.dataset.range;
  if (!r) return;
  state.range = r;
  refresh().catch(showError);
});
$('wiki').addEventListener('change', () => {
  state.wiki = $('wiki').value.trim();
  refresh().catch(showError);
});
$('drill-close').addEventListener('click', () => ($('drill').hidden = true));
$('feed-filters').addEventListener('submit', (e) => {
  e.preventDefault();
  const f = Object.fromEntries(new FormData(e.target));
  state.feedFilter = Object.fromEntries(Object.entries(f).filter(([, v]) => v !== ''));
  loadFeed().catch(showError);
});
window.addEventListener('hashchange', () => {
  const before = `${state.range}|${state.wiki}`;
  readHash();
  if (`${state.range}|${state.wiki}` !== before) refresh().catch(showError);
  route();
});
window.addEventListener('resize', () => scheduleRefresh());
refresh().then(route).catch(showError);
loadFeed().catch(showError);
connect();
