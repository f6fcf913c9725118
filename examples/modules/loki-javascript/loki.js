// An example module in JavaScript: Grafana Loki's push API (`POST /loki/api/v1/push`,
// JSON), the same module as the Rust `examples/modules/loki`, byte for byte.
//
// Each batch is one request of one stream, labelled `job` (a setting), whose values are
// `[nanoseconds, line]` pairs: the event's time and its JSON as the log line. 204 on
// success; 429 and 5xx retried; any other status refused (the helper's default
// `classify`). A multi-tenant Loki reads the tenant from `X-Scope-OrgID`.

import {
  FormatError, Formatter, PayloadBuilder, bearer, httpInfo, httpRequest, jsonString, settingDoc,
} from './sluice.js';

export class Loki extends Formatter {
  static info = httpInfo('loki', '0.1.0', {
    settings: [
      settingDoc('job', "the stream's `job` label", 'sluice'),
      settingDoc('tenant', 'X-Scope-OrgID, for a multi-tenant Loki'),
    ],
    // The host adds the destination's `token`; the module never sees it.
    auth: bearer(),
  });

  constructor(settings, enrichment) {
    super();
    this.job = settings.text('job');
    if (this.job === undefined) throw FormatError.setting('job', 'a label cannot be empty');
    this.tenant = settings.text('tenant');
  }

  format(batch) {
    const body = new PayloadBuilder(batch);
    body.push(`{"streams":[{"stream":{"job":${jsonString(this.job)}},"values":[`);
    for (const event of batch.events()) {
      const comma = event.index ? ',' : '';
      // The event as one escaped string: the line Loki stores.
      body.push(`${comma}["${event.timeMs * 1_000_000n}",${jsonString(event.json)}]`);
    }
    body.push(']}]}');
    const headers = [['Content-Type', 'application/json']];
    if (this.tenant !== undefined) headers.push(['X-Scope-OrgID', this.tenant]);
    const request = httpRequest('POST', '/loki/api/v1/push', body.finish(), batch.allIndices(), {
      headers,
      compression: 'gzip',
    });
    return { requests: [request], refused: [] };
  }
}
