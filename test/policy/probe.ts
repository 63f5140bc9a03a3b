// A traffic probe for the policy tests, run inside a test namespace with
// `ip netns exec`:
//   probe server <tcp ports,...> <udp ports,...>   listens and echoes (TCP and UDP)
//   probe driver <server ip>                       reads JSON commands on stdin, answers on stdout
// Driver commands: {"op":"tcp","dport":80,"timeout":800} -> {"ok":true|false}
//                  {"op":"udp","sport":4000,"dport":53,"timeout":500} -> {"ok":true|false} (echo came back)
//                  {"op":"burst","from":20000,"count":300,"dport":53} -> {"ok":true} (no waiting for echoes)
//                  {"op":"stream","dport":80,"interval":50} -> then lines {"echo":n} as echoes arrive
// With the policy on the server's ingress only, an echo (or a SYN-ACK) comes
// back exactly when the request got through.
import dgram from 'node:dgram';
import net from 'node:net';
import readline from 'node:readline';

const [role, a1 = '', a2 = ''] = process.argv.slice(2);
const out = (v: unknown) => process.stdout.write(JSON.stringify(v) + '\n');
const ports = (s: string) => s.split(',').filter(Boolean).map(Number);

if (role === 'server') {
  let ready = 0;
  const want = ports(a1).length + ports(a2).length;
  const up = () => ++ready === want && out({ ready: true });
  for (const p of ports(a1)) net.createServer((c) => c.on('data', (d) => c.write(d)).on('error', () => {})).listen(p, '0.0.0.0', up);
  for (const p of ports(a2)) {
    const s = dgram.createSocket('udp4');
    s.on('message', (m, r) => s.send(m, r.port, r.address));
    s.bind(p, '0.0.0.0', up);
  }
} else if (role === 'driver') {
  const server = a1;
  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    const c = JSON.parse(line) as { op: string; dport: number; sport?: number; timeout?: number; from?: number; count?: number; interval?: number };
    if (c.op === 'tcp') {
      const s = net.connect({ host: server, port: c.dport });
      const t = setTimeout(() => {
        s.destroy();
        out({ ok: false });
      }, c.timeout ?? 800);
      s.on('connect', () => {
        clearTimeout(t);
        s.destroy();
        out({ ok: true });
      });
      s.on('error', () => {
        clearTimeout(t);
        out({ ok: false, refused: true });
      });
    } else if (c.op === 'udp') {
      const s = dgram.createSocket('udp4');
      const t = setTimeout(() => {
        s.close();
        out({ ok: false });
      }, c.timeout ?? 500);
      s.on('message', () => {
        clearTimeout(t);
        s.close();
        out({ ok: true });
      });
      s.bind(c.sport ?? 0, () => s.send('probe', c.dport, server));
    } else if (c.op === 'burst') {
      let left = c.count!;
      for (let i = 0; i < c.count!; i++) {
        const s = dgram.createSocket('udp4');
        s.bind(c.from! + i, () =>
          s.send('x', c.dport, server, () => {
            s.close();
            if (--left === 0) out({ ok: true });
          }),
        );
      }
    } else if (c.op === 'stream') {
      const s = net.connect({ host: server, port: c.dport });
      let n = 0;
      s.on('connect', () => {
        out({ connected: true });
        setInterval(() => s.write(`m${n++};`), c.interval ?? 50).unref();
      });
      s.on('data', (d) => {
        for (const m of d.toString().split(';').filter(Boolean)) out({ echo: Number(m.slice(1)) });
      });
      s.on('error', () => {});
    }
  });
  rl.on('close', () => process.exit(0));
} else {
  process.stderr.write('usage: probe server <tcp,...> <udp,...> | probe driver <ip>\n');
  process.exit(2);
}
