// The operations dashboard's page script: reads the JSON endpoints of this server only, renders with
// textContent (never HTML from data), and polls. ?refresh=SECONDS (2-3600, default 30) sets the poll.
'use strict';
(function () {
  const params = new URLSearchParams(window.location.search);
  const refreshSeconds = Math.min(3600, Math.max(2, Number(params.get('refresh')) || 30));
  const answerWithinMs = 10000;  // a reporting that does not answer in this time counts as unreachable
  const filterIds = { team: 'filter-team', service_area: 'filter-service-area', commissioner: 'filter-commissioner', month: 'filter-month' };
  let firstStartedAt = null;
  let lastGood = null;
  let timer = null;
  let inFlight = false;
  let again = false;           // a filter changed while a refresh was in flight: refresh once more after it
  let filtersLoaded = false;   // until the filters load, the URL's filters are kept as they are

  const $ = (id) => document.getElementById(id);
  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function row(cells, attrs) {
    const tr = document.createElement('tr');
    for (const c of cells) {
      const td = el('td', c.text, c.cls);
      if (c.name) td.dataset.field = c.name;
      tr.appendChild(td);
    }
    for (const [k, v] of Object.entries(attrs || {})) tr.dataset[k] = v;
    return tr;
  }
  function fill(tableId, rows) {
    const body = $(tableId).querySelector('tbody');
    body.replaceChildren(...rows);
  }
  function pct(v) { return v === null || v === undefined ? '–' : v.toFixed(1) + '%'; }
  function when(iso) { return iso ? new Date(iso).toLocaleString('en-GB', { timeZone: 'Europe/London' }) : 'never'; }

  function query() {
    const q = new URLSearchParams();
    for (const [name, id] of Object.entries(filterIds)) {
      const v = filtersLoaded ? $(id).value : params.get(name);
      if (v) q.set(name, v);
    }
    return q;
  }

  // Which panels each chosen filter narrows, said beside the filters so no figure is read for the wrong group.
  function scopeNote(k) {
    const q = query();
    const scope = k.scope.kind === 'trust' ? 'the trust' : k.scope.kind.replace('_', ' ') + ' ' + k.scope.id;
    const parts = ['KPIs are for ' + scope + ' (one group at a time: team, else service area, else commissioner).'];
    if (q.get('commissioner') && k.scope.kind !== 'commissioner') {
      parts.push('The commissioner filter narrows the review lists only.');
    } else if (q.get('commissioner')) {
      parts.push('The commissioner filter narrows the review lists and the KPIs; caseloads and outcomes are per team.');
    } else {
      parts.push('Caseloads and outcomes are per team.');
    }
    return parts.join(' ');
  }

  function banner(messages, isError) {
    const b = $('status-banner');
    b.replaceChildren(...messages.map((m) => el('p', m)));
    b.hidden = messages.length === 0;
    b.classList.toggle('error', !!isError);
  }

  function renderStatus(s) {
    $('status-updated').textContent = 'Last updated ' + when(s.now);
    $('status-source').textContent = '(reporting running since ' + when(s.started_at) + '; rules ' + s.rule_version + ')';
    const warnings = [];
    if (firstStartedAt !== null && s.started_at !== firstStartedAt) {
      warnings.push('Reporting restarted at ' + when(s.started_at) + ' since this page was opened.');
    }
    if (firstStartedAt === null) firstStartedAt = s.started_at;
    if (!s.caught_up) warnings.push('Reporting is still reading its topics after starting: figures may be incomplete.');
    if (s.lag_messages !== null && s.lag_messages > 0) {
      warnings.push(s.lag_messages + ' events not yet applied (measured ' + when(s.lag_measured_at) + '): figures are behind.');
    }
    if (s.paused) warnings.push('Reporting cannot write its store (disk full?): figures are frozen.');
    banner(warnings, false);
    document.body.dataset.behind = s.behind ? 'true' : 'false';
  }

  function renderReviews(r) {
    $('overdue-total').textContent = r.overdue_total;
    fill('overdue-groups', r.overdue_by_team_cluster.map((g) => row([
      { text: g.team_id, name: 'team' }, { text: g.cluster, cls: 'number', name: 'cluster' },
      { text: g.overdue, cls: 'number', name: 'overdue' }, { text: g.oldest_due_date, name: 'oldest_due_date' },
      { text: g.most_days_overdue, cls: 'number', name: 'most_days_overdue' }], { team: g.team_id, cluster: String(g.cluster) })));
    fill('overdue-list', r.overdue.map((x) => row([
      { text: x.person_id, name: 'person' }, { text: x.team_id, name: 'team' }, { text: x.cluster, cls: 'number', name: 'cluster' },
      { text: x.due_date, name: 'due_date' }, { text: x.days_overdue, cls: 'number', name: 'days_overdue' }], { person: x.person_id })));
    $('overdue-more').textContent = r.overdue_total > r.overdue.length ? 'Showing the oldest ' + r.overdue.length + ' of ' + r.overdue_total + '.' : '';
    $('due-soon-total').textContent = r.due_soon_total;
    fill('due-soon-list', r.due_soon.map((x) => row([
      { text: x.person_id, name: 'person' }, { text: x.team_id, name: 'team' }, { text: x.cluster, cls: 'number', name: 'cluster' },
      { text: x.due_date, name: 'due_date' }], { person: x.person_id })));
    $('due-soon-more').textContent = 'Due from ' + r.today + ' to ' + r.due_soon_until + (r.due_soon_total > r.due_soon.length ? '; showing ' + r.due_soon.length + ' of ' + r.due_soon_total + '.' : '.');
  }

  function renderKpis(k) {
    const scope = k.scope.kind === 'trust' ? 'the trust' : k.scope.kind.replace('_', ' ') + ' ' + k.scope.id;
    $('kpi-scope').textContent = '(' + scope + ', ' + k.month + ')';
    const b = k.status_bands;
    $('kpi-bands').textContent = 'Green: ' + b.green + '. Amber: ' + b.amber + '. Red: ' + b.red + '. Grey: ' + b.no_data + '.';
    const line = (x) => row([
      { text: x.id, name: 'id' }, { text: x.title, name: 'title' },
      { text: x.numerator + ' / ' + x.denominator, cls: 'number', name: 'counts' },
      { text: pct(x.percent), cls: 'number status-' + x.status, name: 'percent' },
      { text: x.target_percent + '%', cls: 'number', name: 'target' },
      { text: x.status.replace('_', ' '), cls: 'status-' + x.status, name: 'status' }], { kpi: x.id, status: x.status });
    fill('kpis', k.kpis.map(line).concat([line(k.acc37)]));
    $('kpi-period').textContent = 'KPIs 1-3 count the caseload on ' + k.stock_day + '; KPIs 4-13 count ' + k.period_start + ' to ' + k.period_end +
      ' as judged on ' + k.judged_on + '; ACC37 at ' + k.acc37.period_end + ' (national review periods). Rules: ' + k.rule_version + '.';
  }

  function renderCaseloads(c) {
    const box = $('caseloads');
    const cards = c.teams.map((t) => {
      const card = el('div', null, 'team-caseload');
      card.dataset.team = t.team_id;
      const h = el('h3', t.team_id + ' ');
      h.appendChild(el('span', t.name + ' (' + t.service_area + ')'));
      card.appendChild(h);
      const summary = el('p');
      const add = (label, value, name) => { const s = el('span', value, 'figure'); s.dataset.field = name; summary.append(label + ' ', s, '  '); };
      add('People', t.people, 'people');
      add('Reviews due', t.reviews_due, 'reviews_due');
      add('Overdue', t.reviews_overdue, 'reviews_overdue');
      add('Cases to discuss', t.cases_to_discuss, 'cases_to_discuss');
      card.appendChild(summary);
      const table = el('table');
      const head = el('thead');
      head.appendChild(row(['Cluster', 'Super class', 'People', 'Indicative period', 'Beyond it', 'Mean days in cluster', 'Overdue'].map((x) => ({ text: x }))));
      table.appendChild(head);
      const body = el('tbody');
      for (const k of t.clusters) {
        body.appendChild(row([
          { text: k.cluster, cls: 'number', name: 'cluster' }, { text: k.super_class }, { text: k.people, cls: 'number', name: 'people' },
          { text: k.indicative_period }, { text: k.beyond_indicative_period, cls: 'number', name: 'beyond' },
          { text: Math.round(k.mean_days_in_cluster), cls: 'number' }, { text: k.reviews_overdue, cls: 'number', name: 'overdue' }], { cluster: String(k.cluster) }));
      }
      table.appendChild(body);
      card.appendChild(table);
      const reasons = Object.entries(t.discussion_reasons).map(([r, n]) => r.replaceAll('_', ' ') + ': ' + n);
      card.appendChild(el('p', 'To discuss in supervision: ' + (reasons.length ? reasons.join('; ') : 'nothing'), 'note'));
      return card;
    });
    box.replaceChildren(...cards);
    $('caseloads-note').textContent = c.teams_matching > c.teams.length
      ? 'Showing ' + c.teams.length + ' of ' + c.teams_matching + ' teams: choose a team or service area to see the others.'
      : 'People per cluster, time in the cluster against its indicative period, and why cases come up for discussion.';
  }

  function renderOutcomes(o) {
    $('outcomes-period').textContent = '(' + o.from_month + ' to ' + o.to_month + ')';
    const line = (t, name) => row([
      { text: name, name: 'team' }, { text: t.episodes, cls: 'number', name: 'episodes' }, { text: t.paired, cls: 'number', name: 'paired' },
      { text: t.improved, cls: 'number', name: 'improved' }, { text: t.no_reliable_change, cls: 'number', name: 'no_reliable_change' },
      { text: t.deteriorated, cls: 'number', name: 'deteriorated' },
      { text: t.mean_total_change === null ? '–' : t.mean_total_change.toFixed(1), cls: 'number', name: 'mean_total_change' }], { team: name });
    fill('outcomes', o.teams.map((t) => line(t, t.team_id)).concat(o.teams.length > 1 ? [line(o.all, 'All')] : []));
  }

  async function refresh() {
    if (inFlight) { again = true; return; }
    inFlight = true;
    again = false;
    if (!filtersLoaded) await loadFilters();
    const q = query();
    if (filtersLoaded) {
      history.replaceState(null, '', '?' + (() => { const p = new URLSearchParams(q); if (params.get('refresh')) p.set('refresh', params.get('refresh')); return p.toString(); })());
    }
    const abort = new AbortController();
    const timeout = setTimeout(() => abort.abort(), answerWithinMs);
    try {
      const res = await fetch('/api/v1/dashboard?' + q.toString(), { cache: 'no-store', signal: abort.signal });
      const body = await res.json();
      if (!res.ok) {
        banner(['The dashboard could not be answered: ' + body.error + (body.field ? ' (' + body.field + ')' : '')], true);
        document.body.dataset.state = 'error';
      } else {
        renderStatus(body.status);
        renderReviews(body.reviews);
        renderKpis(body.kpis);
        renderCaseloads(body.caseloads);
        renderOutcomes(body.outcomes);
        lastGood = body.status.now;
        document.body.dataset.state = body.status.behind ? 'behind' : 'current';
        document.body.dataset.lastUpdated = body.status.now;
        $('scope-note').textContent = scopeNote(body.kpis);
      }
    } catch (e) {
      const why = e.name === 'AbortError' ? 'no answer within ' + answerWithinMs / 1000 + ' s' : e.message;
      banner(['Cannot reach reporting (' + why + '). The figures shown are from ' + when(lastGood) + '.'], true);
      document.body.dataset.state = 'stale';
    } finally {
      clearTimeout(timeout);
      inFlight = false;
      document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes) + 1);
      document.dispatchEvent(new CustomEvent('dashboard-refreshed'));
    }
    if (again) refresh();
  }

  function option(select, value, label) {
    const o = el('option', label);
    o.value = value;
    select.appendChild(o);
  }

  // The filters' choices; tried again at each refresh until they load.
  async function loadFilters() {
    const abort = new AbortController();
    const timeout = setTimeout(() => abort.abort(), answerWithinMs);
    try {
      const res = await fetch('/api/v1/filters', { cache: 'no-store', signal: abort.signal });
      if (!res.ok) throw new Error('HTTP ' + res.status);
      const f = await res.json();
      for (const id of ['filter-team', 'filter-service-area', 'filter-commissioner']) $(id).replaceChildren($(id).options[0]);
      $('filter-month').replaceChildren();
      for (const t of f.teams) option($('filter-team'), t.id, t.id + ' – ' + t.name);
      for (const a of f.service_areas) option($('filter-service-area'), a.id, a.label);
      for (const c of f.commissioners) option($('filter-commissioner'), c, c);
      const [y, m] = f.current_month.split('-').map(Number);
      for (let i = 0; i < 13; i++) {
        const d = new Date(Date.UTC(y, m - 1 - i, 1));
        const v = d.toISOString().slice(0, 7);
        option($('filter-month'), i === 0 ? '' : v, i === 0 ? v + ' (this month)' : v);
      }
      for (const [name, id] of Object.entries(filterIds)) {
        const v = params.get(name);
        if (!v) continue;
        // A value the lists do not offer (a commissioner no price list names) is kept, so the server judges it.
        if (![...$(id).options].some((o) => o.value === v)) option($(id), v, v);
        $(id).value = v;
      }
      filtersLoaded = true;
    } catch (e) {
      banner(['Cannot reach reporting to read the filters (' + (e.name === 'AbortError' ? 'no answer' : e.message) + ').'], true);
    } finally {
      clearTimeout(timeout);
    }
  }

  async function start() {
    for (const id of Object.values(filterIds)) $(id).addEventListener('change', () => { refresh(); });
    await refresh();
    timer = setInterval(refresh, refreshSeconds * 1000);
  }
  document.addEventListener('DOMContentLoaded', start);
})();
