// `{name}`: a Sluice module. Each batch becomes one POST of newline-delimited JSON (the
// events unchanged) to the `path` setting, with the destination's token as a bearer token.
// Change `format` to write what your destination reads.

import { FormatError, Formatter, PayloadBuilder, bearer, httpInfo, httpRequest, settingDoc } from './sluice.js';

export class Module extends Formatter {
  static info = httpInfo('{name}', '0.1.0', {
    settings: [settingDoc('path', 'where the events are posted', '/ingest')],
    auth: bearer(),
  });

  // The formatter of one destination, made from its settings: throw
  // `FormatError.setting` for one it cannot use, before any event.
  constructor(settings, enrichment) {
    super();
    this.path = settings.text('path') ?? '';
    if (!this.path.startsWith('/')) throw FormatError.setting('path', 'must start with `/`');
  }

  format(batch) {
    const body = new PayloadBuilder(batch);
    for (const event of batch.events()) {
      body.pushEvent(event); // placed by the host: never copied into JavaScript
      body.push('\n');
    }
    const request = httpRequest('POST', this.path, body.finish(), batch.allIndices(), {
      headers: [['Content-Type', 'application/x-ndjson']],
      compression: 'gzip',
    });
    return { requests: [request], refused: [] };
  }

  // `classify` reads the answer; the default knows HTTP status codes (2xx delivered;
  // 408, 429 and 5xx retried; 413 split; any other refused).
}
