// Helpers for a module's native tests (`node --test`): the module configured as the host
// would configure it, batches of events, and request bodies assembled as the host
// assembles them.

import { Batch, Settings } from './sluice.js';

/** What a test host enriches with: host `test-host`, no tags. */
export const ENRICHMENT = { hostName: 'test-host', machineId: '', sluiceVersion: '0.0.0', tags: [] };

/** `formatter` configured with `settings` (an object) and the defaults its `info` declares,
 * as a destination's `settings` table would configure it. */
export function configure(formatter, settings = {}) {
  return new formatter(new Settings(Object.entries(settings), formatter.info.settings), ENRICHMENT);
}

/** `events` (JSON objects, as text or objects) as a batch: event `n` has id `n` and time
 * `2023-11-14T22:13:20Z` plus `n` seconds. */
export function batch(events) {
  const texts = events.map((event) => (typeof event === 'string' ? event : JSON.stringify(event)));
  const encoder = new TextEncoder();
  let end = 0;
  const ends = Uint32Array.from(texts, (text) => (end += encoder.encode(text).length));
  const count = texts.length;
  const raw = {
    ends,
    timesMs: BigInt64Array.from({ length: count }, (_, n) => 1_700_000_000_000n + 1000n * BigInt(n)),
    ingestTimes: new Uint32Array(),
    idsHigh: new BigUint64Array(count),
    idsLow: BigUint64Array.from({ length: count }, (_, n) => BigInt(n)),
  };
  const text = texts.join('');
  return new Batch(raw, { read: () => text });
}

/** The bytes the host makes of a payload: its pieces, from the batch's text then the
 * payload's own text, or the text alone when there are no pieces. */
export function assemble(payload, batch) {
  if (payload.pieces.length === 0) return payload.text;
  const events = batch.textBytes();
  const space = new Uint8Array(events.length + payload.text.length);
  space.set(events);
  space.set(payload.text, events.length);
  const parts = Array.from(payload.pieces, (piece) => space.subarray(Number(piece >> 32n), Number(piece & 0xffffffffn)));
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Each HTTP request of an answer, with its body assembled as text. */
export function httpRequests(formatted, batch) {
  return formatted.requests.map((request) => [request.val, new TextDecoder().decode(assemble(request.val.body, batch))]);
}
