// Loads every built-in plugin so that each registers itself (ADR-022).
import './capture/pcap/index.ts';
import './reporter/console/console-reporter.ts';
import './reporter/file/file-reporter.ts';
