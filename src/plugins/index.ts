// Loads every built-in plugin so that each registers itself (ADR-022).
import './capture/pcap/index.ts';
import './capture/afpacket/index.ts';
import './parser/sip/index.ts';
import './parser/rtp/index.ts';
import './parser/rtcp/index.ts';
import './parser/dns/index.ts';
import './parser/http/index.ts';
import './processor/index.ts';
import './reporter/console/console-reporter.ts';
import './reporter/file/file-reporter.ts';
import './reporter/kafka/index.ts';
import './reporter/hep/hep-reporter.ts';
