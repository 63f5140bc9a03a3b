// `npm run bench [-- SECTION...]`: runs the benchmark sections one after the
// other (never in parallel: they measure one core each) and prints them.
// Figures and method are recorded in BENCHMARKS.md.
import { formatSection, type BenchSection } from './report.ts';

const SECTIONS: Record<string, () => Promise<{ run(): Promise<BenchSection> }>> = {
  decoder: () => import('./decoder.ts'),
  pipeline: () => import('./pipeline.ts'),
  'tcp-reassembly': () => import('./tcp-reassembly.ts'),
  afpacket: () => import('./afpacket.ts'),
  kafka: () => import('./kafka.ts'),
  policy: () => import('./policy.ts'),
};

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((w) => !(w in SECTIONS));
  if (unknown.length) {
    console.error(`unknown bench section(s): ${unknown.join(', ')}; known: ${Object.keys(SECTIONS).join(', ')}`);
    process.exit(2);
  }
  const names = wanted.length ? wanted : Object.keys(SECTIONS);
  console.log(`otus bench: node ${process.version}, ${new Date().toISOString()}`);
  for (const name of names) {
    try {
      const mod = await SECTIONS[name]!();
      console.log(formatSection(await mod.run()));
    } catch (e) {
      console.log(`== ${name}: failed: ${(e as Error).stack ?? String(e)}`);
      process.exitCode = 1;
    }
  }
}

void main();
