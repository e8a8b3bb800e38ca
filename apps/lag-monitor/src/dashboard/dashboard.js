// lag-monitor dashboard: renders the snapshots the server pushes after every cycle (server-sent
// events), so it updates without a reload. Plain DOM; every name from the cluster is set as text.
'use strict';
(function () {
  var STATUSES = ['DATA_LOST', 'STOP', 'STUCK_TRANSACTION', 'STALL', 'REWIND', 'WARN', 'INACTIVE', 'UNKNOWN', 'OK'];
  var HISTORY = 90;
  var trends = new Map(); // group -> [totalLag...]
  var lastSnapshot = null;
  var lastReceived = 0;

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, attrs[k]);
    (children || []).forEach(function (c) { e.append(c instanceof Node ? c : document.createTextNode(String(c))); });
    return e;
  }

  function fmtInt(n) { return n === null || n === undefined ? '–' : Math.round(n).toLocaleString('en-US'); }
  // A lag that could not be measured is shown as unknown, never as 0 or a dash that reads as "none".
  function fmtLag(n) { return n === null || n === undefined ? 'unknown' : fmtInt(n); }
  function fmtTime(ms) { return new Date(ms).toLocaleTimeString('en-GB'); }
  function fmtRate(n) { return n === null || n === undefined ? '–' : n < 10 ? n.toFixed(1) : Math.round(n).toLocaleString('en-US'); }
  function fmtDuration(s) {
    if (s === null || s === undefined) return '–';
    if (s < 60) return s.toFixed(s < 10 ? 1 : 0) + ' s';
    var m = Math.floor(s / 60), h = Math.floor(m / 60), d = Math.floor(h / 24), y = Math.floor(d / 365);
    if (y >= 1) return y + 'y ' + (d % 365) + 'd';
    if (d >= 1) return d + 'd ' + (h % 24) + 'h';
    if (h >= 1) return h + 'h ' + String(m % 60).padStart(2, '0') + 'm';
    return m + 'm ' + String(Math.floor(s % 60)).padStart(2, '0') + 's';
  }
  function badge(status) { return el('span', { class: 'badge status-' + status, 'data-role': 'status' }, [status]); }

  function spark(values) {
    var svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('class', 'spark');
    svg.setAttribute('viewBox', '0 0 160 28');
    svg.setAttribute('preserveAspectRatio', 'none');
    if (values.length > 1) {
      var max = Math.max.apply(null, values.concat([1]));
      var pts = values.map(function (v, i) { return ((i / (values.length - 1)) * 158 + 1).toFixed(1) + ',' + (27 - (v / max) * 25).toFixed(1); });
      var line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
      line.setAttribute('points', pts.join(' '));
      svg.append(line);
    }
    return svg;
  }

  function remember(groups) {
    groups.forEach(function (g) {
      var t = trends.get(g.groupId) || [];
      if (g.totalLag === null) return; // unknown: no point rather than a fake 0
      t.push(g.totalLag);
      if (t.length > HISTORY) t.shift();
      trends.set(g.groupId, t);
    });
  }

  function renderSummary(s) {
    var box = document.getElementById('summary');
    box.replaceChildren();
    STATUSES.forEach(function (st) {
      var n = s.groups.filter(function (g) { return g.status === st; }).length;
      box.append(el('span', { class: 'pill status-' + st + (n ? '' : ' zero'), 'data-status': st, 'data-count': n }, [n + ' ' + st]));
    });
  }

  function renderGroups(s) {
    var body = document.querySelector('#groups tbody');
    body.replaceChildren();
    document.getElementById('no-groups').hidden = s.groups.length > 0;
    s.groups.forEach(function (g) {
      var name = el('td', { class: 'name big' }, [g.groupId]);
      if (g.gone) name.append(el('span', { class: 'gone' }, ['no longer listed by the broker']));
      else if (g.memberless) name.append(el('span', { class: 'gone', 'data-role': 'memberless' }, ['no active members']));
      if (g.offsetsUnavailableSince) name.append(el('span', { class: 'gone', 'data-role': 'offsets-unavailable' }, ['offsets not fetched since ' + fmtTime(g.offsetsUnavailableSince)]));
      if (g.messagesLost) name.append(el('span', { class: 'gone', 'data-role': 'messages-lost' }, [fmtInt(g.messagesLost) + ' messages deleted unread']));
      if (g.stuckPartitions && g.stuckPartitions.length) name.append(el('span', { class: 'gone', 'data-role': 'stuck' }, ['transaction stuck on ' + g.stuckPartitions.join(', ')]));
      var bad = g.status !== 'OK';
      body.append(
        el('tr', { class: 'group' + (bad ? ' bad' : ''), 'data-group': g.groupId, 'data-status': g.status, title: 'status since ' + new Date(g.statusSince).toLocaleTimeString() }, [
          el('td', null, [badge(g.status)]),
          name,
          el('td', null, [g.state + ' · ' + g.memberCount + ' member' + (g.memberCount === 1 ? '' : 's')]),
          el('td', { class: 'num big', 'data-role': 'lag', title: g.unknownLagPartitions ? g.unknownLagPartitions + ' partition(s) not measurable' : null }, [fmtLag(g.totalLag)]),
          el('td', { class: 'num big', 'data-role': 'lag-seconds', 'data-value': g.maxLagSeconds === null ? '' : g.maxLagSeconds }, [fmtDuration(g.maxLagSeconds)]),
          el('td', { class: 'num', 'data-role': 'rate' }, [fmtRate(g.consumeRate)]),
          el('td', null, [spark(trends.get(g.groupId) || [])]),
        ]),
      );
      (g.byTopic || []).forEach(function (t) {
        body.append(
          el('tr', { class: 'topic', 'data-group': g.groupId, 'data-topic': t.topic, 'data-status': t.status }, [
            el('td', null, [badge(t.status)]),
            el('td', { class: 'name' }, [t.topic + ' (' + t.partitions + ' partition' + (t.partitions === 1 ? '' : 's') + ')']),
            el('td', null, ['']),
            el('td', { class: 'num' }, [fmtLag(t.lag)]),
            el('td', { class: 'num' }, [fmtDuration(t.maxLagSeconds)]),
            el('td', { class: 'num' }, [fmtRate(t.consumeRate)]),
            el('td', null, ['']),
          ]),
        );
      });
    });
  }

  function renderTopics(s) {
    var body = document.querySelector('#topics tbody');
    body.replaceChildren();
    s.topics.forEach(function (t) {
      var max = Math.max.apply(null, t.partitions.map(function (p) { return p.rate; }).concat([0.0001]));
      var bars = el('div', { class: 'bars', title: 'messages/s per partition' });
      t.partitions.forEach(function (p) {
        var b = el('span', { title: 'partition ' + p.partition + ': ' + fmtRate(p.rate) + '/s', class: p.partition === t.balance.hottestPartition && t.balance.skew > 1.5 ? 'hot' : '' });
        b.style.height = Math.max(1, (p.rate / max) * 28) + 'px';
        bars.append(b);
      });
      body.append(
        el('tr', { 'data-topic': t.topic }, [
          el('td', null, [t.topic]),
          el('td', { class: 'num' }, [fmtRate(t.produceRate)]),
          el('td', { class: 'num' }, [t.balance.skew ? t.balance.skew.toFixed(2) : '–']),
          el('td', null, [bars]),
        ]),
      );
    });
  }

  function renderStreams(s) {
    var body = document.querySelector('#streams tbody');
    body.replaceChildren();
    (s.streams || []).forEach(function (st) {
      body.append(
        el('tr', { class: 'stream', 'data-stream': st.name, 'data-status': st.status, title: 'topics ' + (st.topics.join(', ') || 'none yet') + ' · groups ' + (st.groups.join(', ') || 'none') }, [
          el('td', null, [badge(st.status)]),
          el('td', { class: 'name big' }, [st.name + ' (' + st.prefix + '*)']),
          el('td', { class: 'num big', 'data-role': 'records', 'data-value': st.records }, [fmtInt(st.records)]),
          el('td', { class: 'num', 'data-role': 'rate' }, [fmtRate(st.produceRate)]),
          el('td', { class: 'num', 'data-role': 'groups', 'data-value': st.groups.length }, [fmtInt(st.groups.length)]),
          el('td', { class: 'num big', 'data-role': 'lag', 'data-value': st.lag === null ? '' : st.lag }, [fmtLag(st.lag)]),
          el('td', { class: 'num', 'data-role': 'lag-seconds' }, [fmtDuration(st.maxLagSeconds)]),
        ]),
      );
    });
  }

  function renderProbe(p) {
    var box = document.getElementById('probe');
    box.replaceChildren();
    if (!p) { box.append('disabled'); return; }
    [['round trip p50', p.p50Ms === null ? '–' : p.p50Ms + ' ms'], ['p99', p.p99Ms === null ? '–' : p.p99Ms + ' ms'], ['sent', fmtInt(p.sent)], ['received', fmtInt(p.received)], ['lost', fmtInt(p.lost)]].forEach(function (kv) {
      box.append(el('div', { 'data-probe': kv[0] }, [el('b', null, [kv[1]]), kv[0]]));
    });
  }

  function renderMeta() {
    var meta = document.getElementById('meta');
    var staleBox = document.getElementById('stale');
    if (!lastSnapshot) return;
    var age = (Date.now() - lastReceived) / 1000;
    var health = lastSnapshot.health || { stale: false };
    meta.textContent = 'updated ' + fmtDuration(age) + ' ago · cycle ' + lastSnapshot.cycle + ' took ' + Math.round(lastSnapshot.cycleMs) + ' ms · window ' + lastSnapshot.window.cycles + ' cycles (' + fmtDuration(lastSnapshot.window.ms / 1000) + ') · commit times ' + lastSnapshot.commitTimes;
    // Stale: the server says its cycles fail (or hang), or no snapshot arrived for a while (the server is gone).
    var quiet = age * 1000 > Math.max(3 * lastSnapshot.window.ms / lastSnapshot.window.cycles, 10000);
    var stale = health.stale || quiet;
    meta.classList.toggle('stale', stale);
    staleBox.hidden = !stale;
    document.body.setAttribute('data-stale', stale ? 'true' : 'false');
    if (stale) {
      var since = health.stale && health.staleSince ? health.staleSince : lastReceived;
      staleBox.textContent = 'stale since ' + fmtTime(since) + (health.lastSuccessAt ? ' · data from ' + fmtTime(health.lastSuccessAt) : '') + (health.consecutiveFailures ? ' · ' + health.consecutiveFailures + ' failed cycle' + (health.consecutiveFailures === 1 ? '' : 's') : '') + (health.lastError ? ': ' + health.lastError : '');
    }
  }

  // Every instance serves the same figures; one of them, the leader, publishes the alerts.
  function renderRole(l) {
    var box = document.getElementById('role');
    if (!l || l.role === 'off') { box.hidden = true; return; }
    box.hidden = false;
    box.setAttribute('data-state', l.role);
    box.textContent = l.role === 'leader' ? 'leader · publishes alerts' : 'standby · another instance publishes alerts';
    box.title = (l.role === 'leader' ? 'leader' : 'standby') + ' since ' + fmtTime(l.since);
  }

  function render(s) {
    // A failed cycle re-sends the last report (same cycle) marked stale: its data is no newer.
    var fresh = !lastSnapshot || s.cycle !== lastSnapshot.cycle;
    lastSnapshot = s;
    if (fresh) {
      lastReceived = Date.now();
      remember(s.groups);
    }
    renderSummary(s);
    renderStreams(s);
    renderGroups(s);
    renderTopics(s);
    renderProbe(s.probe);
    renderRole(s.leadership);
    renderMeta();
    document.body.setAttribute('data-cycle', String(s.cycle));
  }

  function connect() {
    var conn = document.getElementById('connection');
    var es = new EventSource('api/events');
    es.addEventListener('open', function () { conn.dataset.state = 'live'; conn.textContent = 'live'; });
    es.addEventListener('error', function () { conn.dataset.state = 'reconnecting'; conn.textContent = 'reconnecting…'; });
    es.addEventListener('snapshot', function (ev) { render(JSON.parse(ev.data)); });
  }

  setInterval(renderMeta, 1000);
  connect();
})();
