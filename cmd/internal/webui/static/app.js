// The BMC's web view. Logs in with a Redfish session, reads the board
// through the control API under /ui/api/emulator/v1 and follows the
// platform's event stream (/ui/api/stream, server-sent events read with
// fetch, since EventSource cannot send the X-Auth-Token header).
'use strict';

const API = '/ui/api';
const CTL = API + '/emulator/v1';
const SEL_ROWS = 50;
const EVENT_ROWS = 200;

let token = sessionStorage.getItem('bmcemu.token') || '';
let me = null;
let faultKinds = [];
let lastSeq = 0;
let selState = null;
let stream = null;
// cxlRefusals holds, per CXL slot, the last refusal of an action taken
// from this page, shown on the slot's card until the slot moves on.
const cxlRefusals = new Map();

const $ = (id) => document.getElementById(id);

// el builds an element; children are nodes or text (never parsed as HTML).
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

class APIError extends Error {
  constructor(status, message, code) { super(message); this.status = status; this.code = code || ''; }
}

async function call(method, path, body, extra) {
  const headers = Object.assign({ 'Accept': 'application/json' }, extra || {});
  if (token) headers['X-Auth-Token'] = token;
  const init = { method, headers };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const r = await fetch(path, init);
  const text = await r.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch (e) { data = text; }
  }
  if (r.status === 401) {
    endSession('Your session ended; log in again.');
    throw new APIError(401, 'not logged in');
  }
  if (!r.ok) {
    const msg = (data && data.error && data.error.message) || (r.status + ' ' + r.statusText);
    throw new APIError(r.status, msg, data && data.error && data.error.code);
  }
  return data;
}

const gib = (bytes) => (bytes / (1 << 30)).toFixed(bytes % (1 << 30) ? 1 : 0) + ' GiB';
// size prints a size as the CLI does: GiB when whole, else MiB.
const size = (bytes) => bytes % 2 ** 30 === 0 ? bytes / 2 ** 30 + ' GiB' : Math.round(bytes / 2 ** 20) + ' MiB';
const hex = (n) => '0x' + n.toString(16);
const span = (start, len) => hex(start) + '-' + hex(start + len - 1);

// ---- login ----

async function login(ev) {
  ev.preventDefault();
  $('login-error').textContent = '';
  const r = await fetch('/redfish/v1/SessionService/Sessions', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' },
    body: JSON.stringify({ UserName: $('login-user').value, Password: $('login-password').value }),
  });
  if (r.status !== 201) {
    let msg = 'Wrong user name or password.';
    if (r.status === 503) {
      msg = 'Logins from this address are refused for now' + (r.headers.get('Retry-After') ? ' (retry in ' + r.headers.get('Retry-After') + ' s).' : '.');
    } else if (r.status !== 401) {
      try { msg = (await r.json()).error.message; } catch (e) { msg = 'Login failed: ' + r.status; }
    }
    $('login-error').textContent = msg;
    return;
  }
  token = r.headers.get('X-Auth-Token') || '';
  sessionStorage.setItem('bmcemu.token', token);
  $('login-password').value = '';
  await begin();
}

async function logout() {
  const session = me && me.session;
  if (session) {
    try { await call('DELETE', session); } catch (e) { /* gone already */ }
  }
  endSession('');
}

function endSession(msg) {
  token = '';
  me = null;
  sessionStorage.removeItem('bmcemu.token');
  if (stream) stream.abort();
  stream = null;
  $('app').classList.add('hidden');
  $('status').classList.add('hidden');
  $('login-view').classList.remove('hidden');
  $('login-error').textContent = msg;
}

async function begin() {
  try {
    me = await call('GET', API + '/me');
  } catch (e) {
    if (e.status !== 401) endSession(e.message);
    return;
  }
  document.body.classList.toggle('can-act', me.can_act);
  $('whoami').textContent = me.user_name + ' (' + me.role + ')';
  $('login-view').classList.add('hidden');
  $('app').classList.remove('hidden');
  $('status').classList.remove('hidden');
  $('board').replaceChildren();
  $('events').replaceChildren();
  selState = null;
  faultKinds = me.can_act ? await call('GET', CTL + '/faults') : [];
  $('fault-kind').replaceChildren(...faultKinds.map((k) => el('option', { value: k.name, title: k.description }, k.name + ' (' + k.stage + ')')));
  const sys = await call('GET', CTL + '/system');
  $('model').textContent = sys.manufacturer + ' ' + sys.model + ' · ' + sys.serial_number;
  await refresh();
  openStream();
}

// ---- the board ----

let refreshing = false;
let refreshAgain = false;

// scheduleRefresh coalesces a burst of events into one read of the board
// at a time, so an event storm costs the page a few refreshes a second.
function scheduleRefresh() {
  if (refreshing) { refreshAgain = true; return; }
  refreshing = true;
  setTimeout(async () => {
    try { await refresh(); } catch (e) { showError(e); }
    refreshing = false;
    if (refreshAgain) { refreshAgain = false; scheduleRefresh(); }
  }, 150);
}

async function refresh() {
  if (!token) return;
  const [summary, slots, ras] = await Promise.all([call('GET', API + '/summary'), call('GET', CTL + '/slots'), call('GET', CTL + '/ras')]);
  renderSummary(summary);
  renderBoard(slots);
  renderRAS(ras);
  $('cxl').classList.toggle('hidden', !summary.cxl_slots);
  await Promise.all([refreshOS(), summary.cxl_slots ? refreshCXL() : null]);
}

function renderSummary(s) {
  const h = $('health');
  h.textContent = s.health;
  h.className = 'badge ' + s.health;
  h.title = (s.why || []).join('\n');
  $('power').textContent = 'Power ' + s.power_state + ' · ' + s.boot_progress;
  $('board-summary').textContent = s.populated + ' of ' + s.slots + ' slots populated, ' + (s.installed_mib / 1024) + ' GiB installed' +
    (s.attention ? ', ' + s.attention + ' attention LED' + (s.attention > 1 ? 's' : '') + ' lit' : '');
}

function renderBoard(slots) {
  const board = $('board');
  for (const s of slots) {
    let slot = document.getElementById('slot-' + s.name);
    if (!slot) slot = placeSlot(board, s);
    fillSlot(slot, s);
  }
}

// placeSlot finds or makes the socket, memory controller and channel
// boxes a slot sits in, in board order.
function placeSlot(board, s) {
  const child = (parent, id, make) => document.getElementById(id) || parent.appendChild(make());
  const sock = child(board, 'socket-' + s.socket, () => el('div', { class: 'socket', id: 'socket-' + s.socket }, el('h3', {}, 'CPU' + s.socket)));
  const mcID = 'mc-' + s.socket + '-' + s.controller;
  const mc = child(sock, mcID, () => el('div', { class: 'controller', id: mcID }, el('h4', {}, 'Memory controller ' + s.controller), el('div', { class: 'channels' })));
  const chID = 'ch-' + s.socket + '-' + s.channel;
  const ch = child(mc.querySelector('.channels'), chID, () => el('div', { class: 'channel', id: chID }, el('h5', {}, 'Channel ' + s.channel)));
  return ch.appendChild(el('div', { class: 'slot', id: 'slot-' + s.name, 'data-slot': s.name }));
}

function fillSlot(e, s) {
  e.dataset.status = s.status;
  e.dataset.health = s.health;
  e.dataset.attention = s.attention_led;
  e.dataset.power = s.power;
  const m = s.module;
  const parts = [
    el('div', {},
      el('span', { class: 'name' }, s.name),
      el('span', { class: 'leds' },
        el('span', { class: 'led att-' + s.attention_led, title: 'attention LED: ' + s.attention_led }),
        el('span', { class: 'led id-' + (s.location_indicator ? 'on' : 'off'), title: 'identify LED: ' + (s.location_indicator ? 'on' : 'off') }))),
    el('div', {}, el('span', { class: 'state' }, s.status), s.stage ? ' · ' + s.stage : '', ' · power ' + s.power + ' · ', el('span', { class: 'badge ' + s.health }, s.health),
      s.temperature_c !== undefined ? ' · ' + s.temperature_c + ' °C' : ''),
    m ? el('div', { class: 'module' }, (m.capacity_mib / 1024) + ' GiB ' + m.base_module + ' ' + m.ranks + 'R ' + m.speed_mts + ' MT/s ' + m.manufacturer)
      : el('div', { class: 'module' }, 'empty'),
    s.reason ? el('div', { class: 'reason' }, s.reason) : null,
    s.faults && s.faults.length ? el('div', { class: 'faults' }, 'armed: ' + s.faults.join(', ')) : null,
    s.ras ? el('div', { class: 'ras' }, 'RAS ' + s.ras.role + ' · ' + s.ras.state + ' · CE ' + s.ras.errors.Current.CE + ' UE ' + s.ras.errors.Current.UE) : null,
  ];
  // Only an account that may act gets buttons; the server refuses the
  // actions of the others whatever the page does.
  if (me && me.can_act) {
    parts.push(el('div', { class: 'actions' },
      el('button', { type: 'button', class: 'action act-attention', onclick: () => act('POST', '/slots/' + s.name + '/attention') }, 'Attention'),
      m ? el('button', { type: 'button', class: 'action act-remove', onclick: () => act('DELETE', '/slots/' + s.name + '/module') }, 'Remove')
        : el('button', { type: 'button', class: 'action act-insert', onclick: () => openInsert(s.name) }, 'Insert…'),
      el('button', { type: 'button', class: 'action act-identify', onclick: () => identify(s) }, 'Identify'),
      el('button', { type: 'button', class: 'action act-fault', onclick: () => openFault(s.name) }, 'Fault…')));
  }
  e.replaceChildren(...parts.filter(Boolean));
}

async function act(method, path, body) {
  $('action-error').textContent = '';
  try {
    await call(method, CTL + path, body);
  } catch (e) {
    showError(e);
  }
  scheduleRefresh();
}

// identify toggles the slot's identify LED through Redfish, as a
// management client would (Memory LocationIndicatorActive), with the
// resource's ETag in If-Match, which serve --redfish-require-if-match
// demands.
async function identify(s) {
  $('action-error').textContent = '';
  const uri = '/redfish/v1/Systems/1/Memory/' + encodeURIComponent(s.name);
  try {
    const r = await fetch(uri, { headers: { 'X-Auth-Token': token, 'Accept': 'application/json' } });
    const etag = r.headers.get('ETag');
    await call('PATCH', uri, { LocationIndicatorActive: !s.location_indicator }, etag ? { 'If-Match': etag } : {});
  } catch (e) {
    showError(e);
  }
  scheduleRefresh();
}

function showError(e) {
  if (e.status !== 401) $('action-error').textContent = e.message;
}

function openInsert(slot) {
  $('insert-slot').textContent = slot;
  $('insert-dialog').showModal();
}

async function submitInsert(ev) {
  ev.preventDefault();
  const slot = $('insert-slot').textContent;
  const req = { capacity_gib: Number($('insert-capacity').value) };
  if ($('insert-ranks').value) req.ranks = Number($('insert-ranks').value);
  if ($('insert-base').value) req.base_module = $('insert-base').value;
  if ($('insert-manufacturer').value) req.manufacturer = $('insert-manufacturer').value;
  $('insert-dialog').close();
  await act('PUT', '/slots/' + slot + '/module', req);
}

function openFault(slot) {
  $('fault-slot').textContent = slot;
  $('fault-dialog').showModal();
}

function faultAction(kind) {
  const slot = $('fault-slot').textContent;
  const count = Number($('fault-count').value) || 1;
  $('fault-dialog').close();
  switch (kind) {
    case 'arm': return act('PUT', '/slots/' + slot + '/faults/' + $('fault-kind').value);
    case 'clear': return act('DELETE', '/slots/' + slot + '/faults/all');
    case 'ce': return act('POST', '/ras/errors', { slot, rank: 0, kind: 'ce', count });
    case 'ue': return act('POST', '/ras/errors', { slot, rank: 0, kind: 'ue', count });
    case 'fail': return act('POST', '/slots/' + slot + '/fail');
  }
}

// ---- CXL ----

async function refreshCXL() {
  let st;
  try {
    st = await call('GET', CTL + '/cxl');
  } catch (e) {
    // Between two boots there is no CXL bus to show.
    if (e.status === 404) { $('cxl-summary').textContent = e.message; return; }
    throw e;
  }
  renderCXL(st);
}

function renderCXL(st) {
  // A slot can be enabled (memdev bound) with no region: count the
  // slots that brought memory.
  const regions = st.slots.filter((s) => s.device && s.device.region);
  const online = regions.reduce((n, s) => n + s.device.region.online_bytes, 0);
  $('cxl-summary').textContent = regions.length + ' of ' + st.slots.length + ' slots with memory, ' + size(online) + ' online';
  $('cxl-windows').tBodies[0].replaceChildren(...st.windows.map((w) => el('tr', { 'data-window': w.index },
    el('td', {}, w.label), el('td', {}, span(w.base, w.size)), el('td', {}, size(w.size)),
    el('td', {}, 'ACPI0016:' + w.host_bridge.toString(16).padStart(2, '0')), el('td', {}, 'node' + w.node), el('td', {}, size(w.free)),
    el('td', {}, (w.used || []).map((u) => u.owner + ' [' + hex(u.start) + '+' + size(u.size) + ']').join(', ') || '-'))));
  const box = $('cxl-slots');
  for (const s of st.slots) {
    const id = 'cxl-slot-' + s.slot;
    const card = document.getElementById(id) || box.appendChild(el('div', { class: 'slot cxl-slot', id, 'data-slot': s.slot }));
    fillCXLSlot(card, s);
  }
  const c = st.iommu;
  $('cxl-iommu').textContent = c.maps + ' maps, ' + c.unmaps + ' unmaps, ' + c.bounced + ' bounced (' + c.bounced_bytes + ' bytes), swiotlb ' +
    c.swiotlb_slots_used + '/' + c.swiotlb_slots_total + ' slots, ' + c.iotlb_invalidations + ' IOTLB invalidations, ' + c.flush_queued + ' queued, ' +
    c.flush_queue_flushes + ' flushes, ' + c.stale_translations + ' stale hits, ' + c.faults + ' faults';
  $('cxl-iommu').dataset.maps = c.maps;
  $('cxl-iommu').dataset.faults = c.faults;
  // The unit keeps its last faults oldest first; the page shows the
  // newest first.
  $('cxl-faults').replaceChildren(...(st.iommu_faults || []).slice(-10).reverse().map((f) => el('li', { 'data-bdf': f.bdf }, f.text)));
}

function fillCXLSlot(e, s) {
  const d = s.device;
  const r = d && d.region;
  e.dataset.state = s.state;
  e.dataset.power = s.power ? 'on' : 'off';
  e.dataset.node = r ? r.node : '';
  e.dataset.onlineBytes = r ? r.online_bytes : 0;
  const refusal = cxlRefusals.get(s.slot);
  const parts = [
    el('div', {}, el('span', { class: 'name' }, s.slot), ' ', el('span', { class: 'state' }, s.state), ' · power ' + (s.power ? 'on' : 'off')),
    el('div', { class: 'port' }, 'root port ' + s.root_port + ' x' + s.lanes + ' · bridge window ' + (s.mmio_window ? size(s.mmio_window) : 'none') +
      ' · host bridge ACPI0016:' + s.host_bridge.toString(16).padStart(2, '0')),
    d ? el('div', { class: 'module' }, size(d.spec.capacity) + ' expander ' + d.bdf + ' ' + d.vendor_id + ':' + d.device_id + ' · ' + (d.untrusted ? 'untrusted' : 'trusted'))
      : el('div', { class: 'module' }, 'empty'),
    d && d.memdev ? el('div', { class: 'memdev' }, d.memdev + (d.endpoint ? ' · ' + d.endpoint : '')) : null,
    r ? el('div', { class: 'region' }, r.name + ' · ' + r.dax + ' · HPA ' + span(r.base, r.size) + ' (' + size(r.size) + ' in CXL Window ' + r.window + ')') : null,
    r ? el('div', { class: 'node' }, 'node' + r.node + ' · ' + size(r.online_bytes) + ' online') : null,
    r ? el('div', { class: 'perf' }, 'node' + r.node + ' access0: read ' + r.perf.read_latency + ' ns ' + r.perf.read_bandwidth + ' MB/s, write ' +
      r.perf.write_latency + ' ns ' + r.perf.write_bandwidth + ' MB/s') : null,
    d && d.cdat_error ? el('div', { class: 'reason' }, 'CDAT: ' + d.cdat_error) : null,
    // A refusal from this page usually quotes the slot's reason: once is
    // enough.
    s.reason && !(refusal && refusal.includes(s.reason)) ? el('div', { class: 'reason' }, s.reason) : null,
    (s.leaked || []).map((l) => el('div', { class: 'leaked' }, size(l.size) + ' [' + span(l.start, l.size) + '] leaked by ' + l.owner + ' until the next reboot')),
    refusal ? el('div', { class: 'refusal error' }, refusal) : null,
  ];
  // As on the DIMM slots: only an account that may act gets buttons.
  if (me && me.can_act) {
    parts.push(el('div', { class: 'actions' },
      el('button', { type: 'button', class: 'action act-attention', onclick: () => cxlAct(s.slot, 'POST', '/attention') }, 'Attention'),
      d ? el('button', { type: 'button', class: 'action act-pull', title: 'from a powered slot: surprise removal', onclick: () => cxlAct(s.slot, 'DELETE', '/card') }, 'Pull')
        : el('button', { type: 'button', class: 'action act-insert', onclick: () => openCXLInsert(s.slot) }, 'Insert…')));
  }
  e.replaceChildren(...parts.flat().filter(Boolean));
}

// cxlAct presses a CXL slot's button through the same control API path
// as the DIMM slots' and keeps a refusal on the slot's own card, where
// its reason (no memory window, device not recognized, memory busy)
// belongs.
async function cxlAct(slot, method, path, body) {
  $('action-error').textContent = '';
  cxlRefusals.delete(slot);
  try {
    await call(method, CTL + '/cxl/slots/' + encodeURIComponent(slot) + path, body);
  } catch (e) {
    if (e.status === 401) return;
    cxlRefusals.set(slot, (e.code ? e.code + ': ' : '') + e.message);
  }
  scheduleRefresh();
}

// openCXLInsert asks what card to seat: what `ctl cxl insert` asks.
// Seating only makes the card present; the slot's Attention button then
// powers it, as on a real hot-plug slot.
function openCXLInsert(slot) {
  $('cxl-insert-slot').textContent = slot;
  $('cxl-insert-dialog').showModal();
}

async function submitCXLInsert(ev) {
  ev.preventDefault();
  const slot = $('cxl-insert-slot').textContent;
  const req = { capacity: $('cxl-insert-capacity').value.trim(), trusted: $('cxl-insert-trusted').checked };
  if ($('cxl-insert-online').value) req.online = $('cxl-insert-online').value;
  $('cxl-insert-dialog').close();
  // A refusal (a capacity that is no multiple of 256 MiB, an occupied
  // slot) lands on the slot's card like the button's.
  await cxlAct(slot, 'PUT', '/card', req);
}

// CXLDeviceChanged ops after which a slot's last refusal no longer
// describes it.
const cxlMovedOn = new Set(['inserted', 'enabled', 'disabled', 'pulled', 'surprise']);

// ---- the OS and RAS ----

async function refreshOS() {
  let nodes, blocks;
  try {
    [nodes, blocks] = await Promise.all([call('GET', CTL + '/os/nodes'), call('GET', CTL + '/os/blocks')]);
  } catch (e) {
    if (e.status === 409 || e.status === 503) {
      $('os-state').textContent = 'The OS is not running: ' + e.message;
      $('os-summary').textContent = '';
      $('nodes').tBodies[0].replaceChildren();
      $('blocks').replaceChildren();
      $('blocks-summary').textContent = '';
      return;
    }
    throw e;
  }
  $('os-state').textContent = '';
  $('nodes').tBodies[0].replaceChildren(...nodes.map((n) => el('tr', { 'data-node': n.id },
    el('td', {}, 'node' + n.id), el('td', {}, gib(n.present_pages * 4096)), el('td', {}, gib(n.managed_pages * 4096)),
    el('td', {}, gib(n.free_pages * 4096)), el('td', {}, n.hot_added ? 'yes' : 'no'))));
  const online = blocks.blocks.filter((b) => b.state === 'online').length;
  $('blocks-summary').textContent = online + ' online, ' + (blocks.blocks.length - online) + ' offline of ' + blocks.blocks.length + ' (' + gib(blocks.block_size_bytes) + ' each)';
  $('os-summary').textContent = nodes.length + ' NUMA node' + (nodes.length === 1 ? '' : 's');
  $('blocks').replaceChildren(...blocks.blocks.map((b) => el('span', {
    class: 'block' + (b.boot ? '' : ' hot'), id: 'block-' + b.id, 'data-state': b.state, 'data-node': b.node, 'data-boot': b.boot ? 'true' : 'false',
    title: 'memory' + b.id + ' · node' + b.node + ' · ' + b.state + (b.state === 'online' ? ' (' + b.online_type + ')' : '') + (b.boot ? '' : ' · hot-added'),
  })));
}

function renderRAS(r) {
  const rows = [
    el('div', {}, 'Mode ', el('b', { id: 'ras-mode' }, r.mode), r.requested && r.requested !== r.mode ? ' (requested ' + r.requested + ')' : '',
      r.next_boot ? ' · next boot ' + r.next_boot : ''),
    r.config_error ? el('div', { class: 'error' }, r.config_error) : null,
    el('div', {}, 'Usable ' + gib(r.usable_bytes) + ' of ' + gib(r.raw_bytes) + ' installed at boot (the RAS plan; hot-added modules join it at the next POST)'),
    r.redundancy ? el('div', {}, 'Redundancy ', el('span', { id: 'ras-redundancy', class: 'badge ' + (r.redundancy === 'FullyRedundant' ? 'OK' : 'Warning') }, r.redundancy)) : null,
    r.job ? el('div', { id: 'ras-job' }, r.job.kind + ' ' + r.job.slot + ' ', el('progress', { max: 100, value: r.job.percent }), ' ' + r.job.percent + ' %') : null,
  ];
  if (r.sets && r.sets.length) {
    rows.push(el('table', { class: 'grid-table' },
      el('thead', {}, el('tr', {}, el('th', {}, 'Set'), el('th', {}, 'Kind'), el('th', {}, 'State'), el('th', {}, 'Slots'))),
      el('tbody', {}, r.sets.map((s) => el('tr', {}, el('td', {}, s.name), el('td', {}, s.kind), el('td', {}, s.state), el('td', {}, s.slots.join(' ')))))));
  }
  $('ras').replaceChildren(...rows.filter(Boolean));
}

// ---- the SEL and the event stream ----

async function loadSEL(state) {
  if (selState && state.entries === selState.entries && state.last_id === selState.last_id && state.erased === selState.erased) return;
  selState = state;
  const skip = Math.max(0, state.entries - SEL_ROWS);
  const c = await call('GET', '/redfish/v1/Systems/1/LogServices/SEL/Entries?$skip=' + skip + '&$top=' + SEL_ROWS);
  const n = c['Members@odata.count'];
  $('sel-summary').textContent = n + (n === 1 ? ' entry' : ' entries');
  $('sel').tBodies[0].replaceChildren(...c.Members.slice().reverse().map((e) => el('tr', { 'data-id': e.Id, 'data-message-id': e.MessageId },
    el('td', {}, e.Id), el('td', {}, e.Created), el('td', {}, el('span', { class: 'badge ' + e.Severity }, e.Severity)),
    el('td', {}, e.SensorType || ''), el('td', {}, e.Message))));
}

function addEvent(rec) {
  const list = $('events');
  let detail = '';
  try {
    const ev = rec.event;
    detail = Object.entries(ev).filter(([k, v]) => k !== 'slot' && k !== 'module' && typeof v !== 'object').map(([k, v]) => k + '=' + v).join(' ');
  } catch (e) { /* no detail */ }
  list.prepend(el('li', { value: rec.seq, 'data-kind': rec.kind, 'data-slot': rec.slot || '' },
    new Date(rec.time).toLocaleTimeString() + ' ' + rec.kind + (rec.slot ? ' ' + rec.slot : '') + (detail ? ' ' + detail : '')));
  while (list.children.length > EVENT_ROWS) list.lastElementChild.remove();
}

function setLive(on) {
  $('live').textContent = on ? 'live' : 'offline';
  $('live').classList.toggle('on', on);
}

function dispatch(event, data) {
  let v;
  try { v = JSON.parse(data); } catch (e) { return; }
  switch (event) {
    case 'hello':
      if (!lastSeq) lastSeq = v.last_seq;
      loadSEL(v.sel).catch(showError);
      scheduleRefresh();
      break;
    case 'platform':
      lastSeq = v.seq;
      addEvent(v);
      if (v.kind === 'CXLDeviceChanged' && v.event && cxlMovedOn.has(v.event.op)) cxlRefusals.delete(v.slot);
      scheduleRefresh();
      break;
    case 'cxl':
      // IOMMU counters moved (a driver's DMA mapping) with no platform
      // event: read the CXL side again.
      scheduleRefresh();
      break;
    case 'resync':
      // Records were lost to the server's bound: read the board again.
      $('events').prepend(el('li', { class: 'resync' }, 'missed events before #' + v.from + '; board reloaded'));
      scheduleRefresh();
      break;
    case 'sel':
      loadSEL(v).catch(showError);
      break;
    case 'logout':
      endSession('Your session ended; log in again.');
      break;
  }
}

// openStream follows /ui/api/stream, reconnecting after a cut with the
// last sequence number seen, so nothing is missed that the server still
// holds.
async function openStream() {
  if (stream) stream.abort();
  const ctl = new AbortController();
  stream = ctl;
  try {
    // The first stream starts with the last events the server holds, a
    // reconnection where the last one stopped.
    const r = await fetch(API + '/stream' + (lastSeq ? '?since=' + lastSeq : '?recent=' + EVENT_ROWS), {
      headers: { 'X-Auth-Token': token, 'Accept': 'text/event-stream' }, signal: ctl.signal,
    });
    if (r.status === 401) { endSession('Your session ended; log in again.'); return; }
    if (!r.ok) throw new Error('stream: ' + r.status);
    setLive(true);
    await readEventStream(r.body, (ev) => dispatch(ev.type, ev.data));
  } catch (e) {
    if (ctl.signal.aborted) return;
  }
  setLive(false);
  if (stream === ctl && token) setTimeout(() => { if (stream === ctl && token) openStream(); }, 2000);
}

document.addEventListener('DOMContentLoaded', () => {
  $('login-form').addEventListener('submit', login);
  $('logout').addEventListener('click', logout);
  $('insert-form').addEventListener('submit', submitInsert);
  $('insert-cancel').addEventListener('click', () => $('insert-dialog').close());
  $('cxl-insert-form').addEventListener('submit', submitCXLInsert);
  $('cxl-insert-cancel').addEventListener('click', () => $('cxl-insert-dialog').close());
  $('fault-arm').addEventListener('click', () => faultAction('arm'));
  $('fault-clear').addEventListener('click', () => faultAction('clear'));
  $('fault-ce').addEventListener('click', () => faultAction('ce'));
  $('fault-ue').addEventListener('click', () => faultAction('ue'));
  $('fault-fail').addEventListener('click', () => faultAction('fail'));
  $('fault-close').addEventListener('click', () => $('fault-dialog').close());
  if (token) begin(); else endSession('');
});
