// The module natively, as the host would configure and call it.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { FormatError } from '../sluice.js';
import { batch, configure, httpRequests } from '../testing.js';
import { Module } from '../module.js';

test('a batch is one post of the events, one per line', () => {
  const events = batch(['{"a":1}', '{"b":"x"}']);
  const [[request, body]] = httpRequests(configure(Module, { path: '/logs' }).format(events), events);
  assert.equal(request.path, '/logs');
  assert.deepEqual([...request.events], [0, 1]);
  assert.equal(body, '{"a":1}\n{"b":"x"}\n');
});

test('a path without a slash is refused', () => {
  assert.throws(() => configure(Module, { path: 'logs' }), FormatError);
});
