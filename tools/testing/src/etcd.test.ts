import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort, inCI, realEtcdAvailable, startEtcd } from './index.js';

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('freePort', () => {
  it('returns a loopback port nobody listens on', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    expect(await canConnect(port)).toBe(false);
  });
});

describe('realEtcdAvailable', () => {
  it('fails under CI and skips elsewhere when the binary is missing', () => {
    if (inCI) expect(() => realEtcdAvailable('/nonexistent/etcd')).toThrow(/missing/);
    else expect(realEtcdAvailable('/nonexistent/etcd')).toBe(false);
  });
});

describe.runIf(realEtcdAvailable())('startEtcd', () => {
  it('starts a member on free loopback ports and removes its data dir on stop', async () => {
    const etcd = await startEtcd({ name: 'harness' });
    const port = Number(etcd.endpoint.split(':')[1]);
    expect(etcd.clientUrl).toBe(`http://127.0.0.1:${port}`);
    expect(await canConnect(port)).toBe(true);
    expect(existsSync(etcd.dataDir)).toBe(true);
    expect(etcd.logs()).toContain('ready to serve client requests');
    await etcd.stop();
    expect(existsSync(etcd.dataDir)).toBe(false);
    expect(await canConnect(port)).toBe(false);
  }, 30_000);

  it('reports a binary that exits before it is ready', async () => {
    await expect(startEtcd({ args: ['--no-such-flag'] })).rejects.toThrow(/exited/);
  });
});
