// The module's entry: the formatter of module.js as the contract's `formatting` interface,
// with the host's functions (which exist only inside Sluice; the tests import module.js).
import * as host from 'sluice:module/host@0.6.0';
import { exportFormatter } from './sluice.js';
import { Module } from './module.js';

export const formatting = exportFormatter(Module, host);
