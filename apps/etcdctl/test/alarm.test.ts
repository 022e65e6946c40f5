import { Client, ErrNoSpace } from '@etcd-ts/client3';
import { realEtcdAvailable } from '@etcd-ts/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Normaliser, OUR_ETCDCTL, REAL_ETCDCTL_BIN, runCtl, startTwin, type Twin } from './twin.js';

describe.skipIf(!realEtcdAvailable() || !realEtcdAvailable(REAL_ETCDCTL_BIN))(
  'alarms: a NOSPACE alarm listed, refused writes, disarm',
  () => {
    let twin: Twin;
    beforeAll(async () => {
      twin = await startTwin(['--quota-backend-bytes=300000']);
      // Fill both members until each raises its NOSPACE alarm (when exactly depends on
      // how the backend file grew, so each is filled until it refuses).
      for (const m of [twin.real, twin.ours]) {
        const c = new Client({ endpoints: [m.endpoint] });
        for (let i = 0; i < 100; i++) {
          const refused = await c.put(`big${i}`, 'x'.repeat(60_000)).then(
            () => false,
            (err: unknown) => err instanceof ErrNoSpace,
          );
          if (refused) break;
        }
        c.close();
      }
    }, 60_000);
    afterAll(async () => {
      await twin?.stop();
    });

    async function same(args: string[]) {
      const [a, b] = await Promise.all([
        runCtl(REAL_ETCDCTL_BIN, [`--endpoints=${twin.real.endpoint}`, ...args]),
        runCtl(OUR_ETCDCTL, [`--endpoints=${twin.ours.endpoint}`, ...args]),
      ]);
      const na = new Normaliser(twin.real.endpoint);
      const nb = new Normaliser(twin.ours.endpoint);
      const n = (r: typeof a, x: Normaliser) => ({
        stdout: x.apply(r.stdout),
        stderr: x.apply(r.stderr),
        code: r.code,
      });
      expect(n(b, nb), JSON.stringify(args)).toEqual(n(a, na));
      return a;
    }

    it('prints the alarm and the refusal like etcdctl', async () => {
      const listed = await same(['alarm', 'list']);
      expect(listed.stdout).toMatch(/^memberID:\d+ alarm:NOSPACE \n$/);
      await same(['alarm', 'list', '-w', 'json']);
      await same(['alarm', 'list', '-w', 'protobuf']);
      await same(['put', 'x', 'y']);
      await same(['alarm', 'disarm']);
      await same(['alarm', 'list']);
    });
  },
);
