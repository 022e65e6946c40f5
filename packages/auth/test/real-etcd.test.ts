// Interop with Debian's etcd 3.4: its JWT tokens verify with our provider and ours are
// accepted by it (same key files, same --auth-token flag), and its auth errors are the
// rpctypes entries our server maps our error classes to.

import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { authpb, etcdserverpb, rpctypes } from '@etcd-ts/api';
import { type EtcdProcess, errorOf, realEtcdAvailable, startEtcd, unary } from '@etcd-ts/testing';
import { credentials } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newTokenProvider } from '../src/index.js';

describe.runIf(realEtcdAvailable())('auth against etcd 3.4', () => {
  let etcd: EtcdProcess;
  let keyDir: string;
  let flag: string;
  let auth: etcdserverpb.AuthClient;
  let kv: etcdserverpb.KVClient;

  beforeAll(async () => {
    keyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'auth-interop-'));
    const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const priv = path.join(keyDir, 'jwt.key');
    const pub = path.join(keyDir, 'jwt.pub');
    fs.writeFileSync(priv, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    fs.writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }));
    flag = `jwt,pub-key=${pub},priv-key=${priv},sign-method=RS256,ttl=10m`;
    etcd = await startEtcd({ name: 'auth-interop', args: ['--auth-token', flag] });
    const creds = credentials.createInsecure();
    auth = new etcdserverpb.AuthClient(etcd.endpoint, creds);
    kv = new etcdserverpb.KVClient(etcd.endpoint, creds);
  }, 30_000);

  afterAll(async () => {
    auth?.close();
    kv?.close();
    await etcd?.stop();
    if (keyDir) fs.rmSync(keyDir, { recursive: true, force: true });
  });

  it('answers with the rpctypes entries the server maps our error classes to', async () => {
    const enable = await errorOf(
      unary(auth.authEnable.bind(auth), etcdserverpb.AuthEnableRequest.create()),
    );
    expect(enable.details).toBe(rpctypes.ErrGRPCRootUserNotExist.message);
    expect(enable.code).toBe(rpctypes.ErrGRPCRootUserNotExist.code);

    const add = (name: string) =>
      unary(
        auth.userAdd.bind(auth),
        etcdserverpb.AuthUserAddRequest.fromPartial({ name, password: `${name}pw` }),
      );
    await add('root');
    await add('alice');
    const dup = await errorOf(add('alice'));
    expect(dup.details).toBe(rpctypes.ErrGRPCUserAlreadyExist.message);
    expect(dup.code).toBe(rpctypes.ErrGRPCUserAlreadyExist.code);

    const noRole = await errorOf(
      unary(
        auth.userGrantRole.bind(auth),
        etcdserverpb.AuthUserGrantRoleRequest.fromPartial({ user: 'alice', role: 'nope' }),
      ),
    );
    expect(noRole.details).toBe(rpctypes.ErrGRPCRoleNotFound.message);
    const noUser = await errorOf(
      unary(
        auth.userGet.bind(auth),
        etcdserverpb.AuthUserGetRequest.fromPartial({ name: 'nobody' }),
      ),
    );
    expect(noUser.details).toBe(rpctypes.ErrGRPCUserNotFound.message);
    expect(noUser.code).toBe(rpctypes.ErrGRPCUserNotFound.code);
  });

  it("verifies etcd's JWTs and has ours accepted by etcd", async () => {
    await unary(
      auth.userGrantRole.bind(auth),
      etcdserverpb.AuthUserGrantRoleRequest.fromPartial({ user: 'root', role: 'root' }),
    );
    await unary(
      auth.roleAdd.bind(auth),
      etcdserverpb.AuthRoleAddRequest.fromPartial({ name: 'reader' }),
    );
    await unary(
      auth.roleGrantPermission.bind(auth),
      etcdserverpb.AuthRoleGrantPermissionRequest.fromPartial({
        name: 'reader',
        perm: {
          permType: authpb.Permission_Type.READ,
          key: Buffer.from('pub/'),
          rangeEnd: Buffer.from('pub0'),
        },
      }),
    );
    await unary(
      auth.userGrantRole.bind(auth),
      etcdserverpb.AuthUserGrantRoleRequest.fromPartial({ user: 'alice', role: 'reader' }),
    );
    await unary(auth.authEnable.bind(auth), etcdserverpb.AuthEnableRequest.create());

    const ours = newTokenProvider(flag);
    const { token: theirs } = await unary(
      auth.authenticate.bind(auth),
      etcdserverpb.AuthenticateRequest.fromPartial({ name: 'root', password: 'rootpw' }),
    );
    const info = await ours.info(theirs, 0);
    expect(info?.username).toBe('root');
    expect(info!.revision).toBeGreaterThan(0);

    const wrong = await errorOf(
      unary(
        auth.authenticate.bind(auth),
        etcdserverpb.AuthenticateRequest.fromPartial({ name: 'root', password: 'bad' }),
      ),
    );
    expect(wrong.details).toBe(rpctypes.ErrGRPCAuthFailed.message);
    expect(wrong.code).toBe(rpctypes.ErrGRPCAuthFailed.code);

    // A token we sign, with etcd's current auth revision, works against etcd.
    const mine = await ours.assign('root', info!.revision, { index: 0, simpleTokenPrefix: '' });
    const put = etcdserverpb.PutRequest.fromPartial({
      key: Buffer.from('k'),
      value: Buffer.from('v'),
    });
    const res = await unary(kv.put.bind(kv), put, mine);
    expect(res.header?.revision).toBeGreaterThan(1);

    // Alice may read pub/ only: etcd says what we say.
    const aliceInfo = await ours.info(
      (
        await unary(
          auth.authenticate.bind(auth),
          etcdserverpb.AuthenticateRequest.fromPartial({ name: 'alice', password: 'alicepw' }),
        )
      ).token,
      0,
    );
    const aliceToken = await ours.assign('alice', aliceInfo!.revision, {
      index: 0,
      simpleTokenPrefix: '',
    });
    const denied = await errorOf(unary(kv.put.bind(kv), put, aliceToken));
    expect(denied.details).toBe(rpctypes.ErrGRPCPermissionDenied.message);
    expect(denied.code).toBe(rpctypes.ErrGRPCPermissionDenied.code);

    // A token signed with another key is refused with our message.
    const other = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const forged = await newTokenProviderFromKey(other).assign('root', info!.revision, {
      index: 0,
      simpleTokenPrefix: '',
    });
    const bad = await errorOf(unary(kv.put.bind(kv), put, forged));
    expect(bad.details).toBe(rpctypes.ErrGRPCInvalidAuthToken.message);
    expect(bad.code).toBe(rpctypes.ErrGRPCInvalidAuthToken.code);
  }, 30_000);

  function newTokenProviderFromKey(key: crypto.KeyObject) {
    const file = path.join(keyDir, 'other.key');
    fs.writeFileSync(file, key.export({ type: 'pkcs8', format: 'pem' }));
    return newTokenProvider(`jwt,priv-key=${file},sign-method=RS256`);
  }
});
