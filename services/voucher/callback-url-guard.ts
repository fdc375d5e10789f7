// Callback URLs against SSRF: a customer's callbackUrl must not make this service POST into the
// private network. Checked twice, with well-kept libraries rather than hand-written ranges:
//   - at request time: the host (an IP literal, or every address its name resolves to) must be a
//     public unicast address (ipaddr.js ranges: loopback, private, link-local, unique-local,
//     carrier-grade NAT, reserved, multicast, unspecified… are refused) — a clear 422 at once;
//   - at connection time: every delivery goes through request-filtering-agent, which checks the
//     address the socket actually connects to — a name that resolved to a public address when the
//     request was made and to 127.0.0.1 now (DNS rebinding) is refused there.
// Origins in WEBHOOK_ALLOWED_ORIGINS (scheme://host:port, compared with the URL's own origin, not
// with what it resolves to) skip both: a receiver inside the network on purpose, or a test's.
import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import ipaddr from 'ipaddr.js';
import { RequestFilteringHttpAgent, RequestFilteringHttpsAgent } from 'request-filtering-agent';

export type Lookup = (hostname: string) => Promise<string[]>;

const systemLookup: Lookup = async (hostname) => (await dnsLookup(hostname, { all: true, verbatim: true })).map((a) => a.address);

export type UrlVerdict = { allowed: true } | { allowed: false; reason: string };

export class CallbackUrlGuard {
  private readonly allowedOrigins: Set<string>;
  private readonly filtering = {
    'http:': new RequestFilteringHttpAgent({ keepAlive: true, allowPrivateIPAddress: false, allowMetaIPAddress: false }),
    'https:': new RequestFilteringHttpsAgent({ keepAlive: true, allowPrivateIPAddress: false, allowMetaIPAddress: false }),
  };
  private readonly trusted = { 'http:': new http.Agent({ keepAlive: true }), 'https:': new https.Agent({ keepAlive: true }) };

  constructor(allowedOrigins: readonly string[], private readonly lookup: Lookup = systemLookup) {
    this.allowedOrigins = new Set(allowedOrigins);
  }

  /** The request-time check: may a request name this callback URL? */
  async check(raw: string): Promise<UrlVerdict> {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      return { allowed: false, reason: 'is not a URL' };
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return { allowed: false, reason: 'must be an http or https URL' };
    if (url.username || url.password) return { allowed: false, reason: 'must not carry credentials' };
    if (this.allowedOrigins.has(url.origin)) return { allowed: true };
    // The WHATWG parser has already turned 2130706433 or 0x7f.1 into 127.0.0.1; IPv6 comes bracketed.
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    let addresses: string[];
    if (ipaddr.isValid(host)) addresses = [host];
    else {
      try {
        addresses = await this.lookup(host);
      } catch {
        return { allowed: false, reason: `has a host name (${host}) that does not resolve` };
      }
    }
    if (addresses.length === 0) return { allowed: false, reason: `has a host name (${host}) that does not resolve` };
    for (const address of addresses) {
      const range = ipaddr.process(address).range();
      if (range !== 'unicast') return { allowed: false, reason: `points at a ${range} address (${address}); only public addresses can receive callbacks` };
    }
    return { allowed: true };
  }

  /** The agent a delivery to this URL connects through: the filtering one unless its origin is allow-listed. */
  agentFor(url: URL): http.Agent {
    const protocol = url.protocol as 'http:' | 'https:';
    return this.allowedOrigins.has(url.origin) ? this.trusted[protocol] : this.filtering[protocol];
  }

  close(): void {
    for (const agent of [...Object.values(this.filtering), ...Object.values(this.trusted)]) agent.destroy();
  }
}

/** One POST through `agent`; resolves with the status (the body is discarded), rejects on a refused or failed connection or after `timeoutMs`. */
export function post(url: URL, agent: http.Agent, headers: Record<string, string>, body: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = (url.protocol === 'https:' ? https : http).request(
      url,
      { method: 'POST', agent, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, timeout: timeoutMs },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    request.on('error', reject);
    request.end(body);
  });
}
