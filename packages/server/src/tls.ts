// etcd's TLS rules (pkg/transport, pkg/tlsutil), for the client and the peer listeners
// alike: cipher suites by Go's names, TLS versions, who must present a certificate, the
// checks made on a certificate once the handshake is done (CRL, allowed CN or hostname,
// the peer certificate's SAN against the remote address), and auto TLS's self-signed
// certificates.

import { webcrypto, X509Certificate } from 'node:crypto';
import dns from 'node:dns/promises';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls, { type TLSSocket } from 'node:tls';
import type { Logger } from './config.js';

/**
 * Go's cipher-suite names, as etcd's --cipher-suites takes them (crypto/tls's
 * CipherSuites() and InsecureCipherSuites(), and the two CHACHA20 names without _SHA256
 * that etcd also accepts), mapped to OpenSSL's names. TLS 1.3's three suites are known but
 * not configurable, as in Go: every TLS 1.3 handshake may use any of them.
 */
export const GO_CIPHER_SUITES: Readonly<Record<string, string>> = {
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_AES_128_GCM_SHA256: 'TLS_AES_128_GCM_SHA256',
  TLS_AES_256_GCM_SHA384: 'TLS_AES_256_GCM_SHA384',
  TLS_CHACHA20_POLY1305_SHA256: 'TLS_CHACHA20_POLY1305_SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_RSA_WITH_RC4_128_SHA: 'RC4-SHA',
  TLS_RSA_WITH_3DES_EDE_CBC_SHA: 'DES-CBC3-SHA',
  TLS_RSA_WITH_AES_128_CBC_SHA256: 'AES128-SHA256',
  TLS_ECDHE_ECDSA_WITH_RC4_128_SHA: 'ECDHE-ECDSA-RC4-SHA',
  TLS_ECDHE_RSA_WITH_RC4_128_SHA: 'ECDHE-RSA-RC4-SHA',
  TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA: 'ECDHE-RSA-DES-CBC3-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256: 'ECDHE-ECDSA-AES128-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256: 'ECDHE-RSA-AES128-SHA256',
};

/** TLS 1.3's suites, all offered whatever --cipher-suites says (Go cannot restrict them). */
const TLS13_SUITES = 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256';

/**
 * --cipher-suites as an OpenSSL cipher string: the TLS 1.2 suites named, in order, then TLS
 * 1.3's. An unknown name is refused with etcd's message; a name Go knows that this build
 * of OpenSSL cannot use (RC4, 3DES) is refused too.
 */
export function opensslCiphers(goNames: readonly string[]): string {
  const available = new Set(tls.getCiphers().map((c) => c.toUpperCase()));
  const tls12: string[] = [];
  for (const name of goNames) {
    const openssl = GO_CIPHER_SUITES[name];
    if (openssl === undefined)
      throw new Error(`unexpected TLS cipher suite ${JSON.stringify(name)}`);
    if (openssl.startsWith('TLS_')) continue;
    if (!available.has(openssl))
      throw new Error(
        `TLS cipher suite ${JSON.stringify(name)} (OpenSSL ${openssl}) is not available in this Node.js build's OpenSSL`,
      );
    if (!tls12.includes(openssl)) tls12.push(openssl);
  }
  // No TLS 1.2 suite named (only TLS 1.3 ones): TLS 1.2 handshakes have nothing to agree on.
  return tls12.length === 0 ? TLS13_SUITES : `${tls12.join(':')}:${TLS13_SUITES}`;
}

/** etcd 3.5's --tls-min-version/--tls-max-version values, as Node's. */
export type TLSVersionName = 'TLS1.2' | 'TLS1.3';

export function nodeTlsVersion(v: string): tls.SecureVersion | undefined {
  if (v === '') return undefined;
  if (v === 'TLS1.2') return 'TLSv1.2';
  if (v === 'TLS1.3') return 'TLSv1.3';
  throw new Error(`unexpected TLS version ${JSON.stringify(v)} (must be one of: TLS1.2, TLS1.3)`);
}

/** What both the client and the peer TLS settings share. */
export interface TLSProtocolConfig {
  /** Go's names (--cipher-suites); empty or absent: OpenSSL's defaults. */
  cipherSuites?: string[];
  /** --tls-min-version: TLS1.2 (etcd's default) or TLS1.3. */
  minVersion?: TLSVersionName;
  /** --tls-max-version: empty for the highest this OpenSSL has. */
  maxVersion?: TLSVersionName;
}

/** What a TLS listener is made of (etcd's TLSInfo, server side). */
export interface ServerTLSInfo extends TLSProtocolConfig {
  certFile: string;
  keyFile: string;
  trustedCaFile?: string;
  clientCertAuth?: boolean;
  /** Revoked certificates (--client-crl-file, --peer-crl-file), read at each connection. */
  crlFile?: string;
  /** The verified client certificate's CN must be this (--peer-cert-allowed-cn). */
  allowedCN?: string;
  /** The verified client certificate must be valid for this host (--*-cert-allowed-hostname). */
  allowedHostname?: string;
}

/**
 * The node:tls options of a server (etcd's TLSInfo.ServerConfig): a client certificate is
 * required and verified when --client-cert-auth is on or a trusted CA file is given (a CA
 * file alone turns client authentication on, as in etcd); TLS 1.2 at least.
 */
export function serverTlsOptions(info: ServerTLSInfo): tls.TlsOptions {
  if (info.allowedCN && info.allowedHostname)
    throw new Error(
      `AllowedCN and AllowedHostname are mutually exclusive (cn=${JSON.stringify(info.allowedCN)}, hostname=${JSON.stringify(info.allowedHostname)})`,
    );
  const clientAuth = info.clientCertAuth === true || (info.trustedCaFile ?? '') !== '';
  return {
    cert: fs.readFileSync(info.certFile),
    key: fs.readFileSync(info.keyFile),
    ...(info.trustedCaFile ? { ca: fs.readFileSync(info.trustedCaFile) } : {}),
    requestCert: clientAuth,
    rejectUnauthorized: clientAuth,
    ...protocolOptions(info),
  };
}

/** Ciphers and versions, shared by servers and (for completeness) dialers. */
export function protocolOptions(p: TLSProtocolConfig): tls.SecureContextOptions {
  const out: tls.SecureContextOptions = {
    minVersion: p.minVersion === undefined ? 'TLSv1.2' : nodeTlsVersion(p.minVersion),
  };
  if (p.maxVersion !== undefined) out.maxVersion = nodeTlsVersion(p.maxVersion);
  if (p.cipherSuites !== undefined && p.cipherSuites.length > 0)
    out.ciphers = opensslCiphers(p.cipherSuites);
  return out;
}

/** etcd's checks of TLS settings that need no file: versions, suites, exclusive options. */
export function validateTLSProtocol(p: TLSProtocolConfig): void {
  const min = p.minVersion === undefined ? 'TLSv1.2' : nodeTlsVersion(p.minVersion);
  const max = p.maxVersion === undefined ? undefined : nodeTlsVersion(p.maxVersion);
  if (max !== undefined && min === 'TLSv1.3' && max === 'TLSv1.2')
    throw new Error(`min version (${p.minVersion}) is greater than max version (${p.maxVersion})`);
  if (min === 'TLSv1.3' && (p.cipherSuites?.length ?? 0) > 0)
    throw new Error('cipher suites cannot be configured when only TLS1.3 is enabled');
  for (const name of p.cipherSuites ?? [])
    if (GO_CIPHER_SUITES[name] === undefined)
      throw new Error(`unexpected TLS cipher suite ${JSON.stringify(name)}`);
}

/** A certificate's serial as etcd compares them: big-endian magnitude, hex, no leading zeros. */
function normSerial(hex: string): string {
  const s = hex.replace(/[^0-9a-fA-F]/g, '').toUpperCase();
  return s.replace(/^0+(?=.)/, '');
}

interface CrlCache {
  mtimeMs: number;
  size: number;
  serials: Set<string>;
}
const crlCache = new Map<string, CrlCache>();

/**
 * The serial numbers a CRL file (PEM or DER) revokes. Like etcd, only serials are
 * compared: the CRL's signature and dates are not checked. Re-read when the file changes.
 */
export async function revokedSerials(file: string): Promise<Set<string>> {
  const st = await fs.promises.stat(file);
  const hit = crlCache.get(file);
  if (hit !== undefined && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit.serials;
  const raw = await fs.promises.readFile(file);
  const x509 = await loadX509();
  const text = raw.toString('latin1');
  const crl = new x509.X509Crl(text.includes('-----BEGIN') ? text : new Uint8Array(raw));
  const serials = new Set(crl.entries.map((e) => normSerial(e.serialNumber)));
  crlCache.set(file, { mtimeMs: st.mtimeMs, size: st.size, serials });
  return serials;
}

/** The certificates a TLS peer presented, its own first. */
function presentedChain(sock: TLSSocket): tls.DetailedPeerCertificate[] {
  const out: tls.DetailedPeerCertificate[] = [];
  let c = sock.getPeerCertificate(true);
  while (c !== undefined && c !== null && c.raw !== undefined && out.length < 16) {
    out.push(c);
    if (c.issuerCertificate === undefined || c.issuerCertificate === c) break;
    c = c.issuerCertificate;
  }
  return out;
}

/** Go's Certificate.VerifyHostname: an IP against the IP SANs, a name against the DNS SANs. */
export function certValidForHost(cert: X509Certificate, host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (net.isIP(h) !== 0) return cert.checkIP(h) !== undefined;
  return cert.checkHost(h, { subject: 'never' }) !== undefined;
}

/**
 * etcd's check of a peer's client certificate against the address it connects from
 * (checkCertSAN): with IP SANs the address must be one of them; with DNS SANs one of the
 * names must resolve to it, or it must reverse-resolve to one of them. A certificate
 * without SANs passes.
 */
export async function checkCertSAN(
  cert: X509Certificate,
  remoteAddr: string,
): Promise<string | undefined> {
  const san = cert.subjectAltName ?? '';
  const ips = [...san.matchAll(/IP Address:([^,\s]+)/g)].map((m) => m[1]!);
  const names = [...san.matchAll(/DNS:([^,\s]+)/g)].map((m) => m[1]!);
  if (ips.length === 0 && names.length === 0) return undefined;
  const host = remoteAddr.replace(/^::ffff:(?=\d+\.)/, '');
  if (ips.length > 0) {
    if (cert.checkIP(host) !== undefined) return undefined;
    if (names.length === 0) return `x509: certificate is valid for ${ips.join(', ')}, not ${host}`;
  }
  try {
    const reverse = await dns.reverse(host).catch(() => [] as string[]);
    for (const r of reverse) {
      const name = r.replace(/\.$/, '');
      for (const n of names)
        if (n.startsWith('*.') ? name.endsWith(n.slice(1)) : n === name) return undefined;
    }
    for (const n of names) {
      if (n.startsWith('*.')) continue;
      const addrs = await dns.lookup(n, { all: true }).catch(() => []);
      if (addrs.some((a) => a.address === host)) return undefined;
    }
  } catch {
    /* fall through: not matched */
  }
  return `tls: ${JSON.stringify(host)} does not match any of DNSNames ${JSON.stringify(names)}`;
}

export interface ConnectionCheckOptions {
  info: ServerTLSInfo;
  /** Peers: check the client certificate's SAN against the remote address (etcd's default). */
  checkSan?: boolean;
}

/**
 * What etcd checks once a handshake is done, before the connection is served: the
 * verified certificate's CN or hostname (VerifyPeerCertificate), the SAN of a peer's
 * certificate against its address, and the CRL. Resolves to the reason to refuse, if any.
 */
export async function checkConnection(
  sock: TLSSocket,
  opts: ConnectionCheckOptions,
): Promise<string | undefined> {
  const { info } = opts;
  const chain = presentedChain(sock);
  const leaf = chain[0];
  if (leaf === undefined) return undefined;
  const verified = sock.authorized;
  if (verified && (info.allowedCN || info.allowedHostname)) {
    const cert = new X509Certificate(leaf.raw);
    if (info.allowedCN) {
      const cn = leaf.subject?.CN;
      const cns = Array.isArray(cn) ? cn : [cn];
      if (!cns.includes(info.allowedCN)) return 'client certificate authentication failed';
    } else if (info.allowedHostname && !certValidForHost(cert, info.allowedHostname)) {
      return 'client certificate authentication failed';
    }
  }
  if (opts.checkSan === true && verified) {
    const reason = await checkCertSAN(new X509Certificate(leaf.raw), sock.remoteAddress ?? '');
    if (reason !== undefined) return reason;
  }
  if (info.crlFile) {
    const revoked = await revokedSerials(info.crlFile);
    for (const c of chain) {
      const serial = normSerial(c.serialNumber);
      if (revoked.has(serial))
        return `transport: certificate serial ${serial.toLowerCase()} revoked`;
    }
  }
  return undefined;
}

/** Logs a refused connection as etcd does ("rejected connection"). */
export function logRejected(lg: Logger, sock: TLSSocket | net.Socket, error: string): void {
  lg.warn(
    { 'remote-addr': `${sock.remoteAddress}:${sock.remotePort}`, error },
    'rejected connection',
  );
}

type X509Module = typeof import('@peculiar/x509');
let x509Module: Promise<X509Module> | undefined;
/** @peculiar/x509 wants a Reflect polyfill: loaded only when a CRL or auto TLS is used. */
function loadX509(): Promise<X509Module> {
  x509Module ??= (async () => {
    await import('reflect-metadata');
    const m = await import('@peculiar/x509');
    // Node's Web Crypto (globalThis.crypto since Node 19, the same object as node:crypto's
    // webcrypto), which the library's DOM typing names differently.
    m.cryptoProvider.set(Reflect.get(globalThis, 'crypto') ?? webcrypto);
    return m;
  })();
  return x509Module;
}

export interface SelfCertResult {
  certFile: string;
  keyFile: string;
}

/**
 * etcd's transport.SelfCert (--auto-tls, --peer-auto-tls): a self-signed certificate for
 * the listen URLs' hosts in <dir>/cert.pem and <dir>/key.pem, reused when both exist. An
 * ECDSA P-521 key, organisation "etcd", a random 128-bit serial, valid `validityYears`.
 */
export async function selfCert(
  lg: Logger,
  dir: string,
  hosts: string[],
  validityYears = 1,
  clientAuth = false,
): Promise<SelfCertResult> {
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 });
  if (fs.existsSync(certFile) && fs.existsSync(keyFile)) return { certFile, keyFile };
  const x509 = await loadX509();
  const alg = { name: 'ECDSA', namedCurve: 'P-521', hash: 'SHA-512' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const serial = Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)));
  serial[0] = serial[0]! & 0x7f; // a positive INTEGER
  const sans: Array<{ type: 'ip' | 'dns'; value: string }> = [];
  for (const h of hosts) {
    const host = h.replace(/^\[|\]$/g, '');
    if (host === '') continue;
    sans.push({ type: net.isIP(host) !== 0 ? 'ip' : 'dns', value: host });
  }
  const now = new Date();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial.toString('hex'),
    name: 'O=etcd',
    notBefore: now,
    notAfter: new Date(now.getTime() + validityYears * 365 * 24 * 3600 * 1000),
    signingAlgorithm: alg,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyEncipherment | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      new x509.ExtendedKeyUsageExtension(
        clientAuth
          ? [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]
          : [x509.ExtendedKeyUsage.serverAuth],
      ),
      ...(sans.length > 0 ? [new x509.SubjectAlternativeNameExtension(sans)] : []),
    ],
  });
  await fs.promises.writeFile(certFile, cert.toString('pem'), { mode: 0o644 });
  lg.info({ path: certFile }, 'created cert file');
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  await fs.promises.writeFile(keyFile, x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'), {
    mode: 0o600,
  });
  lg.info({ path: keyFile }, 'created key file');
  return { certFile, keyFile };
}
