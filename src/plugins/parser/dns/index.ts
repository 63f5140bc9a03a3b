// Registers the dns parser; the message parser is exported for DNS over TCP.
export { DnsParser, DnsPayload, dnsConfigSchema, dnsLabels, DEFAULT_DNS_PORTS, type DnsConfig, type DnsConfigInput } from './dns-parser.ts';
export * from './message.ts';
export { className, DnsType, opcodeName, rcodeName, typeName } from './names.ts';
