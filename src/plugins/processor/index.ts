// Registers the processors (ADR-011: filtering and light labelling, nothing else).
export { FilterProcessor, filterConfigSchema, type FilterConfig, type FilterConfigInput, type FilterRule } from './filter/filter-processor.ts';
export { LabelProcessor, labelConfigSchema, type LabelConfig, type LabelConfigInput } from './label/label-processor.ts';
