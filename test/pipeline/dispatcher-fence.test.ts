// The dispatcher's ordering in dispatch mode: a SIP frame (it changes the
// FlowRegistry) carries a fence naming, for every other worker, the last
// frame given to it and not yet handled, so that no earlier frame sees what
// the SIP frame registers or releases; frames after a SIP frame on another
// worker carry a barrier on it. Fences and barriers travel in the frame ring.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LinkType, newRawPacket, type RawPacket } from '../../src/core/packet.ts';
import { defaultDecoderConfig } from '../../src/decoder/api.ts';
import { ControlBlock, createControlBlock } from '../../src/pipeline/control-block.ts';
import { Dispatcher } from '../../src/pipeline/dispatcher.ts';
import { createFrameRing, FrameRingReader } from '../../src/pipeline/frame-ring.ts';
import { SipParser } from '../../src/plugins/parser/sip/index.ts';
import { ip, rtpPayload, sipFrames, callEnds, udpFrame } from '../../bench/call-capture.ts';
import { eth, ipv4, tcp, udp } from '../decoder/frames.ts';

function raw(data: Uint8Array): RawPacket {
  const r = newRawPacket();
  r.data = data;
  r.origLen = data.length;
  r.tsSec = 1_767_225_600;
  r.linkType = LinkType.ETHERNET;
  return r;
}

interface Seen {
  frame: number;
  barrier: [number, number] | null;
  fence: [number, number][];
}

function drainAll(reader: FrameRingReader): Seen[] {
  const out: Seen[] = [];
  reader.drain(newRawPacket(), 1000, (_p, frame) => {
    const fence: [number, number][] = [];
    for (let i = 0; i < reader.fenceCount; i++) fence.push([reader.fence[2 * i]!, reader.fence[2 * i + 1]!]);
    out.push({ frame, barrier: reader.barrierWorker >= 0 ? [reader.barrierWorker, reader.barrierFrame] : null, fence });
  });
  return out;
}

test('SIP frames are fenced behind earlier frames of other workers; later frames wait for them', async () => {
  const rings = [createFrameRing(1 << 16), createFrameRing(1 << 16)];
  const control = new ControlBlock(createControlBlock(2));
  const sip = new SipParser();
  sip.init({}, { taskId: 't', workerIndex: -1, agent: 'a', log: () => {} });
  const d = new Dispatcher(rings, defaultDecoderConfig(), true, [sip], control);

  // A call whose SIP and RTP flows hash to different workers.
  let c = callEnds(0);
  let sipW = -1;
  let rtpW = -1;
  let rtpFrame = (k: number) => raw(udpFrame(ip(c.caller), ip(c.callee), c.callerPort, c.calleePort, rtpPayload(8, k, k * 160, 1)));
  for (let i = 0; i < 200; i++) {
    c = callEnds(i);
    sipW = d.workerFor(raw(sipFrames(c, 'setup')[0]!));
    rtpW = d.workerFor(rtpFrame(0));
    if (sipW !== rtpW) break;
  }
  assert.notEqual(sipW, rtpW, 'found a call whose SIP and RTP go to different workers');
  // workerFor marked the probe as signalling or not: start from a fresh dispatcher
  const disp = new Dispatcher(rings, defaultDecoderConfig(), true, [sip], control);
  const [invite, ok] = sipFrames(c, 'setup');
  const [bye] = sipFrames(c, 'teardown');
  // frames: 1 RTP (before any SIP), 2 INVITE, 3 RTP, 4 200 OK, 5 RTP, 6 BYE
  for (const f of [rtpFrame(0), raw(invite!), rtpFrame(1), raw(ok!), rtpFrame(2), raw(bye!)]) assert.equal(disp.onPacket(f), true);
  disp.close();

  const onSip = drainAll(new FrameRingReader(rings[sipW]!));
  const onRtp = drainAll(new FrameRingReader(rings[rtpW]!));
  assert.deepEqual(onSip.map((s) => s.frame), [2, 4, 6]);
  assert.deepEqual(onRtp.map((s) => s.frame), [1, 3, 5]);
  // The INVITE waits for RTP frame 1, the 200 OK for frame 3, the BYE for frame 5 (nothing has been handled yet).
  assert.deepEqual(onSip.map((s) => s.fence), [[[rtpW, 1]], [[rtpW, 3]], [[rtpW, 5]]]);
  // RTP after a SIP frame waits for it.
  assert.deepEqual(onRtp.map((s) => s.barrier), [null, [sipW, 2], [sipW, 4]]);
});

test('a fence leaves out frames already handled', () => {
  const rings = [createFrameRing(1 << 16), createFrameRing(1 << 16)];
  const control = new ControlBlock(createControlBlock(2));
  const sip = new SipParser();
  sip.init({}, { taskId: 't', workerIndex: -1, agent: 'a', log: () => {} });
  const probe = new Dispatcher(rings, defaultDecoderConfig(), true, [sip], null);
  let c = callEnds(0);
  const rtp = () => raw(udpFrame(ip(c.caller), ip(c.callee), c.callerPort, c.calleePort, rtpPayload(8, 0, 0, 1)));
  for (let i = 0; i < 200; i++) {
    c = callEnds(i);
    if (probe.workerFor(raw(sipFrames(c, 'setup')[0]!)) !== probe.workerFor(rtp())) break;
  }
  const d = new Dispatcher(rings, defaultDecoderConfig(), true, [sip], control);
  d.onPacket(rtp()); // frame 1
  const rtpW = d.workerFor(rtp());
  control.setProgress(rtpW, 1); // its worker has handled it
  d.onPacket(raw(sipFrames(c, 'setup')[0]!)); // frame 2
  const sipW = 1 - rtpW;
  const seen = drainAll(new FrameRingReader(rings[sipW]!));
  assert.deepEqual(seen, [{ frame: 2, barrier: null, fence: [] }]);
});

test('SIP datagrams all go to worker 0 (they are ordered against every earlier frame anyway); media spreads by flow; a SIP TCP stream stays on its flow worker', () => {
  const rings = [createFrameRing(1 << 16), createFrameRing(1 << 16), createFrameRing(1 << 16)];
  const sip = new SipParser();
  sip.init({}, { taskId: 't', workerIndex: -1, agent: 'a', log: () => {} });
  const d = new Dispatcher(rings, defaultDecoderConfig(), true, [sip], null);
  const media = new Set<number>();
  for (let i = 0; i < 60; i++) {
    const c = callEnds(i);
    for (const f of [...sipFrames(c, 'setup'), ...sipFrames(c, 'teardown')]) assert.equal(d.workerFor(raw(f)), 0, `call ${i}: SIP on worker 0`);
    media.add(d.workerFor(raw(udpFrame(ip(c.caller), ip(c.callee), c.callerPort, c.calleePort, rtpPayload(8, 0, 0, 1)))));
  }
  assert.deepEqual([...media].sort(), [0, 1, 2], 'RTP flows spread over every worker');
  // SIP over TCP (5060): the segments with data and those without (SYN, ACK) go to one worker, the flow's.
  const invite = sipFrames(callEnds(1), 'setup')[0]!.subarray(42); // the SIP text of a UDP frame (after 42 header bytes)
  const seen = new Set<number>();
  for (let port = 40000; port < 40060; port++) {
    const seg = (flags: number, payload: Uint8Array) => raw(eth(0x0800, ipv4({ src: [10, 9, 0, 1], dst: [10, 9, 0, 2], proto: 6 }, tcp({ sport: port, dport: 5060, flags }, payload))));
    const syn = d.workerFor(seg(0x02, new Uint8Array(0)));
    const data = d.workerFor(seg(0x18, invite));
    assert.equal(data, syn, `TCP port ${port}: data and SYN on one worker`);
    seen.add(data);
  }
  assert.ok(seen.size > 1, 'SIP TCP streams spread by flow');
});

test('a SIP datagram fragmented over IPv4 is a signalling frame too: the fragment that completes it is fenced and later frames wait for it', () => {
  const rings = [createFrameRing(1 << 16), createFrameRing(1 << 16)];
  const control = new ControlBlock(createControlBlock(2));
  const sip = new SipParser();
  sip.init({}, { taskId: 't', workerIndex: -1, agent: 'a', log: () => {} });
  const c = callEnds(3);
  const rtp = () => raw(udpFrame(ip(c.caller), ip(c.callee), c.callerPort, c.calleePort, rtpPayload(8, 0, 0, 1)));
  const invite = sipFrames(c, 'setup')[0]!.subarray(42); // the SIP text of the UDP frame
  const datagram = udp(5060, 5060, invite);
  const cut = 512; // a multiple of 8
  const fragments = (id: number) => [
    raw(eth(0x0800, ipv4({ src: [10, 7, 0, 1], dst: [10, 7, 0, 2], proto: 17, id, mf: true, offset: 0 }, datagram.subarray(0, cut)))),
    raw(eth(0x0800, ipv4({ src: [10, 7, 0, 1], dst: [10, 7, 0, 2], proto: 17, id, offset: cut }, datagram.subarray(cut)))),
  ];
  // An IP id whose fragments go to the worker the RTP flow does not.
  const probe = new Dispatcher(rings, defaultDecoderConfig(), true, [sip], null);
  const rtpW = probe.workerFor(rtp());
  let id = 1;
  for (; id < 100; id++) {
    const [f1, f2] = fragments(id);
    probe.workerFor(f1!);
    if (probe.workerFor(f2!) !== rtpW) break;
  }
  const sipW = 1 - rtpW;
  const d = new Dispatcher(rings, defaultDecoderConfig(), true, [sip], control);
  const [f1, f2] = fragments(id);
  // frames: 1 RTP, 2 first fragment (held), 3 last fragment (the INVITE), 4 RTP
  for (const f of [rtp(), f1!, f2!, rtp()]) assert.equal(d.onPacket(f), true);
  const onSip = drainAll(new FrameRingReader(rings[sipW]!));
  const onRtp = drainAll(new FrameRingReader(rings[rtpW]!));
  assert.deepEqual(onSip.map((s) => s.frame), [2, 3]);
  assert.deepEqual(onSip[1]!.fence, [[rtpW, 1]], 'the INVITE waits for the RTP frame before it');
  assert.deepEqual(onRtp.map((s) => [s.frame, s.barrier]), [
    [1, null],
    [4, [sipW, 3]],
  ]);
});
