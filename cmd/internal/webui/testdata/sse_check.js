// Checks static/sse.js against event streams whose events the WHATWG
// HTML Standard (section 9.2.6, "Interpreting an event stream") fixes,
// each fed whole, split in two at every point and one character at a
// time; then, if given, the streams of a JSON file with the events Go's
// redfish/sse read from each, fed whole and in three pieces.
// Run by TestSSEJS: node sse_check.js path/to/sse.js [vectors.json]
'use strict';
const fs = require('fs');
const vm = require('vm');

const ctx = vm.createContext({});
vm.runInContext(fs.readFileSync(process.argv[2], 'utf8'), ctx, { filename: 'sse.js' });
const SSEParser = vm.runInContext('SSEParser', ctx);

const ev = (type, data, lastEventId = '') => ({ type, data, lastEventId });
const cases = [
  ['named event', 'event: member\ndata: {"id":1}\n\n', [ev('member', '{"id":1}')]],
  ['comment skipped', ': keepalive\n\nevent: a\ndata: x\n\n', [ev('a', 'x')]],
  ['multi-line data', 'data: one\ndata: two\n\n', [ev('message', 'one\ntwo')]],
  ['CRLF', 'event: e\r\ndata: d\r\n\r\n', [ev('e', 'd')]],
  ['CR', 'event: e\rdata: d\r\rdata: f\r\r', [ev('e', 'd'), ev('message', 'f')]],
  ['mixed line ends', 'data: a\r\ndata: b\rdata: c\n\r\n', [ev('message', 'a\nb\nc')]],
  ['one space dropped', 'data:x\n\ndata:  y\n\n', [ev('message', 'x'), ev('message', ' y')]],
  ['field alone', 'data\n\n', [ev('message', '')]],
  ['no data, no event', 'event: e\n\n', []],
  ['type resets', 'event: e\n\ndata: a\n\n', [ev('message', 'a')]],
  ['id kept', 'id: 7\ndata: a\n\ndata: b\n\n', [ev('message', 'a', '7'), ev('message', 'b', '7')]],
  ['id with NUL ignored', 'id: 1\ndata: a\n\nid: 2\0\ndata: b\n\n', [ev('message', 'a', '1'), ev('message', 'b', '1')]],
  ['unknown field', 'foo: bar\ndata: a\n\n', [ev('message', 'a')]],
  ['cut off at the end', 'data: a\n\ndata: b\n', [ev('message', 'a')]],
  ['BOM', '\ufeffdata: a\n\n', [ev('message', 'a')]],
  ['colon in value', 'data: a: b\n\n', [ev('message', 'a: b')]],
];

function run(chunks) {
  const out = [];
  const retries = [];
  const p = new SSEParser((e) => out.push({ type: e.type, data: e.data, lastEventId: e.lastEventId }), (ms) => retries.push(ms));
  for (const c of chunks) p.push(c);
  return { out, retries };
}

let failed = 0;
function check(name, chunks, want, wantRetries = []) {
  const got = run(chunks);
  const g = JSON.stringify(got.out), w = JSON.stringify(want);
  const gr = JSON.stringify(got.retries), wr = JSON.stringify(wantRetries);
  if (g !== w || gr !== wr) {
    failed++;
    console.log(name + ': chunks ' + JSON.stringify(chunks) + ': got ' + g + ' retries ' + gr + ', want ' + w + ' retries ' + wr);
  }
}

for (const [name, stream, want] of cases) {
  check(name, [stream], want);
  for (let i = 0; i <= stream.length; i++) check(name + ' split at ' + i, [stream.slice(0, i), stream.slice(i)], want);
  check(name + ' by character', [...stream], want);
}
check('retry', ['retry: 1500\nretry: 1.5\nretry: x\ndata: a\n\n'], [ev('message', 'a')], [1500]);

let shared = 0;
if (process.argv[3]) {
  for (const v of JSON.parse(fs.readFileSync(process.argv[3], 'utf8'))) {
    const want = (v.events || []).map((e) => ev(e.type, e.data, e.id));
    const n = v.stream.length;
    check('go vector ' + shared, [v.stream], want);
    const a = Math.floor(n / 3), b = Math.floor((2 * n) / 3);
    check('go vector ' + shared + ' in thirds', [v.stream.slice(0, a), v.stream.slice(a, b), v.stream.slice(b)], want);
    shared++;
  }
}

if (failed) process.exit(1);
console.log('ok ' + cases.length + ' streams, ' + shared + ' shared with redfish/sse');
