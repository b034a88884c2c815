// The fleet page: polls GET /fleet/summary every few seconds and shows it. Tables are paged over
// a fixed pool of rows that are updated in place, so a refresh with thousands of instances or
// salts costs a filter and a sort in JS and at most one page of cell updates in the DOM.
'use strict';

(function () {
  const REFRESH_MS = 3000;
  const PAGE_SIZE = 50;
  const TOKEN_KEY = 'lmcache-coordinator.token';  // sessionStorage only: gone with the tab
  const LAPSED_KEEP_MS = 10 * 60 * 1000;
  const LAPSED_MAX = 20;

  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const setText = (node, text) => { if (node.textContent !== text) node.textContent = text; };

  const intFormat = new Intl.NumberFormat('en-US');
  const fmtInt = (n) => intFormat.format(n);
  function fmtBytes(bytes) {
    if (bytes === null || bytes === undefined) return '–';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
    let value = bytes;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
    return (unit === 0 ? String(value) : value.toFixed(value < 10 ? 2 : 1)) + ' ' + units[unit];
  }
  const fmtRate = (perSecond) => (perSecond === null ? '–' : (perSecond < 10 ? perSecond.toFixed(1) : fmtInt(Math.round(perSecond)))) + ' /s';
  const saltName = (salt) => (salt === '' ? '(empty salt)' : salt);

  // A table showing one page of `items` at a time through a fixed pool of PAGE_SIZE rows.
  // columns: [{cls, make(td) (optional, builds the cell once), show(td, item)}].
  class PagedTable {
    constructor({ table, pager, filter, count, columns, matches, emptyText }) {
      this.columns = columns;
      this.matches = matches;
      this.count = count;
      this.items = [];
      this.shown = [];
      this.page = 0;
      this.needle = '';
      const body = table.tBodies[0];
      this.empty = el('tr');
      const emptyCell = el('td', 'empty', emptyText);
      emptyCell.colSpan = columns.length;
      this.empty.appendChild(emptyCell);
      body.appendChild(this.empty);
      this.rows = [];
      for (let i = 0; i < PAGE_SIZE; i++) {
        const tr = el('tr');
        tr.hidden = true;
        const cells = columns.map((column) => {
          const td = el('td', column.cls || '');
          if (column.make) column.make(td);
          tr.appendChild(td);
          return td;
        });
        body.appendChild(tr);
        this.rows.push({ tr, cells });
      }
      this.prev = el('button', '', '‹ prev');
      this.next = el('button', '', 'next ›');
      this.where = el('span');
      this.prev.type = this.next.type = 'button';
      this.prev.addEventListener('click', () => { this.page--; this.render(); });
      this.next.addEventListener('click', () => { this.page++; this.render(); });
      pager.append(this.prev, this.where, this.next);
      filter.addEventListener('input', () => {
        this.needle = filter.value.trim().toLowerCase();
        this.page = 0;
        this.refilter();
      });
    }

    setItems(items) { this.items = items; this.refilter(); }

    refilter() {
      const needle = this.needle;
      this.shown = needle ? this.items.filter((item) => this.matches(item, needle)) : this.items;
      this.render();
    }

    render() {
      const pages = Math.max(1, Math.ceil(this.shown.length / PAGE_SIZE));
      this.page = Math.min(Math.max(this.page, 0), pages - 1);
      const first = this.page * PAGE_SIZE;
      for (let i = 0; i < PAGE_SIZE; i++) {
        const row = this.rows[i];
        const item = this.shown[first + i];
        if (item === undefined) { row.tr.hidden = true; continue; }
        row.tr.hidden = false;
        this.columns.forEach((column, c) => column.show(row.cells[c], item));
      }
      this.empty.hidden = this.shown.length > 0;
      setText(this.count, this.shown.length === this.items.length
        ? '(' + fmtInt(this.items.length) + ')'
        : '(' + fmtInt(this.shown.length) + ' of ' + fmtInt(this.items.length) + ')');
      setText(this.where, 'page ' + (this.page + 1) + ' of ' + pages);
      this.prev.disabled = this.page === 0;
      this.next.disabled = this.page >= pages - 1;
    }
  }

  // ---- instances ----
  let instanceTimeout = 30;
  const instances = new PagedTable({
    table: $('instances'), pager: $('instances-pager'), filter: $('instances-filter'),
    count: $('instances-count'), emptyText: 'no instances registered',
    matches: (item, needle) => item.search.includes(needle),
    columns: [
      { cls: 'id', show: (td, i) => setText(td, i.instance_id) },
      { show: (td, i) => setText(td, i.address) },
      { show: (td, i) => { setText(td, i.dialect); td.className = 'dialect-' + i.dialect; } },
      {
        cls: 'num', show: (td, i) => {
          setText(td, i.heartbeat_age_s.toFixed(1) + ' s ago');
          td.className = i.heartbeat_age_s > instanceTimeout / 2 ? 'num late' : 'num';
        },
      },
      { cls: 'meta wide', show: (td, i) => setText(td, i.metadataText) },
    ],
  });

  // ---- salts ----
  const saltRatio = (s) => (s.limit_bytes === null ? 0 : s.limit_bytes === 0 ? (s.usage_bytes > 0 ? Infinity : 0) : s.usage_bytes / s.limit_bytes);
  const orders = {
    usage: (a, b) => b.usage_bytes - a.usage_bytes || (a.cache_salt < b.cache_salt ? -1 : 1),
    ratio: (a, b) => b.ratio - a.ratio || b.usage_bytes - a.usage_bytes,
    name: null,  // the summary lists salts by name already
  };
  const salts = new PagedTable({
    table: $('salts'), pager: $('salts-pager'), filter: $('salts-filter'),
    count: $('salts-count'), emptyText: 'no salt has usage or a quota',
    matches: (item, needle) => item.cache_salt.toLowerCase().includes(needle),
    columns: [
      { cls: 'id', show: (td, s) => setText(td, saltName(s.cache_salt)) },
      { cls: 'num', show: (td, s) => setText(td, fmtBytes(s.usage_bytes)) },
      {
        cls: 'num', show: (td, s) => setText(td, s.limit_bytes === null ? 'exempt'
          : fmtBytes(s.limit_bytes) + (s.quota_bytes === null ? ' (default)' : '')),
      },
      {
        cls: 'bar-cell',
        make: (td) => { const bar = el('div', 'bar'); bar.appendChild(el('span')); td.appendChild(bar); },
        show: (td, s) => {
          const bar = td.firstChild;
          const width = Math.min(100, s.ratio * 100).toFixed(1) + '%';
          if (bar.firstChild.style.width !== width) bar.firstChild.style.width = width;
          bar.className = s.ratio > 1 ? 'bar over' : s.ratio > 0.8 ? 'bar high' : 'bar';
          bar.title = s.limit_bytes === null ? 'exempt from eviction'
            : isFinite(s.ratio) ? Math.round(s.ratio * 100) + '% of limit' : 'over a zero limit';
        },
      },
      { cls: 'num', show: (td, s) => setText(td, fmtInt(s.keys)) },
      { cls: 'num wide', show: (td, s) => setText(td, fmtInt(s.in_flight)) },
    ],
  });
  let saltItems = [];
  const sortSalts = () => {
    const order = orders[$('salts-order').value];
    salts.setItems(order ? saltItems.slice().sort(order) : saltItems);
  };
  $('salts-order').addEventListener('change', () => { salts.page = 0; sortSalts(); });

  // ---- instances that left ----
  let lastInstances = new Map();  // id -> instance, from the previous summary
  let lastSeenAt = 0;
  const lapsed = [];  // {id, address, how, at}
  function noteDepartures(current, now) {
    for (const [id, before] of lastInstances) {
      if (current.has(id)) continue;
      // Silent for about the timeout by now: the health sweep dropped it; else it left itself.
      const silentFor = before.heartbeat_age_s + (now - lastSeenAt) / 1000;
      const how = silentFor >= instanceTimeout * 0.8 ? 'lapsed (no heartbeat for ' + Math.round(silentFor) + ' s)' : 'deregistered';
      lapsed.unshift({ id, address: before.address, how, at: now });
    }
    while (lapsed.length > LAPSED_MAX || (lapsed.length && now - lapsed[lapsed.length - 1].at > LAPSED_KEEP_MS)) lapsed.pop();
    const list = $('lapsed-list');
    list.replaceChildren(...lapsed.map((gone) => el('li', '',
      gone.id + ' at ' + gone.address + ': ' + gone.how + ', ' + new Date(gone.at).toLocaleTimeString())));
    $('lapsed').hidden = lapsed.length === 0;
    lastInstances = current;
    lastSeenAt = now;
  }

  // ---- totals ----
  let previous = null;  // {time, l2Events, v2Applied}
  function renderTotals(s) {
    const v2 = s.instances.filter((i) => i.dialect === 'v2').length;
    setText($('t-instances'), fmtInt(s.instances.length));
    setText($('t-dialects'), v2 + ' v2, ' + (s.instances.length - v2) + ' seed-era; timeout ' + s.instance_timeout_s + ' s');
    setText($('t-stored'), fmtBytes(s.l2.stored_bytes));
    setText($('t-keys'), fmtInt(s.l2.tracked_keys) + ' keys');
    setText($('t-default'), s.default_quota_bytes === null ? 'exempt' : fmtBytes(s.default_quota_bytes));
    const e = s.eviction;
    setText($('t-victims'), fmtInt(e.victims_dispatched) + ' sent');
    setText($('t-eviction'), fmtInt(e.sweeps) + ' sweeps, ' + fmtInt(e.dispatches) + ' requests, ' +
      fmtInt(e.dispatch_failures) + ' failed, ' + fmtInt(e.victims_in_flight) + ' in flight');
    $('t-eviction').className = e.dispatch_failures > 0 ? 'bad' : '';

    const l2Events = s.l2.events.store + s.l2.events.lookup + s.l2.events.delete;
    const v2Applied = s.events.applied;
    let l2Rate = null;
    let v2Rate = null;
    if (previous && s.time > previous.time) {
      const dt = s.time - previous.time;
      l2Rate = Math.max(0, l2Events - previous.l2Events) / dt;
      v2Rate = Math.max(0, v2Applied - previous.v2Applied) / dt;
    }
    previous = { time: s.time, l2Events, v2Applied };
    setText($('t-l2-rate'), fmtRate(l2Rate));
    setText($('t-l2'), fmtInt(l2Events) + ' events; ' + fmtInt(s.l2.duplicate_batches) + ' duplicate, ' +
      fmtInt(s.l2.gap_batches) + ' after a seq gap (' + fmtInt(s.l2.missed_batches) + ' lost), ' +
      fmtInt(s.l2.rejected_events) + ' rejected');
    setText($('t-v2-rate'), fmtRate(v2Rate));
    setText($('t-v2'), fmtInt(v2Applied) + ' applied, ' + fmtInt(s.events.duplicate) + ' duplicate, ' +
      fmtInt(s.events.stale) + ' stale, ' + fmtInt(s.events.rejected) + ' rejected, ' +
      fmtInt(s.events.gaps) + ' gaps, ' + fmtInt(s.events.fences) + ' fences');
    setText($('t-blend'), fmtInt(s.blend.entries) + ' entries');
    setText($('t-blend-rate'), fmtBytes(s.blend.memory_bytes) + '; ' + (s.blend.match_rate === null
      ? 'no match requests yet'
      : Math.round(s.blend.match_rate * 100) + '% of ' + fmtInt(s.blend.match_requests) + ' requests matched'));

    const ha = $('ha');
    ha.hidden = !s.ha;
    if (s.ha) setText(ha, s.ha.role + (s.ha.leader ? ' · leader ' + s.ha.leader : ''));
  }

  function render(s) {
    instanceTimeout = s.instance_timeout_s;
    renderTotals(s);
    const current = new Map();
    for (const i of s.instances) {
      const pairs = Object.entries(i.metadata).map(([k, v]) => k + '=' + v);
      i.metadataText = pairs.join(', ');
      i.search = (i.instance_id + ' ' + i.address + ' ' + i.metadataText).toLowerCase();
      current.set(i.instance_id, i);
    }
    instances.setItems(s.instances);
    noteDepartures(current, Date.now());
    for (const salt of s.salts) salt.ratio = saltRatio(salt);
    saltItems = s.salts;
    sortSalts();
  }

  // ---- fetching, with a bearer token when the coordinator asks for one ----
  function authHeaders() {
    const token = sessionStorage.getItem(TOKEN_KEY);
    return token ? { Authorization: 'Bearer ' + token } : {};
  }
  function setStatus(text, bad) {
    const status = $('status');
    setText(status, text);
    status.className = bad ? 'status bad' : 'status';
  }
  function askForToken(code) {
    $('auth').hidden = false;
    setText($('auth-message'), sessionStorage.getItem(TOKEN_KEY)
      ? (code === 403 ? 'that token is not accepted' : 'token refused') : '');
    setStatus('needs a token (HTTP ' + code + ')', true);
  }
  $('auth').addEventListener('submit', (event) => {
    event.preventDefault();
    const token = $('token').value.trim();
    if (token) sessionStorage.setItem(TOKEN_KEY, token); else sessionStorage.removeItem(TOKEN_KEY);
    $('token').value = '';
    refresh();
  });

  let refreshes = 0;
  let timer = null;
  async function refresh() {
    clearTimeout(timer);
    try {
      const response = await fetch('fleet/summary', { headers: authHeaders(), cache: 'no-store' });
      if (response.status === 401 || response.status === 403) {
        askForToken(response.status);
      } else if (!response.ok) {
        setStatus('summary answered HTTP ' + response.status, true);
      } else {
        const summary = await response.json();
        $('auth').hidden = true;
        const started = performance.now();
        render(summary);
        document.body.dataset.renderMs = (performance.now() - started).toFixed(1);
        refreshes++;
        document.body.dataset.refreshes = String(refreshes);
        setStatus('updated ' + new Date(summary.time * 1000).toLocaleTimeString(), false);
      }
    } catch (error) {
      setStatus('coordinator unreachable (' + error.message + ')', true);
    }
    timer = setTimeout(refresh, REFRESH_MS);
  }
  refresh();
})();
