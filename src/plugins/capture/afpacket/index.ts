// Registers the afpacket capturer (live capture through a TPACKET_V3 ring).
export { AfPacketCapturer } from './afpacket-capturer.ts';
export { afpacketConfigSchema, type AfPacketConfig, type AfPacketConfigInput } from './config.ts';
