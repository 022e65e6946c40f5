import { createServer } from 'node:net';

/**
 * Asks the kernel for a free TCP port on the loopback address. The port is released
 * before it is returned, so a process started right after can bind it; the window for
 * another process to take it is small and tests bind loopback only.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('freePort: no TCP address'));
        return;
      }
      const { port } = address;
      server.close(() => resolve(port));
    });
  });
}
