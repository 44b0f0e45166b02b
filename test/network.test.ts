/**
 * Container networking for real (root only). The driver runs inside a
 * network namespace the test creates (test/support/netns.ts), so the bridge, the
 * host ends and every address live there and never on the machine's own
 * interfaces; all traffic goes to addresses inside those namespaces.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { eventually, networkTestsCanRun, useTestNetwork } from './support/netns.js';

const ready = networkTestsCanRun();
if (!ready) console.warn('network.test.ts: skipped (needs root and a built dist/: npm run build)');

const net = useTestNetwork('nsvirt-net');
const { root, ipn, hostVeths, nsvirsh, define, initPid, canConnect, listen } = net;

describe.skipIf(!ready)('networking (root, inside a test network namespace)', () => {
  it('two containers on a bridge reach each other and the bridge; destroy removes the host ends', async () => {
    define('web', "<interface type='bridge'><mac address='52:54:00:77:00:02'/><source bridge='br0'/><ip address='10.77.0.2' prefix='24'/><route address='0.0.0.0' prefix='0' gateway='10.77.0.1'/></interface>");
    define('db', "<interface type='bridge'><mac address='52:54:00:77:00:03'/><source bridge='br0'/><ip address='10.77.0.3' prefix='24'/></interface>");
    expect(nsvirsh('start', 'web')).toMatchObject({ code: 0 });
    expect(nsvirsh('start', 'db')).toMatchObject({ code: 0 });
    try {
      const [web, db] = [initPid('web'), initPid('db')];
      expect(execFileSync('nsenter', ['-t', String(web), '-n', 'ip', '-o', 'addr', 'show', 'eth0'], { encoding: 'utf8' })).toContain('10.77.0.2/24');
      expect(execFileSync('nsenter', ['-t', String(web), '-n', 'ip', 'link', 'show', 'eth0'], { encoding: 'utf8' })).toContain('52:54:00:77:00:02');
      expect(execFileSync('nsenter', ['-t', String(web), '-n', 'ip', 'route'], { encoding: 'utf8' })).toContain('default via 10.77.0.1');
      // Host ends vnet0 and vnet1 (web's peer, vnet1, left the namespace before db took the name).
      expect(ipn('-o', 'link', 'show', 'master', 'br0').match(/ vnet\d+@/g)?.sort()).toEqual([' vnet0@', ' vnet1@']);
      const stopDb = listen(db, '10.77.0.3', 7001);
      const stopBridge = listen('ns', '10.77.0.1', 7002);
      try {
        await eventually(() => canConnect(web, '10.77.0.3', 7001));
        await eventually(() => canConnect(web, '10.77.0.1', 7002));
        expect(canConnect('ns', '10.77.0.3', 7001)).toBe(true);
      } finally {
        stopDb();
        stopBridge();
      }
      // virsh's listing and counters
      const list = nsvirsh('domiflist', 'web').stdout;
      expect(list).toMatch(/ vnet0 +bridge +br0 +- +52:54:00:77:00:02\n/);
      const stats = nsvirsh('domifstat', 'web', 'vnet0').stdout;
      expect(Number(/vnet0 rx_bytes (\d+)/.exec(stats)![1])).toBeGreaterThan(0);
      expect(nsvirsh('domifaddr', 'web').stdout).toMatch(/ vnet0 +52:54:00:77:00:02 +ipv4 +10\.77\.0\.2\/24\n/);
    } finally {
      nsvirsh('destroy', 'web');
      nsvirsh('destroy', 'db');
    }
    expect(hostVeths()).toEqual([]);
  });

  it('ethernet: host-side address and route on the host end; direct: macvlan on a host link', async () => {
    define(
      'eth',
      "<interface type='ethernet'><source><ip address='192.0.2.1' prefix='30'/></source><ip address='192.0.2.2' prefix='30'/></interface>",
    );
    define('mv', "<interface type='direct'><source dev='uplink' mode='bridge'/><ip address='10.88.0.2' prefix='24'/></interface>");
    expect(nsvirsh('start', 'eth')).toMatchObject({ code: 0 });
    expect(nsvirsh('start', 'mv')).toMatchObject({ code: 0 });
    try {
      expect(ipn('-o', 'addr', 'show', 'vnet0')).toContain('192.0.2.1/30');
      const stop = listen(initPid('eth'), '192.0.2.2', 7003);
      try {
        await eventually(() => canConnect('ns', '192.0.2.2', 7003));
      } finally {
        stop();
      }
      const inside = execFileSync('nsenter', ['-t', String(initPid('mv')), '-n', 'ip', '-d', 'link', 'show', 'eth0'], { encoding: 'utf8' });
      expect(inside).toMatch(/macvlan mode bridge/);
    } finally {
      nsvirsh('destroy', 'eth');
      nsvirsh('destroy', 'mv');
    }
    expect(hostVeths()).toEqual([]);
    expect(ipn('-o', 'link', 'show', 'type', 'macvlan')).toBe('');
  });

  it('hostdev net: a host interface moves in under its own name, with its <ip> applied (libvirt ignores them)', async () => {
    ipn('link', 'add', 'hostnic', 'type', 'veth', 'peer', 'name', 'hostnic-peer');
    ipn('addr', 'add', '10.99.0.1/24', 'dev', 'hostnic-peer');
    ipn('link', 'set', 'hostnic-peer', 'up');
    define(
      'owner',
      "<hostdev mode='capabilities' type='net'><source><interface>hostnic</interface></source><ip address='10.99.0.2' prefix='24'/></hostdev>",
    );
    expect(nsvirsh('start', 'owner')).toMatchObject({ code: 0 });
    try {
      const inside = execFileSync('nsenter', ['-t', String(initPid('owner')), '-n', 'ip', '-o', 'addr', 'show', 'hostnic'], { encoding: 'utf8' });
      expect(inside).toContain('10.99.0.2/24');
      expect(ipn('-o', 'link', 'show')).not.toMatch(/ hostnic@/);
      const stop = listen(initPid('owner'), '10.99.0.2', 7004);
      try {
        await eventually(() => canConnect('ns', '10.99.0.2', 7004));
      } finally {
        stop();
      }
    } finally {
      nsvirsh('destroy', 'owner');
    }
  });

  it('bad input: an unknown bridge fails clearly and leaves no link behind', () => {
    define('lost', "<interface type='bridge'><source bridge='nosuchbr'/></interface>");
    const r = nsvirsh('start', 'lost');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("error: Failed to start domain 'lost'\nerror: Unable to add bridge nosuchbr port vnet0: No such device\n");
    expect(hostVeths()).toEqual([]);
    const state = join(root(), 'run/nsvirt/lxc');
    expect(readdirSync(state).filter((f) => f.startsWith('lost.') && f !== 'lost.laststate')).toEqual([]);
  });

  it('100 start/destroy cycles with an interface leave no link', async () => {
    define('churn', "<interface type='bridge'><source bridge='br0'/></interface>");
    for (let i = 0; i < 100; i++) {
      expect(nsvirsh('start', 'churn').code).toBe(0);
      expect(nsvirsh('destroy', 'churn').code).toBe(0);
      // Let the test worker answer vitest between the blocking runs.
      await new Promise((r) => setImmediate(r));
    }
    expect(hostVeths()).toEqual([]);
  }, 300_000);
});
