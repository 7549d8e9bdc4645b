// A web application written only with Vonage's official Node libraries, for testing vapp's webhook
// calls against code vapp's authors did not write:
//
// - every request's signature is verified with `verifySignature` from @vonage/jwt, with the secret of
//   the account the token's `api_key` claim names (as a receiver serving several accounts must);
// - every `payload_hash` is checked as Vonage API Support says to: SHA-256 of the query parameters as a
//   JSON object in their order (GET), or of the body (POST: both the raw bytes, as the official Python
//   snippet hashes them, and the body re-serialised by JSON.stringify, as the official Node snippet does);
// - every NCCO is built with @vonage/voice's classes: a three-level IVR menu (keys or speech), a
//   recording, a connect.
//
// A request whose signature does not verify gets 401 (so `vapp check`'s forged probe must be refused).
// Every request is recorded; GET /_stats returns the records.
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';

import { verifySignature } from '@vonage/jwt';
import { Connect, Input, NCCOBuilder, Record, Talk } from '@vonage/voice';

/** The NCCO of `actions`, built by the SDK. */
const ncco = (...actions) => {
  const builder = new NCCOBuilder();
  for (const action of actions) builder.addAction(action);
  return builder.build();
};

/** The claims of a JWT, unverified (to choose the secret by `api_key`). */
const claimsOf = (token) => {
  try {
    return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
  } catch {
    return {};
  }
};

const sha256 = (text) => createHash('sha256').update(text).digest('hex');

/**
 * Starts the web application on 127.0.0.1. `secrets` maps an API key to that account's signature
 * secret. Resolves to { base, records, reset, close }.
 */
export async function start(secrets) {
  const records = [];
  let base = '';
  const menu = (digits, said, choices) => {
    const choice = digits || (said ? said.toLowerCase() : '');
    return choices[choice] ?? ncco(new Talk('Sorry, I did not get that. Goodbye.'));
  };
  const routes = {
    '/answer': () =>
      ncco(
        new Talk('Welcome to ACME. Press 1 or say sales for sales, 2 to leave a message.', true),
        new Input({ maxDigits: 1, timeOut: 5 }, { language: 'en-GB', endOnSilence: 1 }, `${base}/menu`),
      ),
    '/menu': ({ digits, said }) =>
      menu(digits, said, {
        1: ncco(new Talk('Sales. Press 1 for new orders.'), new Input({ maxDigits: 1 }, undefined, `${base}/menu2`)),
        sales: ncco(new Talk('Sales. Press 1 for new orders.'), new Input({ maxDigits: 1 }, undefined, `${base}/menu2`)),
        2: ncco(
          new Talk('Leave a message after the tone, then press hash.'),
          new Record(undefined, undefined, undefined, undefined, '#', undefined, true, `${base}/recorded`),
          new Talk('Thank you. Goodbye.'),
        ),
      }),
    '/menu2': ({ digits, said }) =>
      menu(digits, said, {
        1: ncco(new Talk('New orders. Press 1 to speak to an agent.'), new Input({ maxDigits: 1 }, undefined, `${base}/menu3`)),
      }),
    '/menu3': ({ digits, said }) =>
      menu(digits, said, {
        1: ncco(
          new Talk('Connecting you to an agent.'),
          new Connect({ type: 'phone', number: '447700900123' }, '447700900001', undefined, undefined, undefined, undefined, undefined, `${base}/leg`),
          new Talk('Nobody answered. Goodbye.'),
        ),
      }),
  };
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url, 'http://127.0.0.1');
      const raw = Buffer.concat(chunks).toString('utf8');
      if (url.pathname === '/_stats') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(records));
        return;
      }
      const auth = req.headers.authorization ?? '';
      const token = auth.startsWith('Bearer ') ? auth.slice(7) : null;
      const claims = token ? claimsOf(token) : {};
      const secret = secrets[claims.api_key];
      const verified = Boolean(token && secret && verifySignature(token, secret));
      let body = {};
      try {
        body = raw ? JSON.parse(raw) : {};
      } catch {
        body = {};
      }
      const hashed =
        req.method === 'GET'
          ? [JSON.stringify(Object.fromEntries(url.searchParams))]
          : [raw, JSON.stringify(body)];
      const hashOk = token ? hashed.every((h) => sha256(h) === claims.payload_hash) : false;
      records.push({
        path: url.pathname,
        method: req.method,
        signed: Boolean(token),
        verified,
        hashOk,
        apiKey: claims.api_key ?? null,
        applicationId: claims.application_id ?? null,
        body: req.method === 'GET' ? Object.fromEntries(url.searchParams) : body,
      });
      if (!verified) {
        res.writeHead(401).end();
        return;
      }
      const route = routes[url.pathname];
      if (!route) {
        res.writeHead(200).end();
        return;
      }
      // The input's result, as Vonage sends it: {dtmf: {digits, timed_out}, speech: {results: [...]}}.
      const result = req.method === 'GET' ? { dtmf: JSON.parse(url.searchParams.get('dtmf') ?? '{}') } : body;
      const answer = route({
        digits: result?.dtmf?.digits ?? '',
        said: result?.speech?.results?.[0]?.text ?? '',
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
  return {
    base,
    records,
    reset: () => records.splice(0, records.length),
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
