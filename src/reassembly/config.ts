// From the global configuration's core.decoder.tcp_reassembly section to the
// reassembler's settings.
import type { GlobalConfig } from '../config/global-schema.ts';
import type { TcpReassemblyConfig } from './api.ts';

type Section = GlobalConfig['otus']['core']['decoder']['tcp_reassembly'];

export function tcpReassemblyConfigOf(t: Section): TcpReassemblyConfig {
  return {
    enabled: t.enabled,
    ports: [...t.ports],
    midStreamJoin: t.mid_stream_join,
    synRequiredPorts: [...t.syn_required_ports],
    maxConcurrentStreams: t.max_concurrent_streams,
    perStreamBufferLimit: t.per_stream_buffer_limit,
    globalMemoryLimit: t.global_memory_limit,
    streamTimeoutSec: t.stream_timeout,
    gapTimeoutSec: t.gap_timeout,
  };
}
