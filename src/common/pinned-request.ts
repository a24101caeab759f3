import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { ResolvedAddress } from './host-allow-list';

/**
 * A `lookup` for node:net/tls that answers every name with `address`: a connection made with it
 * goes to the address that was checked, whatever the name resolves to now. The name itself stays
 * the request's (Host header, TLS server name and certificate check).
 */
export function pinnedLookup(address: ResolvedAddress): LookupFunction {
  return (_host, options, callback) => {
    if ((options as { all?: boolean }).all) (callback as (e: null, a: ResolvedAddress[]) => void)(null, [address]);
    else callback(null, address.address, address.family);
  };
}

export interface PinnedRequestOptions {
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  signal: AbortSignal;
  /** Read the answer's body up to this many bytes (more is an error); without it the body is discarded. */
  maxBodyBytes?: number;
}

export class ResponseTooLarge extends Error {
  override readonly name = 'ResponseTooLarge';
}

/**
 * One request to `url`, connected to `address` (a fresh connection: a pooled socket could have
 * been opened to another address). Redirects are not followed. Resolves to the status code (and
 * the body when asked for); rejects on a network error, or with the signal's reason once aborted.
 */
export function requestPinned(url: URL, address: ResolvedAddress, options: PinnedRequestOptions): Promise<{ status: number; body: Buffer | null }> {
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const { signal, maxBodyBytes } = options;
  const headers = options.body === undefined ? options.headers : { ...options.headers, 'content-length': String(Buffer.byteLength(options.body)) };
  return new Promise((resolve, reject) => {
    const fail = (e: Error) => reject(signal.aborted ? signal.reason : e);
    const req = send(url, { method: options.method, agent: false, lookup: pinnedLookup(address), signal, headers });
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      res.on('error', fail);
      if (maxBodyBytes === undefined) {
        res.resume();
        resolve({ status, body: null });
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBodyBytes) {
          res.destroy();
          reject(new ResponseTooLarge(`the response is larger than ${maxBodyBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => resolve({ status, body: Buffer.concat(chunks) }));
    });
    req.on('error', fail);
    req.end(options.body);
  });
}
