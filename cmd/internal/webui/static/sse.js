// Server-sent events read from a fetch() body, shared by the board page
// (app.js) and the fleet grid (fleet.js). Both read the stream with fetch
// rather than EventSource because EventSource cannot send the
// X-Auth-Token or Authorization header.
//
// The parser follows the WHATWG HTML Standard, section 9.2.6 "Interpreting
// an event stream": lines end in CRLF, LF or CR; a line starting with ':'
// is a comment; "field: value" loses one space after the colon; the
// fields are event, data, id and retry, anything else is ignored; data
// lines are joined with "\n"; a blank line dispatches; an event without
// data is not dispatched; an event cut off by the end of the stream is
// discarded.
'use strict';

// SSEParser turns text chunks, split anywhere, into events handed to
// onEvent({ type, data, lastEventId }). onRetry(ms), if given, receives
// a valid "retry" field.
class SSEParser {
  constructor(onEvent, onRetry) {
    this.onEvent = onEvent;
    this.onRetry = onRetry || null;
    this.buf = '';
    this.first = true; // a leading U+FEFF is dropped
    this.afterCR = false; // a chunk ended in CR: a leading LF ends no line
    this.type = '';
    this.data = '';
    this.lastEventId = '';
    this.idBuf = '';
  }

  push(chunk) {
    if (this.first && chunk.length > 0) {
      this.first = false;
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
    }
    if (this.afterCR && chunk.length > 0) {
      this.afterCR = false;
      if (chunk[0] === '\n') chunk = chunk.slice(1);
    }
    this.buf += chunk;
    let start = 0;
    for (;;) {
      const cr = this.buf.indexOf('\r', start);
      const lf = this.buf.indexOf('\n', start);
      let end;
      if (cr < 0 && lf < 0) break;
      if (cr < 0 || (lf >= 0 && lf < cr)) end = lf;
      else end = cr;
      const line = this.buf.slice(start, end);
      start = end + 1;
      if (end === cr) {
        if (start === this.buf.length) this.afterCR = true;
        else if (this.buf[start] === '\n') start++;
      }
      this.line(line);
    }
    this.buf = this.buf.slice(start);
  }

  line(line) {
    if (line === '') { this.dispatch(); return; }
    if (line[0] === ':') return;
    const c = line.indexOf(':');
    const field = c < 0 ? line : line.slice(0, c);
    let value = c < 0 ? '' : line.slice(c + 1);
    if (value[0] === ' ') value = value.slice(1);
    switch (field) {
      case 'event': this.type = value; break;
      case 'data': this.data += value + '\n'; break;
      case 'id': if (!value.includes('\0')) this.idBuf = value; break;
      case 'retry':
        if (/^[0-9]+$/.test(value) && this.onRetry) this.onRetry(parseInt(value, 10));
        break;
    }
  }

  dispatch() {
    this.lastEventId = this.idBuf;
    if (this.data === '') { this.type = ''; return; }
    const ev = { type: this.type || 'message', data: this.data.slice(0, -1), lastEventId: this.lastEventId };
    this.type = '';
    this.data = '';
    this.onEvent(ev);
  }
}

// readEventStream reads a fetch() response body to its end, calling
// onEvent for each event; it resolves when the server closes the stream
// and rejects when the connection fails or is aborted.
async function readEventStream(body, onEvent, onRetry) {
  const p = new SSEParser(onEvent, onRetry);
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    p.push(value);
  }
}
