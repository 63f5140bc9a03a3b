// One OutputRecord as a Kafka message (ADR-027/028, DESIGN section 3):
// topic fixed or "<prefix>-<payload type>", key = flow id, envelope in
// headers (labels as "l.<name>"), value = the JSON record or the payload's
// binary form.
import { flowKey, formatTimestamp, toJsonLine, type OutputRecord } from '../../../core/record.ts';

export interface KafkaMessage {
  key: string;
  value: Buffer;
  headers: Record<string, string>;
  timestamp: string;
}

export function topicFor(r: OutputRecord, topic: string | null, prefix: string | null): string {
  return prefix !== null ? `${prefix}-${r.protocol}` : topic!;
}

export function headersFor(r: OutputRecord, task: string, agent: string): Record<string, string> {
  const h: Record<string, string> = {
    task_id: task,
    agent_id: agent,
    payload_type: r.protocol,
    src_ip: r.flow.srcIp,
    dst_ip: r.flow.dstIp,
    timestamp: formatTimestamp(r.tsSec, r.tsNsec),
  };
  for (const k in r.labels) h[`l.${k}`] = r.labels[k]!;
  return h;
}

const EMPTY = Buffer.alloc(0);

export function toKafkaMessage(r: OutputRecord, task: string, agent: string, binary: boolean): KafkaMessage {
  let value: Buffer;
  if (binary) {
    const b = r.payloadBinary;
    value = b ? Buffer.from(b.buffer, b.byteOffset, b.byteLength) : EMPTY;
  } else {
    value = Buffer.from(toJsonLine(r, task, agent));
  }
  return {
    key: flowKey(r),
    value,
    headers: headersFor(r, task, agent),
    timestamp: String(r.tsSec * 1000 + Math.floor(r.tsNsec / 1e6)),
  };
}
