// The module's entry: the Loki formatter as the contract's `formatting` interface.
import * as host from 'sluice:module/host@0.6.0';
import { exportFormatter } from './sluice.js';
import { Loki } from './loki.js';

export const formatting = exportFormatter(Loki, host);
