// Registers reporter "kafka" (ADR-022).
import { registerPlugin } from '../../../plugin/registry.ts';
import { KafkaReporter } from './kafka-reporter.ts';

registerPlugin('reporter', 'kafka', () => new KafkaReporter());
