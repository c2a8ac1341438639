// The fleet grid: every member's health at a glance, live. The fleet's
// credentials stay in this page's memory only (a reload asks again).
'use strict';

let auth = '';
const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else e.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function cell(m) {
  const s = m.summary;
  const e = document.getElementById('member-' + m.id) || el('div', { class: 'member', id: 'member-' + m.id, 'data-member': m.id });
  e.dataset.health = s.health;
  e.title = (s.why || []).join('\n');
  e.replaceChildren(...[
    el('div', {}, m.ui && m.ui.length ? el('a', { href: m.ui[0], target: '_blank', rel: 'noopener' }, m.id) : el('b', {}, m.id), ' ',
      el('span', { class: 'badge ' + s.health }, s.health)),
    el('div', {}, m.address),
    el('div', {}, 'Power ' + s.power_state + (s.os_running ? ' · OS up' : '')),
    el('div', {}, s.populated + '/' + s.slots + ' slots · ' + (s.installed_mib / 1024) + ' GiB'),
    s.redundancy ? el('div', {}, s.ras_mode + ' · ' + s.redundancy) : null,
    s.rebuild_percent >= 0 ? el('div', {}, 'rebuild ', el('progress', { max: 100, value: s.rebuild_percent })) : null,
    s.attention ? el('div', {}, s.attention + ' attention LED' + (s.attention > 1 ? 's' : '')) : null].filter(Boolean));
  return e;
}

function tally() {
  const cells = [...document.querySelectorAll('.member')];
  const by = { OK: 0, Warning: 0, Critical: 0 };
  for (const c of cells) by[c.dataset.health] = (by[c.dataset.health] || 0) + 1;
  $('fleet-count').textContent = cells.length + ' members';
  $('fleet-health').textContent = by.OK + ' OK · ' + by.Warning + ' Warning · ' + by.Critical + ' Critical';
}

function dispatch(event, data) {
  const v = JSON.parse(data);
  if (event === 'members') {
    $('fleet').replaceChildren(...v.map(cell));
  } else if (event === 'member') {
    const c = cell(v);
    if (!c.parentNode) $('fleet').append(c);
  } else if (event === 'removed') {
    const c = document.getElementById('member-' + v.id);
    if (c) c.remove();
  }
  tally();
}

async function follow() {
  const r = await fetch('/ui/api/fleet/stream', { headers: { 'Authorization': auth, 'Accept': 'text/event-stream' } });
  if (r.status === 401) { auth = ''; show(false, 'Wrong user name or password.'); return; }
  if (!r.ok) throw new Error('stream: ' + r.status);
  show(true, '');
  $('live').textContent = 'live';
  $('live').classList.add('on');
  await readEventStream(r.body, (ev) => dispatch(ev.type, ev.data));
}

function show(app, err) {
  $('login-view').classList.toggle('hidden', app);
  $('app').classList.toggle('hidden', !app);
  $('status').classList.toggle('hidden', !app);
  $('login-error').textContent = err;
}

async function run() {
  for (;;) {
    try { await follow(); } catch (e) { /* cut: reconnect */ }
    $('live').textContent = 'offline';
    $('live').classList.remove('on');
    if (!auth) return;
    await new Promise((res) => setTimeout(res, 2000));
  }
}

document.addEventListener('DOMContentLoaded', () => {
  $('login-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    // btoa needs Latin-1; encode UTF-8 first.
    const raw = new TextEncoder().encode($('login-user').value + ':' + $('login-password').value);
    auth = 'Basic ' + btoa(String.fromCharCode(...raw));
    $('login-password').value = '';
    run();
  });
});
