// OutputRecord: an OutputPacket after processors, in the form that crosses
// from a pipeline worker to the sender (structured-clone friendly: no
// methods, the payload already serialised in the forms the reporters need).
import type { FiveTuple, Labels, NetworkMeta, OutputPacket } from './output.ts';
import { nineDigits } from './json-text.ts';

export interface OutputRecord {
  tsSec: number;
  tsNsec: number;
  frameNo: number;
  protocol: string;
  flow: FiveTuple;
  net: NetworkMeta;
  labels: Labels;
  /** JSON text of payload.toJSON(), when a reporter needs the JSON form. */
  payloadJson?: string;
  /** payload.toBinary(), when a reporter needs the binary form. */
  payloadBinary?: Uint8Array;
  /**
   * The whole public JSON record (toJsonLine), when a reporter writes JSON
   * lines: built in the pipeline worker, so the task's main thread (which
   * runs every reporter) only writes it out.
   */
  jsonLine?: string;
  /** The readable text line (toTextLine), when a console reporter writes text. */
  textLine?: string;
}

/** Records already written as the lines their reporters write, one per record, each ending in "\n". */
export interface LineBatch {
  /** The lines, UTF-8. */
  readonly bytes: Uint8Array;
  readonly count: number;
  /**
   * Called once no reporter needs `bytes` any more (each wrote the batch,
   * failed to, or its send buffer dropped it): the memory may then be reused.
   */
  readonly release?: () => void;
}

export interface PayloadForms {
  /** The payload's JSON text as its own field (payloadJson), for reporters that send it alone (HEP). */
  json: boolean;
  binary: boolean;
  /** Build the JSON line (jsonLine) with this task id and agent, for file, console and Kafka JSON reporters. */
  line?: { task: string; agent: string } | null;
  /** Build the text line (textLine), for console reporters writing text. */
  text?: boolean;
  /**
   * Every reporter of the task writes lines of this one format and reads
   * nothing else: the workers post their batches as UTF-8 lines in a
   * transferred buffer (LineBatch), which crosses threads about eight times
   * cheaper than record objects.
   */
  linesOnly?: 'json' | 'text' | null;
}

export function toRecord(p: OutputPacket, forms: PayloadForms): OutputRecord {
  const r: OutputRecord = {
    tsSec: p.tsSec,
    tsNsec: p.tsNsec,
    frameNo: p.frameNo,
    protocol: p.protocol,
    flow: p.flow,
    net: p.net,
    labels: p.labels,
  };
  const line = forms.line;
  if (forms.json || line) {
    const pl = p.payload;
    const text = pl.toJsonText !== undefined ? pl.toJsonText() : JSON.stringify(pl.toJSON());
    // On its own only for HEP; otherwise it would cross threads twice (alone and in the line).
    if (forms.json) r.payloadJson = text;
    if (line) r.jsonLine = jsonLineOf(r, line.task, line.agent, text);
  }
  if (forms.binary) r.payloadBinary = p.payload.toBinary();
  if (forms.text) r.textLine = textLineOf(r);
  return r;
}

/** RFC 3339 UTC timestamp with nanoseconds: 2026-02-13T10:30:45.123456789Z. */
export function formatTimestamp(tsSec: number, tsNsec: number): string {
  // Packets come in time order, many per second: the date and time part is
  // formatted once per second (Date#toISOString is the costly part).
  if (tsSec !== lastTsSec) {
    lastTsSec = tsSec;
    lastTsPrefix = new Date(tsSec * 1000).toISOString().slice(0, 19); // ...T10:30:45
  }
  return `${lastTsPrefix}.${nineDigits(tsNsec)}Z`;
}
let lastTsSec = NaN;
let lastTsPrefix = '';

/** Message key for a record: the flow id (ADR-028), stable for both directions' own 5-tuple. */
export function flowKey(r: OutputRecord): string {
  const f = r.flow;
  return `${f.proto}:${f.srcIp}:${f.srcPort}-${f.dstIp}:${f.dstPort}`;
}

/**
 * The public JSON record (DESIGN section 3). `frame` (capture sequence
 * number) is an addition that lets a record be matched with other tools.
 */
export function toJsonLine(r: OutputRecord, task: string, agent: string): string {
  return r.jsonLine ?? jsonLineOf(r, task, agent, r.payloadJson ?? 'null');
}

// A JSON.stringify call costs ~70 ns however short its argument (measured,
// node 24): the task/agent part of a line is the same for every record of a
// task, and protocols are a handful of names, so their JSON text is kept.
let lastTask: string | null = null;
let lastAgent: string | null = null;
let taskAgentJson = '';
const protocolJson = new Map<string, string>();

function jsonOfProtocol(protocol: string): string {
  let t = protocolJson.get(protocol);
  if (t === undefined) {
    t = JSON.stringify(protocol);
    // Parsers name a few protocols; the bound only guards against a plugin that makes up names.
    if (protocolJson.size < 256) protocolJson.set(protocol, t);
  }
  return t;
}

function jsonLineOf(r: OutputRecord, task: string, agent: string, payloadJson: string): string {
  if (task !== lastTask || agent !== lastAgent) {
    lastTask = task;
    lastAgent = agent;
    taskAgentJson = `"task":${JSON.stringify(task)},"agent":${JSON.stringify(agent)}`;
  }
  const n = r.net;
  const t = n.tunnel;
  const tunnel =
    t === null
      ? 'null'
      : `{"type":${JSON.stringify(t.type)},"outer_src_ip":"${t.outerSrcIp}","outer_dst_ip":"${t.outerDstIp}","vni":${t.vni}}`;
  return (
    `{"ts":"${formatTimestamp(r.tsSec, r.tsNsec)}",${taskAgentJson},` +
    `"frame":${r.frameNo},"protocol":${jsonOfProtocol(r.protocol)},` +
    `"flow":{"src_ip":"${r.flow.srcIp}","dst_ip":"${r.flow.dstIp}","src_port":${r.flow.srcPort},"dst_port":${r.flow.dstPort},"proto":${r.flow.proto}},` +
    `"net":{"ip_version":${n.ipVersion},"vlans":[${n.vlans.length === 0 ? '' : n.vlans.join(',')}],"tunnel":${tunnel},"fragmented":${n.fragmented},"ttl":${n.ttl}},` +
    `"labels":${JSON.stringify(r.labels)},"payload":${payloadJson}}`
  );
}

/** One readable line per record, for a terminal. */
export function toTextLine(r: OutputRecord): string {
  return r.textLine ?? textLineOf(r);
}

function textLineOf(r: OutputRecord): string {
  const f = r.flow;
  const vl = r.net.vlans.length ? ` vlan=${r.net.vlans.join('.')}` : '';
  const tn = r.net.tunnel ? ` ${r.net.tunnel.type}(${r.net.tunnel.outerSrcIp}>${r.net.tunnel.outerDstIp}${r.net.tunnel.vni !== null ? ` id=${r.net.tunnel.vni}` : ''})` : '';
  const labels = Object.entries(r.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const ep = (ip: string, port: number) => (ip.includes(':') ? `[${ip}]` : ip) + (port ? `:${port}` : '');
  return `${formatTimestamp(r.tsSec, r.tsNsec)} #${r.frameNo} ${r.protocol} ${ep(f.srcIp, f.srcPort)} > ${ep(f.dstIp, f.dstPort)} proto=${f.proto}${vl}${tn}${r.net.fragmented ? ' frag' : ''}${labels ? ' ' + labels : ''}`;
}
