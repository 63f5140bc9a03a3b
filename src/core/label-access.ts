// Reading and setting labels whose names are known when a task starts (the
// filter's rule labels, the label processor's keys). `labels[key]` with the
// key in a variable is a keyed property access, which V8 serves generically:
// the label processor's loop over two keys cost about 70 ns per packet on
// the fast path (measured, node 24). With the name written into the source
// of a function, each access is a named property load that V8 caches per
// label-object shape: about 2 ns for the same two keys. So these functions
// are generated once per processor instance. The names are validated label
// keys ([a-z0-9][a-z0-9.-]*) and are embedded as JSON string literals, which
// quote anything. Where code generation from strings is disabled (node
// --disallow-code-generation-from-strings), the generic forms are used.
import type { Labels } from './output.ts';

/** Reads one label: its value, or undefined when it is not set. */
export type LabelReader = (labels: Labels) => string | undefined;

/** Sets the labels it was made for; returns nothing. */
export type LabelWriter = (labels: Labels) => void;

/** True when the checks and stores by name could be generated (false: the generic forms run). */
export const generatedAccess = canGenerate();

function canGenerate(): boolean {
  try {
    return new Function('return 1')() === 1;
  } catch {
    return false;
  }
}

/** A reader of the label `key`. */
export function labelReader(key: string): LabelReader {
  if (!generatedAccess) return (labels) => labels[key];
  return new Function('labels', `return labels[${JSON.stringify(key)}];`) as LabelReader;
}

/**
 * A writer that sets keys[i] to values[i] for every i: only where the label
 * is not a string already, unless `overwrite`. (typeof, not `in`:
 * "constructor" is a valid key and inherited from Object.prototype.)
 */
export function labelWriter(keys: readonly string[], values: readonly string[], overwrite: boolean): LabelWriter {
  if (keys.length !== values.length) throw new Error('labelWriter: keys and values differ in length');
  if (!generatedAccess) {
    return (labels) => {
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!;
        if (overwrite || typeof labels[k] !== 'string') labels[k] = values[i]!;
      }
    };
  }
  let body = '';
  for (let i = 0; i < keys.length; i++) {
    const k = JSON.stringify(keys[i]!);
    body += overwrite ? `labels[${k}] = values[${i}];\n` : `if (typeof labels[${k}] !== 'string') labels[${k}] = values[${i}];\n`;
  }
  const make = new Function('values', `return function setLabels(labels) {\n${body}};`) as (v: readonly string[]) => LabelWriter;
  return make([...values]);
}
