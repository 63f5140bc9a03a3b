// Registers the pcap capturer (capture files: pcap, pcapng, gzip/zstd-compressed).
export { PcapCapturer } from './capturer.ts';
export { CaptureFileReader, readCaptureFile, checkCaptureFile, type ReaderOptions } from './capture-reader.ts';
export { pcapConfigSchema, parsePcapConfig, type PcapConfig } from './config.ts';
export { TsUnits } from './timestamp.ts';
