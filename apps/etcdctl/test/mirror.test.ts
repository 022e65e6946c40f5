import { spawn } from 'node:child_process';
import { realEtcdAvailable } from '@etcd-ts/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OUR_ETCDCTL, runCtl, startTwin, type Twin } from './twin.js';

describe.skipIf(!realEtcdAvailable())('make-mirror', () => {
  let twin: Twin;
  beforeAll(async () => {
    twin = await startTwin();
  }, 60_000);
  afterAll(async () => {
    await twin?.stop();
  });

  it('copies the base state and then every change under a prefix to another cluster', async () => {
    const src = [`--endpoints=${twin.real.endpoint}`];
    const dst = [`--endpoints=${twin.ours.endpoint}`];
    for (let i = 0; i < 5; i++) await runCtl(OUR_ETCDCTL, [...src, 'put', `m/${i}`, `v${i}`]);
    await runCtl(OUR_ETCDCTL, [...src, 'put', 'other', 'not mirrored']);
    const mirror = spawn(
      OUR_ETCDCTL,
      [...src, 'make-mirror', '--prefix=m/', '--dest-prefix=copy/', twin.ours.endpoint],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    await new Promise((r) => setTimeout(r, 2_000));
    await runCtl(OUR_ETCDCTL, [...src, 'put', 'm/5', 'v5']);
    await runCtl(OUR_ETCDCTL, [...src, 'del', 'm/0']);
    const deadline = Date.now() + 20_000;
    let keys = '';
    while (Date.now() < deadline) {
      keys = (await runCtl(OUR_ETCDCTL, [...dst, 'get', '', '--prefix', '--keys-only'])).stdout;
      if (keys.includes('copy/5') && !keys.includes('copy/0')) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    mirror.kill('SIGINT');
    expect(keys.split('\n').filter((k) => k !== '')).toEqual([
      'copy/1',
      'copy/2',
      'copy/3',
      'copy/4',
      'copy/5',
    ]);
  });
});
