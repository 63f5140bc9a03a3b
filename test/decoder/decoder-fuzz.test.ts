// Fuzz test: random and mutated frames never make the decoder throw, never
// make it read outside the frame, and always leave a payload inside the
// buffer it points to. Reproducible: the PRNG is seeded (OTUS_FUZZ_SEED).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecodedPacket, LinkType, newRawPacket } from '../../src/core/packet.ts';
import { Decoder } from '../../src/decoder/decoder.ts';
import { DecodeResult, type DecoderConfig } from '../../src/decoder/api.ts';
import * as F from './frames.ts';

const SEED = Number(process.env['OTUS_FUZZ_SEED'] ?? 20261122);

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    // xorshift32
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

/**
 * A view of `data` that throws on any index read outside 0..length-1, so a
 * read past the frame is an error instead of a silent `undefined`.
 */
function guarded(data: Uint8Array): Uint8Array {
  return new Proxy(data, {
    get(target, prop) {
      if (typeof prop === 'string') {
        const c = prop.charCodeAt(0);
        if (c >= 48 && c <= 57) {
          const i = Number(prop);
          if (Number.isInteger(i) && (i < 0 || i >= target.length)) throw new RangeError(`read of byte ${i} of a ${target.length}-byte frame`);
        } else if (prop === '-1') throw new RangeError('read of byte -1');
      }
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

const O = { src: [192, 168, 0, 1], dst: [192, 168, 0, 2] };
const inner4 = F.ipv4({ src: F.V4A, dst: F.V4B, proto: 17 }, F.udp(5060, 5060, F.bytes(40)));
const innerEth = F.eth(0x0800, inner4, [{ id: 7 }]);
const CORPUS: [number, Uint8Array][] = [
  [LinkType.ETHERNET, F.eth(0x0800, inner4, [{ tpid: 0x88a8, id: 1 }, { id: 2 }])],
  [LinkType.ETHERNET, F.eth(0x86dd, F.ipv6({ src: F.V6A, dst: F.V6B, nh: 0 }, F.ext6(43, F.ext6(60, F.ext6(51, F.ah(6, F.tcp({ sport: 1, dport: 2 }, F.bytes(30))))))))],
  [LinkType.ETHERNET, F.eth(0x0800, F.ipv4({ ...O, proto: 17 }, F.udp(1, 4789, F.vxlan(5, innerEth))))],
  [LinkType.ETHERNET, F.eth(0x0800, F.ipv4({ ...O, proto: 17 }, F.udp(1, 6081, F.geneve(5, 0x6558, innerEth, 3))))],
  [LinkType.ETHERNET, F.eth(0x0800, F.ipv4({ ...O, proto: 47 }, F.gre(0x0800, inner4, { key: 1, seq: 2, csum: true })))],
  [LinkType.ETHERNET, F.eth(0x0800, F.ipv4({ ...O, proto: 47 }, F.gre(0x88be, F.erspan2(3, innerEth), { seq: 1 })))],
  [LinkType.ETHERNET, F.eth(0x0800, F.ipv4({ ...O, proto: 47 }, F.gre(0x22eb, F.erspan3(3, innerEth, true), { seq: 1 })))],
  [LinkType.ETHERNET, F.eth(0x0800, F.ipv4({ ...O, proto: 4 }, inner4))],
  [LinkType.ETHERNET, F.eth(0x0800, F.ipv4({ ...O, proto: 41 }, F.ipv6({ src: F.V6A, dst: F.V6B, nh: 17 }, F.udp(1, 2, F.bytes(9)))))],
  [LinkType.ETHERNET, F.eth(0x0800, F.ipv4({ src: F.V4A, dst: F.V4B, proto: 17, id: 5, offset: 0, mf: true }, F.bytes(64)))],
  [LinkType.ETHERNET, F.eth(0x0800, F.ipv4({ src: F.V4A, dst: F.V4B, proto: 17, id: 5, offset: 64, mf: false }, F.bytes(20)))],
  [LinkType.ETHERNET, F.eth(0x86dd, F.ipv6({ src: F.V6A, dst: F.V6B, nh: 44 }, F.frag6(17, 0, true, 9, F.bytes(48))))],
  [LinkType.ETHERNET, F.eth(0x86dd, F.ipv6({ src: F.V6A, dst: F.V6B, nh: 44 }, F.frag6(17, 48, false, 9, F.bytes(16))))],
  [LinkType.ETHERNET, F.eth(0x0800, F.ipv4({ src: F.V4A, dst: F.V4B, proto: 1 }, F.icmp(3, 3, inner4)))],
  [LinkType.LINUX_SLL, F.cat([0, 0, 0, 1, 0, 6], F.MAC_A, [0, 0, 0x08, 0x00], inner4)],
  [LinkType.LINUX_SLL2, F.cat([0x08, 0x00, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6], F.MAC_A, [0, 0], inner4)],
  [LinkType.NULL, F.cat([2, 0, 0, 0], inner4)],
  [LinkType.RAW, inner4],
];
const LINKS = [LinkType.ETHERNET, LinkType.RAW, LinkType.IPV4, LinkType.IPV6, LinkType.LINUX_SLL, LinkType.LINUX_SLL2, LinkType.NULL, LinkType.LOOP, 42];

function mutate(rand: () => number, src: Uint8Array): Uint8Array {
  let d: Uint8Array = src.slice();
  const ops = 1 + Math.floor(rand() * 4);
  for (let k = 0; k < ops; k++) {
    const op = Math.floor(rand() * 5);
    if (op === 0 && d.length) d[Math.floor(rand() * d.length)] = Math.floor(rand() * 256); // byte
    else if (op === 1 && d.length) {
      const i = Math.floor(rand() * d.length);
      d[i] = d[i]! ^ (1 << Math.floor(rand() * 8)); // bit
    }
    else if (op === 2) d = d.slice(0, Math.floor(rand() * (d.length + 1))); // cut
    else if (op === 3 && d.length > 1) {
      // a length-like field set to an extreme
      const i = Math.floor(rand() * (d.length - 1));
      const v = [0, 1, 0xff, 0x7f, 0x80][Math.floor(rand() * 5)]!;
      d[i] = v;
      d[i + 1] = v;
    } else if (op === 4) d = F.cat(d, F.bytes(Math.floor(rand() * 64), Math.floor(rand() * 255))); // trailing junk
  }
  return d;
}

function check(dec: Decoder, out: DecodedPacket, link: number, data: Uint8Array, ts: number, what: () => string): void {
  const raw = newRawPacket();
  raw.data = guarded(data);
  raw.origLen = data.length + (ts % 3 === 0 ? 100 : 0);
  raw.linkType = link;
  raw.tsSec = ts;
  let r: number;
  try {
    r = dec.decode(raw, out);
  } catch (e) {
    assert.fail(`decoder threw on ${what()}: ${(e as Error).message}`);
  }
  assert.ok(r === DecodeResult.OK || r === DecodeResult.HELD || r === DecodeResult.DROPPED, what());
  if (r === DecodeResult.OK) {
    assert.ok(out.payloadOffset >= 0 && out.payloadLength >= 0, what());
    assert.ok(out.payloadOffset + out.payloadLength <= out.data.length, `payload outside its buffer: ${what()}`);
    assert.ok(out.ipVersion === 4 || out.ipVersion === 6, what());
    assert.ok(out.vlanCount <= 8, what());
  }
}

const hex = (d: Uint8Array) => Buffer.from(d).toString('hex');

for (const tunnels of [true, false]) {
  test(`fuzz: 30,000 mutated and 10,000 random frames (tunnels ${tunnels ? 'on' : 'off'}, seed ${SEED})`, () => {
    const rand = prng(SEED + (tunnels ? 1 : 0));
    const cfg: DecoderConfig = {
      tunnel: { vxlan: tunnels, geneve: tunnels, gre: tunnels, erspan: tunnels, ipip: tunnels },
      ipReassembly: { timeoutSec: 30, maxFragments: 16 },
    };
    const dec = new Decoder(cfg);
    const out = new DecodedPacket();
    let ts = 1000;
    for (let i = 0; i < 30000; i++) {
      const [link, base] = CORPUS[Math.floor(rand() * CORPUS.length)]!;
      const d = mutate(rand, base);
      if (rand() < 0.01) ts += 40; // let fragment groups time out now and then
      check(dec, out, link, d, ts, () => `mutated frame #${i} link ${link}: ${hex(d)}`);
    }
    for (let i = 0; i < 10000; i++) {
      const link = LINKS[Math.floor(rand() * LINKS.length)]!;
      const d = new Uint8Array(Math.floor(rand() * 200));
      for (let k = 0; k < d.length; k++) d[k] = Math.floor(rand() * 256);
      // Give random frames a plausible start now and then, so they get past the first checks.
      if (d.length > 20 && link === LinkType.ETHERNET && rand() < 0.5) {
        d[12] = 0x08;
        d[13] = 0x00;
        d[14] = 0x45;
      }
      check(dec, out, link, d, ts, () => `random frame #${i} link ${link}: ${hex(d)}`);
    }
    const s = dec.stats;
    // The run went through every outcome.
    assert.ok(s.decoded > 0 && s.totalErrors() > 0 && s.fragments > 0, JSON.stringify(s.summary()));
  });
}
