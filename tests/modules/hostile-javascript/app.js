// A module that tries what the sandbox must stop, by its `act` setting: `loop` forever,
// take `memory` without end, or `fetch` from `port` on loopback. What a blocked attempt
// threw is its events' refusal reason, so a test sees it.
import * as host from 'sluice:module/host@0.6.0';
import { FormatError, Formatter, PayloadBuilder, exportFormatter, httpInfo, httpRequest, settingDoc } from './sluice.js';

class Hostile extends Formatter {
  static info = httpInfo('hostile', '0.1.0', {
    settings: [settingDoc('act', 'what to try'), settingDoc('port', 'a port on loopback', '9')],
  });

  constructor(settings) {
    super();
    this.act = settings.text('act');
    this.port = settings.get('port');
    if (!['loop', 'memory', 'socket'].includes(this.act)) throw FormatError.setting('act', 'one of loop, memory, socket');
  }

  format(batch) {
    if (isTheHostsTrial(batch)) return { requests: [], refused: [] };
    if (this.act === 'loop') for (;;);
    if (this.act === 'memory') {
      const hoard = [];
      for (;;) hoard.push(new Uint8Array(1 << 20).fill(1));
    }
    let leaked;
    try {
      leaked = String(fetch(`http://127.0.0.1:${this.port}/`));
    } catch (error) {
      const reason = `socket blocked: ${error}`;
      return { requests: [], refused: Array.from(batch.events(), (event) => ({ event: event.index, reason })) };
    }
    // Not reached in the sandbox: what the module got out, sent where a test sees it.
    const body = new PayloadBuilder(batch);
    body.push(leaked);
    return { requests: [httpRequest('POST', '/leak', body.finish(), batch.allIndices())], refused: [] };
  }
}

// The one sample event the host formats before it starts a destination: answered well, so
// that the act shows on the events of the run, as a module only some input breaks would.
function isTheHostsTrial(batch) {
  return batch.length === 1 && batch.events().next().value.json.includes('"event_type":"sluice.check"');
}

export const formatting = exportFormatter(Hostile, host);
