import assert from 'node:assert/strict';
import { test } from 'node:test';

import { FormatError } from '../sluice.js';
import { batch, configure, httpRequests } from '../testing.js';
import { Loki } from '../loki.js';

const EVENTS = ['{"action":"login","user":"zoë"}', '{"action":"read","note":"a\\"b\\nc"}'];

test('one stream of every event at its time', () => {
  const events = batch(EVENTS);
  const [[request, body]] = httpRequests(configure(Loki, { tenant: 'secops' }).format(events), events);
  assert.equal(request.path, '/loki/api/v1/push');
  assert.deepEqual(request.headers.at(-1), ['X-Scope-OrgID', 'secops']);
  assert.deepEqual([...request.events], [0, 1]);
  const stream = JSON.parse(body).streams[0];
  assert.deepEqual(stream.stream, { job: 'sluice' });
  assert.deepEqual(stream.values, [['1700000000000000000', EVENTS[0]], ['1700000001000000000', EVENTS[1]]]);
});

test('an empty job is refused before any event', () => {
  assert.throws(() => configure(Loki, { job: ' ' }), FormatError);
});
