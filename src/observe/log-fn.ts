// The logging function handed to every part of the daemon and to plugins:
// one shape everywhere, whatever backs it (pino, a test's array).
import type { PluginContext } from '../plugin/interfaces.ts';

export type Log = PluginContext['log'];
export type LogLevel = Parameters<Log>[0];
