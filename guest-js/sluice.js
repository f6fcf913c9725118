// Sluice's helper for formatter modules written in JavaScript.
//
// A module is a class with a static `info` (from `httpInfo`), a constructor taking the
// destination's settings and the host's enrichment, and `format(batch)`; the module's
// entry file exports it with
//     import * as host from 'sluice:module/host@0.6.0';
//     export const formatting = exportFormatter(MyFormatter, host);
// and `componentize-js --wit wit --world-name formatter -d http fetch-event -o NAME.wasm app.js`
// builds it. The values a module answers with are the contract's types as componentize-js
// maps them from `wit/sluice.wit` (records as objects with camelCase members, variants as
// `{ tag, val }`, enums as their kebab-case names, `u64` as BigInt); the helpers below only
// follow the rules the Rust SDK (`sluice-guest`) follows, under the same names, so that
// modules in either language answer alike.
//
// This file imports nothing from the host, so a module's logic runs natively under
// `node --test`; the host's functions arrive through `exportFormatter`.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What `configure` or `format` throws for the host: a bad setting (`FormatError.setting`)
 * is reported before any event; any other failure keeps the batch, which is retried. */
export class FormatError extends Error {
  constructor(error) {
    super(error.tag === 'invalid-setting' ? `${error.val.key}: ${error.val.problem}` : error.val);
    // componentize-js turns a thrown value with a `payload` into the `err` of a result.
    this.payload = error;
  }
  static setting(key, problem) {
    return new FormatError({ tag: 'invalid-setting', val: { key, problem } });
  }
  static failed(reason) {
    return new FormatError({ tag: 'failed', val: reason });
  }
}

/** A destination's settings; the host has already refused keys the module does not declare. */
export class Settings {
  constructor(values, docs) {
    this.values = values;
    this.docs = docs;
  }
  /** The configured value (the last one given), else the declared default. */
  get(key) {
    for (let i = this.values.length - 1; i >= 0; i--) {
      if (this.values[i][0] === key) return this.values[i][1];
    }
    return this.docs.find((doc) => doc.name === key)?.defaultValue;
  }
  /** The value when it is not blank: how a module reads a text setting. */
  text(key) {
    const value = this.get(key);
    return value !== undefined && value.trim() !== '' ? value : undefined;
  }
  /** Throws one error naming every key without a value, so a user fixes all at once. */
  require(...keys) {
    const missing = keys.filter((key) => this.text(key) === undefined);
    if (missing.length === 1) throw FormatError.setting(missing[0], 'required');
    if (missing.length > 1) {
      const rest = missing.slice(1).map((key) => `\`${key}\``).join(', ');
      throw FormatError.setting(missing[0], `required (missing too: ${rest})`);
    }
  }
  /** A boolean: `true`/`false`, also `yes`/`no`, `on`/`off`, `1`/`0`; absent is false. */
  flag(key) {
    const value = this.get(key);
    if ([undefined, 'false', 'no', 'off', '0'].includes(value)) return false;
    if (['true', 'yes', 'on', '1'].includes(value)) return true;
    throw FormatError.setting(key, `\`${value}\` is not a boolean (use true or false)`);
  }
}

/** One event of a batch: its place (`index`, and `start`..`end` in the batch's text), time,
 * id, and its JSON text on demand. */
export class Event {
  constructor(batch, index, start, end) {
    this.batch = batch;
    this.index = index;
    this.start = start;
    this.end = end;
  }
  /** The event's JSON object, as the producer wrote it. */
  get json() {
    return decoder.decode(this.batch.textBytes().subarray(this.start, this.end));
  }
  /** The value at a dotted path (`actor.id`) of objects, never into an array, or
   * undefined. Parses the whole event; a number beyond 2^53 loses precision (JSON.parse). */
  field(path) {
    let value = JSON.parse(this.json);
    if (Object.hasOwn(value, path)) return value[path];
    for (const part of path.split('.')) {
      const isObject = value !== null && typeof value === 'object' && !Array.isArray(value);
      if (!isObject || !Object.hasOwn(value, part)) return undefined;
      value = value[part];
    }
    return value;
  }
  /** The event's time in milliseconds since the Unix epoch (UTC), a BigInt. */
  get timeMs() {
    return this.batch.raw.timesMs[this.index];
  }
  /** Whether the host assigned the time at ingest (no time field held one). */
  get ingestTime() {
    return this.batch.ingestTimes.has(this.index);
  }
  /** The event's 128-bit id, a BigInt: the same for a redelivered event. */
  get id() {
    return (BigInt(this.batch.raw.idsHigh[this.index]) << 64n) | BigInt(this.batch.raw.idsLow[this.index]);
  }
  /** The id as 32 lowercase hex digits, as the built-in modules write it. */
  get idHex() {
    return this.id.toString(16).padStart(32, '0');
  }
}

/** The events of one `format` call. Their text is read from the host once, on the first
 * `Event.json`. */
export class Batch {
  constructor(raw, text) {
    this.raw = raw;
    this.text = text;
    this.bytes = undefined;
    this.ingestTimes = new Set(raw.ingestTimes);
  }
  get length() {
    return this.raw.ends.length;
  }
  /** Bytes of the batch's event text (a payload's own text starts after it). */
  get textLen() {
    return this.length ? this.raw.ends[this.length - 1] : 0;
  }
  textBytes() {
    this.bytes ??= encoder.encode(this.text.read());
    return this.bytes;
  }
  *events() {
    let start = 0;
    for (let index = 0; index < this.length; index++) {
      const end = this.raw.ends[index];
      yield new Event(this, index, start, end);
      start = end;
    }
  }
  /** Every event's index: what a request that carries the whole batch lists. */
  allIndices() {
    return Uint32Array.from({ length: this.length }, (_, i) => i);
  }
}

/** A request body or run of messages made of pieces: the module's own bytes, written once,
 * and events placed by their range in the batch's text, never copied. */
export class PayloadBuilder {
  constructor(batch) {
    this.base = BigInt(batch.textLen);
    this.chunks = [];
    this.written = 0n;
    this.pieces = [];
  }
  /** Appends the module's own bytes (a string is written as UTF-8). */
  push(data) {
    const bytes = typeof data === 'string' ? encoder.encode(data) : data;
    if (bytes.length === 0) return;
    const start = this.base + this.written;
    this.chunks.push(bytes);
    this.written += BigInt(bytes.length);
    const end = this.base + this.written;
    const last = this.pieces.length - 1;
    if (last >= 0 && (this.pieces[last] & 0xffffffffn) === start) {
      this.pieces[last] = (this.pieces[last] & ~0xffffffffn) | end; // extends the last piece
    } else {
      this.pieces.push((start << 32n) | end);
    }
  }
  /** Appends an event's JSON by its range in the batch's text. */
  pushEvent(event) {
    this.pieces.push((BigInt(event.start) << 32n) | BigInt(event.end));
  }
  finish() {
    const text = new Uint8Array(Number(this.written));
    let at = 0;
    for (const chunk of this.chunks) {
      text.set(chunk, at);
      at += chunk.length;
    }
    return { text, pieces: BigUint64Array.from(this.pieces) };
  }
}

// --- Escaping, the same rules as the Rust SDK's ---

/** `text` as a JSON string, quotes included: `"` and `\` escaped, every control character
 * as `\n`-style or `\u00XX`, the rest as is (byte for byte what serde_json writes). */
export function jsonString(text) {
  return JSON.stringify(text);
}

const BREAKS_A_LINE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/** A CEF header field: `\` and `|` escaped, line breaks and other controls a space. */
export function cefHeader(text) {
  return text.replace(/[\\|]/g, '\\$&').replace(BREAKS_A_LINE, ' ');
}

/** A CEF extension value: `\` and `=` escaped, CR and LF as `\r` and `\n`, other controls a space. */
export function cefExtensionValue(text) {
  return text
    .replace(/[\\=]/g, '\\$&')
    .replace(/\n/g, '\\n')
    .replace(/\r/g, '\\r')
    .replace(BREAKS_A_LINE, ' ');
}

/** An RFC 5424 SD-PARAM value: `"`, `\` and `]` escaped, controls a space. */
export function syslogSdValue(text) {
  return text.replace(/["\\\]]/g, '\\$&').replace(BREAKS_A_LINE, ' ');
}

/** Text for a line-framed output with no escapes (a syslog MSG): controls a space. */
export function singleLine(text) {
  return text.replace(BREAKS_A_LINE, ' ');
}

// --- Answers ---

/** An HTTP module's description, with the host's default batch limits. */
export function httpInfo(name, version, { settings = [], auth, maxEvents = 500, maxBytes = 1_000_000 } = {}) {
  return { name, version, transport: 'http', batch: { maxEvents, maxBytes }, auth, endpointChoice: undefined, settings };
}

/** A setting the module accepts; `defaultValue` undefined when it has none. */
export function settingDoc(name, description, defaultValue) {
  return { name, description, defaultValue };
}

/** `Authorization: Bearer <token>`: the host adds the destination's token; the module never sees it. */
export function bearer() {
  return { name: 'Authorization', prefix: 'Bearer ', optional: false };
}

/** One HTTP request carrying `events` (indices in the batch, in body order). */
export function httpRequest(method, path, body, events, { headers = [], compression = 'none' } = {}) {
  return { tag: 'http', val: { method, path, headers, body, compression, events } };
}

/** What an HTTP status alone says: 2xx delivered; 408, 429 and 5xx retried (after
 * `Retry-After` seconds when given); 413 too large; any other refused. */
export function verdictFromStatus(response) {
  const status = response.status;
  if (status >= 200 && status <= 299) return { tag: 'delivered' };
  if (status === 413) return { tag: 'too-large' };
  if (status === 408 || status === 429 || (status >= 500 && status <= 599)) {
    return { tag: 'retry', val: { reason: `HTTP ${status}`, afterMs: retryAfterMs(response) } };
  }
  return { tag: 'refused', val: `HTTP ${status}: ${decoder.decode(response.body)}` };
}

function retryAfterMs(response) {
  const header = response.headers.find(([name]) => name.toLowerCase() === 'retry-after');
  const seconds = header && /^\s*\d+\s*$/.test(header[1]) ? Number(header[1]) : undefined;
  return seconds === undefined ? undefined : Math.min(seconds * 1000, 0xffffffff);
}

let hostLog = (level, message) => console.error(`${level}: ${message}`);

/** Writes to the host's log (`trace`, `debug`, `info`, `warn`, `error`), tagged with the
 * module's name; to stderr when the module runs natively, in its tests. */
export function log(level, message) {
  hostLog(level, message);
}

/** What a module implements besides `info`, its constructor and `format`: the defaults. */
export class Formatter {
  classify(response, request) {
    return verdictFromStatus(response);
  }
  connectionCheck() {
    return undefined;
  }
  ackQuery(tickets) {
    return undefined;
  }
  readAcks(response, tickets) {
    throw { payload: 'this module never answers `pending`, so it has no acknowledgements to read' };
  }
}

/** The contract's `formatting` interface for `formatter` (a class), with the host's
 * functions (`import * as host from 'sluice:module/host@0.6.0'`): export it as `formatting`. */
export function exportFormatter(formatter, host) {
  hostLog = host.log;
  let configured;
  const instance = () => {
    if (configured === undefined) throw new Error('the host calls `configure` first');
    return configured;
  };
  // What `configure` and `format` throw becomes the host's format error, named, where the
  // runtime would otherwise trap with no word of it (the module has no stderr).
  const named = (action) => {
    try {
      return action();
    } catch (error) {
      // A FormatError, or any value with the contract's error as its `payload`.
      if (error?.payload !== undefined) throw error;
      const failed = error instanceof Error ? `${error.name}: ${error.message}` : `thrown: ${String(error)}`;
      hostLog('error', `${failed}\n${error?.stack ?? ''}`);
      throw FormatError.failed(failed);
    }
  };
  return {
    describe: () => formatter.info,
    configure(settings, enrichment) {
      named(() => {
        configured = new formatter(new Settings(settings, formatter.info.settings), enrichment);
      });
    },
    format: (batch, text) => named(() => instance().format(new Batch(batch, text))),
    classify(response, request) {
      try {
        return instance().classify(response, request);
      } catch (error) {
        // No error to answer with: the call fails, its reason in the host's log.
        hostLog('error', `classify failed: ${error?.stack ?? error}`);
        throw error;
      }
    },
    checkConnection: () => instance().connectionCheck(),
    ackQuery: (tickets) => instance().ackQuery(tickets),
    readAcks: (response, tickets) => instance().readAcks(response, tickets),
  };
}
