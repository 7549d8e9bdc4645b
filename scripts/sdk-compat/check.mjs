// Drives a running vapp emulator with the official Vonage Node SDK (@vonage/server-sdk) and checks
// that it answers the way the SDK expects of the real Application API v2.
//
// Starts nothing itself: point VAPP_EMULATOR_URL at an emulator with no applications and 12 numbers
// (scripts/sdk-compat/run.sh does that). Prints one line per check and ends with "N passed, M failed"; exits 1 on any failure.

import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, randomUUID } from 'node:crypto';

import { Auth } from '@vonage/auth';
import { Vonage } from '@vonage/server-sdk';
import { VetchError } from '@vonage/vetch';

const BASE_URL = (process.env.VAPP_EMULATOR_URL || '').replace(/\/+$/, '');
if (!/^https?:\/\/[^/]+$/.test(BASE_URL)) {
  console.error('VAPP_EMULATOR_URL must be the emulator base URL, e.g. http://127.0.0.1:8080');
  process.exit(2);
}
const API_KEY = process.env.VAPP_API_KEY || 'sandbox';
const API_SECRET = process.env.VAPP_API_SECRET || 'sandbox';
const REQUEST_TIMEOUT_MS = 10_000;
const WATCHDOG_MS = Number(process.env.VAPP_COMPAT_WATCHDOG_MS || 40_000);

// Never hang: whatever happens, give up well before run.sh's own timeout.
setTimeout(() => {
  console.error(`watchdog: check.mjs did not finish within ${WATCHDOG_MS} ms`);
  process.exit(1);
}, WATCHDOG_MS).unref();

// ---------------------------------------------------------------------------------------------
// Wire log: the SDK calls the global fetch, so wrapping it lets us see exactly what the SDK sent
// and what status / Content-Type came back, without bypassing the SDK.
const exchanges = [];
const realFetch = globalThis.fetch;
globalThis.fetch = async (url, init = {}) => {
  const entry = { method: init.method || 'GET', url: String(url), requestHeaders: init.headers || {}, requestBody: init.body };
  exchanges.push(entry);
  try {
    const response = await realFetch(url, init);
    entry.status = response.status;
    entry.contentType = response.headers.get('content-type');
    entry.contentLength = response.headers.get('content-length');
    return response;
  } catch (error) {
    entry.error = String(error);
    throw error;
  }
};
const lastExchange = () => exchanges[exchanges.length - 1];
const describeExchange = (e) =>
  e ? `${e.method} ${e.url.replace(BASE_URL, '')} -> ${e.status ?? e.error} (${e.contentType ?? 'no content-type'})` : '(no request)';

// Anything thrown outside a check still ends with a summary line and a failing status.
for (const event of ['unhandledRejection', 'uncaughtException']) {
  process.on(event, (error) => {
    console.log(`FAIL       - unexpected ${event}: ${error?.stack ?? error}`);
    console.log(`${passed} passed, ${failed + 1} failed`);
    process.exit(1);
  });
}

// ---------------------------------------------------------------------------------------------
// A tiny harness: every check runs, failures are reported with the HTTP exchange that caused them.
let passed = 0;
let failed = 0;
const failures = [];

async function check(name, fn) {
  const before = exchanges.length;
  try {
    await fn();
    passed += 1;
    console.log(`ok   ${String(passed + failed).padStart(3)} - ${name}`);
  } catch (error) {
    failed += 1;
    const wire = exchanges.slice(before).slice(-3).map(describeExchange);
    console.log(`FAIL ${String(passed + failed).padStart(3)} - ${name}`);
    for (const line of String(error?.message ?? error).split('\n').slice(0, 12)) console.log(`       ${line}`);
    for (const line of wire) console.log(`       wire: ${line}`);
    failures.push(name);
  }
}

function section(title) {
  console.log(`\n# ${title}`);
}

// ---------------------------------------------------------------------------------------------
// SDK clients, exactly as an SDK user would build them.
const vonage = new Vonage(new Auth({ apiKey: API_KEY, apiSecret: API_SECRET }), {
  apiHost: BASE_URL,
  restHost: BASE_URL,
  timeout: REQUEST_TIMEOUT_MS,
});
const apps = vonage.applications;
const numbers = vonage.numbers;
const wrongCredentials = new Vonage(new Auth({ apiKey: API_KEY, apiSecret: `${API_SECRET}-wrong` }), {
  apiHost: BASE_URL,
  restHost: BASE_URL,
  timeout: REQUEST_TIMEOUT_MS,
});

const { publicKey: PUBLIC_KEY, privateKey: PRIVATE_KEY } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});
const pemBody = (pem) => String(pem).replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// Walks listAllApplications with a hard cap so a paging bug cannot loop forever.
async function listAll(params) {
  const seen = [];
  const cap = 10_000;
  const startedAt = exchanges.length;
  for await (const app of apps.listAllApplications(params)) {
    seen.push(app);
    if (seen.length > cap) throw new Error(`listAllApplications yielded more than ${cap} items: the loop does not terminate`);
  }
  return { seen, requests: exchanges.length - startedAt };
}

async function assertListing(expectedIds, label) {
  const expected = new Set(expectedIds);
  const n = expected.size;
  for (const [params, pageSize] of [[undefined, 10], [{ pageSize: 100 }, 100], [{ pageSize: 7 }, 7]]) {
    const what = params ? `pageSize ${params.pageSize}` : 'default page size';
    await check(`listAllApplications over ${label} (${what}) yields every application exactly once and stops`, async () => {
      const { seen, requests } = await listAll(params ? { ...params } : undefined);
      const ids = seen.map((a) => a.id);
      assert.equal(ids.length, n, `yielded ${ids.length} applications, ${n} exist`);
      assert.equal(new Set(ids).size, n, 'some application was yielded twice');
      for (const id of ids) assert.ok(expected.has(id), `yielded unknown application ${id}`);
      const pages = Math.max(1, Math.ceil(n / pageSize));
      assert.equal(requests, pages, `made ${requests} page requests, expected ${pages}`);
    });
  }
  await check(`getApplicationPage over ${label}: total_items/totalItems, total_pages, page_size`, async () => {
    const page = await apps.getApplicationPage({ pageSize: 100, page: 1 });
    assert.equal(page.total_items, n, 'total_items');
    assert.equal(page.totalItems, n, 'totalItems (SDK alias)');
    assert.equal(page.page_size, 100, 'page_size');
    assert.equal(page.page, 1, 'page');
    assert.equal(page.totalPages, Math.ceil(n / 100) || page.totalPages, 'totalPages');
    assert.ok(Array.isArray(page._embedded?.applications), '_embedded.applications is an array');
    assert.equal(page._embedded.applications.length, Math.min(n, 100), 'applications on page 1');
    assert.equal(Boolean(page._links?.next), n > 100, `_links.next present: ${Boolean(page._links?.next)}`);
  });
}

async function createMany(count, into) {
  const batch = 10;
  for (let i = 0; i < count; i += batch) {
    const made = await Promise.all(
      Array.from({ length: Math.min(batch, count - i) }, (_, j) =>
        apps.createApplication({
          name: `sdk-compat bulk ${into.length + i + j + 1}`,
          keys: { publicKey: PUBLIC_KEY },
          capabilities: { voice: { webhooks: { answerUrl: { address: 'https://example.com/answer', httpMethod: 'GET' } } } },
        }),
      ),
    );
    into.push(...made.map((a) => a.id));
  }
}

// Runs `action`, expects the SDK to throw a VetchError for `status`, and checks the problem body.
async function expectProblem(action, status, expected) {
  let error;
  try {
    await action();
  } catch (e) {
    error = e;
  }
  assert.ok(error, `the SDK did not throw (expected HTTP ${status})`);
  assert.ok(error instanceof VetchError, `expected a VetchError, got ${error?.constructor?.name}: ${error?.message}`);
  assert.equal(error.message, `Request failed with status code ${status}`);
  assert.equal(error.response?.status, status, `status ${error.response?.status}`);
  const contentType = error.response.headers.get('content-type') || '';
  assert.match(contentType, /^application\/(problem\+)?json\b/, `error Content-Type is ${contentType || 'missing'}`);
  const text = await error.response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    assert.fail(`error body is not JSON: ${text.slice(0, 200)}`);
  }
  for (const field of ['type', 'title', 'detail', 'instance']) {
    assert.equal(typeof body[field], 'string', `problem body lacks a string "${field}": ${text.slice(0, 300)}`);
    assert.ok(body[field].length > 0, `problem "${field}" is empty`);
  }
  if (expected.type) assert.equal(body.type, expected.type, 'problem type');
  if (expected.title) assert.equal(body.title, expected.title, 'problem title');
  if (expected.detail) assert.match(body.detail, expected.detail, 'problem detail');
  return body;
}

function assertInvalidParameter(body, name, reason) {
  assert.ok(Array.isArray(body.invalid_parameters), `no invalid_parameters array: ${JSON.stringify(body)}`);
  const hit = body.invalid_parameters.find((p) => p.name === name);
  assert.ok(hit, `invalid_parameters lacks "${name}": ${JSON.stringify(body.invalid_parameters)}`);
  assert.equal(typeof hit.reason, 'string');
  if (reason) assert.match(hit.reason, reason);
}

const ERR = 'https://developer.vonage.com/api-errors';
const hookOf = (path, httpMethod = 'POST') => ({ address: `https://hooks.example.com/${path}`, httpMethod });
const created = []; // every id this run created and has not deleted yet

// ---------------------------------------------------------------------------------------------
console.log(`vapp emulator SDK compatibility check: @vonage/server-sdk against ${BASE_URL} (node ${process.version})`);

section('preflight');
{
  const page = await apps.getApplicationPage({ pageSize: 1 }).catch((e) => {
    console.error(`cannot list applications at ${BASE_URL}: ${e.message} (${describeExchange(lastExchange())})`);
    process.exit(2);
  });
  if (page.total_items !== 0) {
    console.error(`the emulator at ${BASE_URL} already holds ${page.total_items} applications; start an empty one (run.sh does)`);
    process.exit(2);
  }
}
await check('SDK requests carry Basic auth and, for bodies, Content-Type application/json', async () => {
  await apps.createApplication({ name: 'sdk-compat probe', keys: { publicKey: PUBLIC_KEY } }).then((a) => created.push(a.id));
  const e = lastExchange();
  const auth = e.requestHeaders.Authorization || e.requestHeaders.authorization;
  assert.equal(auth, `Basic ${Buffer.from(`${API_KEY}:${API_SECRET}`).toString('base64')}`);
  assert.equal(e.requestHeaders['content-type'], 'application/json');
  await apps.deleteApplication(created.pop());
});

section('listAllApplications paging');
await assertListing(created, '0 applications');
for (const [add, total, label] of [[1, 1, '1 application'], [99, 100, '100 applications'], [1, 101, '101 applications'], [149, 250, '250 applications']]) {
  await check(`createApplication x${add} (with a public key) brings the account to ${total}`, async () => {
    await createMany(add, created);
    assert.equal(created.length, total);
  });
  await assertListing(created, label);
}
await check('listApplications without parameters answers page 1 of 10 (documented default page_size)', async () => {
  const page = await apps.listApplications({});
  assert.equal(page.page, 1);
  assert.equal(page.page_size, 10);
  assert.equal(page._embedded.applications.length, 10);
  assert.equal(page.totalPages, 25);
});
await check('a listed application carries camelCase and snake_case keys and no _links (SDK transform)', async () => {
  const page = await apps.listApplications({ pageSize: 1 });
  const [app] = page._embedded.applications;
  assert.match(app.id, UUID_RE);
  assert.equal(app._links, undefined);
  assert.equal(app.keys.publicKey, app.keys.public_key);
  assert.equal(app.keys.private_key, undefined, 'a listed application must never carry a private key');
});

section('createApplication / getApplication / updateApplication / deleteApplication');
let generated;
await check('createApplication without a public key answers 201 with keys.privateKey / keys.private_key', async () => {
  generated = await apps.createApplication({
    name: 'sdk-compat generated key',
    capabilities: { voice: { webhooks: { answerUrl: { address: 'https://example.com/a', httpMethod: 'GET' } } } },
  });
  created.push(generated.id);
  assert.equal(lastExchange().status, 201, `create answered ${lastExchange().status}`);
  assert.match(generated.id, UUID_RE, `id ${generated.id}`);
  assert.equal(generated.name, 'sdk-compat generated key');
  assert.equal(typeof generated.keys?.privateKey, 'string', 'keys.privateKey missing');
  assert.equal(generated.keys.privateKey, generated.keys.private_key, 'keys.private_key differs from keys.privateKey');
  assert.match(generated.keys.privateKey, /^-----BEGIN PRIVATE KEY-----\n[\s\S]+\n-----END PRIVATE KEY-----\n?$/);
  assert.match(generated.keys.publicKey, /^-----BEGIN PUBLIC KEY-----\n[\s\S]+\n-----END PUBLIC KEY-----\n?$/);
});
await check('the generated private key matches the public key and signs an SDK JWT', async () => {
  const derived = createPublicKey(generated.keys.privateKey).export({ type: 'spki', format: 'pem' });
  assert.equal(pemBody(derived), pemBody(generated.keys.publicKey));
  const auth = new Auth({ applicationId: generated.id, privateKey: generated.keys.privateKey });
  assert.match(await auth.createBearerHeader(), /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
});
await check('getApplication of a generated-key application shows the public key and never the private key', async () => {
  const got = await apps.getApplication(generated.id);
  assert.equal(got.id, generated.id);
  assert.equal(got.keys.public_key, generated.keys.public_key);
  assert.equal(got.keys.private_key, undefined);
  assert.equal(got.keys.privateKey, undefined);
});

let own;
await check('createApplication with a public key (spki PEM) answers 201, keeps that key, sends no private key', async () => {
  own = await apps.createApplication({ name: 'sdk-compat own key', keys: { publicKey: PUBLIC_KEY } });
  created.push(own.id);
  assert.equal(lastExchange().status, 201);
  assert.equal(JSON.parse(lastExchange().requestBody).keys.public_key, PUBLIC_KEY, 'the SDK sent keys.public_key');
  assert.equal(pemBody(own.keys.publicKey), pemBody(PUBLIC_KEY));
  assert.equal(own.keys.privateKey, undefined);
  assert.equal(own.keys.private_key, undefined);
});
await check('createApplication with only a name fills the documented defaults (privacy.improve_ai true)', async () => {
  assert.equal(own.privacy?.improve_ai, true);
  assert.equal(own.privacy?.improveAi, true);
  assert.equal(typeof own.capabilities, 'object');
});
await check('getApplication returns what createApplication returned (200)', async () => {
  const got = await apps.getApplication(own.id);
  assert.equal(lastExchange().status, 200);
  assert.deepEqual(got, own);
});

let voiceApp;
await check('updateApplication (camelCase, no keys) changes a webhook, answers 200, keeps the key', async () => {
  voiceApp = await apps.createApplication({
    name: 'sdk-compat update',
    keys: { publicKey: PUBLIC_KEY },
    capabilities: {
      voice: {
        webhooks: {
          answerUrl: { address: 'https://example.com/answer-v1', httpMethod: 'GET' },
          eventUrl: { address: 'https://example.com/event', httpMethod: 'POST' },
        },
      },
    },
  });
  created.push(voiceApp.id);
  const updated = await apps.updateApplication({
    id: voiceApp.id,
    name: 'sdk-compat update (renamed)',
    capabilities: {
      voice: {
        webhooks: {
          answerUrl: { address: 'https://example.com/answer-v2', httpMethod: 'POST' },
          eventUrl: { address: 'https://example.com/event', httpMethod: 'POST' },
        },
      },
    },
  });
  assert.equal(lastExchange().method, 'PUT');
  assert.equal(lastExchange().status, 200);
  assert.equal(updated.id, voiceApp.id);
  assert.equal(updated.name, 'sdk-compat update (renamed)');
  assert.equal(updated.capabilities.voice.webhooks.answer_url.address, 'https://example.com/answer-v2');
  assert.equal(updated.capabilities.voice.webhooks.answerUrl.httpMethod, 'POST');
  assert.equal(pemBody(updated.keys.public_key), pemBody(PUBLIC_KEY));
});
await check('the update persisted: getApplication shows the new webhook and the unchanged key', async () => {
  const got = await apps.getApplication(voiceApp.id);
  assert.equal(got.name, 'sdk-compat update (renamed)');
  assert.equal(got.capabilities.voice.webhooks.answer_url.address, 'https://example.com/answer-v2');
  assert.equal(got.capabilities.voice.webhooks.answer_url.http_method, 'POST');
  assert.equal(got.keys.public_key, voiceApp.keys.public_key);
});
await check('updateApplication accepts an application read back from getApplication (read-modify-write)', async () => {
  const got = await apps.getApplication(voiceApp.id);
  got.capabilities.voice.webhooks.eventUrl.address = 'https://example.com/event-v2';
  const updated = await apps.updateApplication(got);
  assert.equal(lastExchange().status, 200);
  assert.equal(updated.capabilities.voice.webhooks.event_url.address, 'https://example.com/event-v2');
  const again = await apps.getApplication(voiceApp.id);
  assert.equal(again.capabilities.voice.webhooks.event_url.address, 'https://example.com/event-v2');
  assert.equal(again.capabilities.voice.webhooks.answer_url.address, 'https://example.com/answer-v2');
  assert.equal(again.keys.public_key, voiceApp.keys.public_key);
  assert.equal(again.name, 'sdk-compat update (renamed)');
});
await check('updateApplication never returns a private key', async () => {
  const updated = await apps.updateApplication({ id: generated.id, name: 'sdk-compat generated key (renamed)' });
  assert.equal(updated.keys.private_key, undefined);
  assert.equal(updated.keys.public_key, generated.keys.public_key);
});
await check('updateApplication with a new public key rotates the key (no private key back)', async () => {
  const { publicKey: rotated } = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  const app = await apps.createApplication({ name: 'sdk-compat rotate', keys: { publicKey: PUBLIC_KEY } });
  created.push(app.id);
  const updated = await apps.updateApplication({ id: app.id, name: app.name, keys: { publicKey: rotated } });
  assert.equal(pemBody(updated.keys.public_key), pemBody(rotated));
  assert.equal(updated.keys.private_key, undefined);
  assert.equal(pemBody((await apps.getApplication(app.id)).keys.public_key), pemBody(rotated));
});
await check('fields the SDK types declare (bulk, rtc.legPersistenceTime, voice.paymentEnabled/payments) are accepted and read back', async () => {
  const app = await apps.createApplication({
    name: 'sdk-compat sdk-typed extras',
    keys: { publicKey: PUBLIC_KEY },
    capabilities: {
      bulk: { webhooks: { listStatusUrl: hookOf('bulk/list'), runStatusUrl: hookOf('bulk/run') } },
      rtc: { webhooks: { eventUrl: hookOf('rtc') }, signedCallbacks: true, legPersistenceTime: 5 },
      voice: { webhooks: { answerUrl: hookOf('answer', 'GET') }, paymentEnabled: false, payments: { gateways: [] } },
    },
  });
  created.push(app.id);
  const got = await apps.getApplication(app.id);
  assert.equal(got.capabilities.bulk?.webhooks?.list_status_url?.address, 'https://hooks.example.com/bulk/list');
  assert.equal(got.capabilities.rtc.leg_persistence_time, 5);
  assert.equal(got.capabilities.voice.payment_enabled, false);
  assert.deepEqual(got.capabilities.voice.payments, { gateways: [] });
});
await check('deleteApplication resolves (204) and the application is gone (getApplication 404)', async () => {
  const result = await apps.deleteApplication(own.id);
  assert.equal(result, undefined);
  assert.equal(lastExchange().status, 204);
  created.splice(created.indexOf(own.id), 1);
  await expectProblem(() => apps.getApplication(own.id), 404, { type: `${ERR}#not-found` });
});

section('errors');
await check('wrong credentials: listApplications throws, 401 problem (unauthorized)', async () => {
  await expectProblem(() => wrongCredentials.applications.listApplications({}), 401, {
    type: `${ERR}#unauthorized`,
    title: 'Invalid credentials supplied',
  });
});
await check('wrong credentials: createApplication throws 401 and creates nothing', async () => {
  await expectProblem(() => wrongCredentials.applications.createApplication({ name: 'never' }), 401, { type: `${ERR}#unauthorized` });
  const page = await apps.getApplicationPage({ pageSize: 1 });
  assert.equal(page.total_items, created.length);
});
await check('wrong credentials: getApplication of an existing id throws 401, not 404', async () => {
  await expectProblem(() => wrongCredentials.applications.getApplication(voiceApp.id), 401, { type: `${ERR}#unauthorized` });
});
const unknownId = randomUUID();
await check('unknown id: getApplication throws 404 problem (not-found) naming the id', async () => {
  await expectProblem(() => apps.getApplication(unknownId), 404, {
    type: `${ERR}#not-found`,
    title: 'Not Found',
    detail: new RegExp(unknownId),
  });
});
await check('unknown id: updateApplication throws 404 problem', async () => {
  await expectProblem(() => apps.updateApplication({ id: unknownId, name: 'ghost' }), 404, { type: `${ERR}#not-found`, title: 'Not Found' });
});
await check('unknown id: deleteApplication throws 404 problem', async () => {
  await expectProblem(() => apps.deleteApplication(unknownId), 404, { type: `${ERR}#not-found`, title: 'Not Found' });
});
await check('invalid payload: createApplication with answer_url http_method PUT throws 400 payload-validation', async () => {
  const body = await expectProblem(
    () =>
      apps.createApplication({
        name: 'sdk-compat invalid',
        capabilities: { voice: { webhooks: { answerUrl: { address: 'https://example.com/a', httpMethod: 'PUT' } } } },
      }),
    400,
    { type: `${ERR}/application#payload-validation`, title: 'Bad Request' },
  );
  assertInvalidParameter(body, 'capabilities.voice.webhooks.answer_url.http_method', /GET.*POST/);
});
await check('invalid payload: updateApplication with http_method PUT throws 400 and changes nothing', async () => {
  const body = await expectProblem(
    () =>
      apps.updateApplication({
        id: voiceApp.id,
        name: 'sdk-compat should not stick',
        capabilities: { voice: { webhooks: { answerUrl: { address: 'https://example.com/a', httpMethod: 'PUT' } } } },
      }),
    400,
    { type: `${ERR}/application#payload-validation`, title: 'Bad Request' },
  );
  assertInvalidParameter(body, 'capabilities.voice.webhooks.answer_url.http_method');
  const got = await apps.getApplication(voiceApp.id);
  assert.equal(got.name, 'sdk-compat update (renamed)');
});
await check('invalid payload: createApplication without a name throws 400 naming "name"', async () => {
  const body = await expectProblem(() => apps.createApplication({ capabilities: {} }), 400, {
    type: `${ERR}/application#payload-validation`,
  });
  assertInvalidParameter(body, 'name');
});
await check('invalid payload: several problems are reported together', async () => {
  const body = await expectProblem(
    () =>
      apps.createApplication({
        name: 'sdk-compat many problems',
        capabilities: {
          voice: { webhooks: { answerUrl: { address: 'https://example.com/a', httpMethod: 'PUT' } }, region: 'mars' },
          messages: { webhooks: { inboundUrl: { address: 'https://example.com/in', httpMethod: 'GET' } } },
        },
      }),
    400,
    { type: `${ERR}/application#payload-validation` },
  );
  assertInvalidParameter(body, 'capabilities.voice.webhooks.answer_url.http_method');
  assertInvalidParameter(body, 'capabilities.voice.region');
  assertInvalidParameter(body, 'capabilities.messages.webhooks.inbound_url.http_method');
});
await check('invalid list parameters: listApplications({pageSize: 101}) throws 400 list-validation', async () => {
  const body = await expectProblem(() => apps.listApplications({ pageSize: 101 }), 400, {
    type: `${ERR}/application#list-validation`,
    title: 'Bad Request',
  });
  assertInvalidParameter(body, 'page_size');
});
await check('invalid public key: createApplication with a non-PEM key throws 400 naming keys.public_key', async () => {
  const body = await expectProblem(() => apps.createApplication({ name: 'bad key', keys: { publicKey: 'not a key' } }), 400, {
    type: `${ERR}/application#payload-validation`,
  });
  assertInvalidParameter(body, 'keys.public_key');
});

section('every capability through the SDK');
const hook = hookOf;
const VIDEO_EVENTS = [
  'archiveStatus', 'connectionCreated', 'connectionDestroyed', 'sessionCreated', 'sessionDestroyed',
  'sessionNotification', 'streamCreated', 'streamDestroyed', 'renderStatus', 'captionsStatus',
  'broadcastStatus', 'sipCallCreated', 'sipCallUpdated', 'sipCallDestroyed', 'sipCallMuteForced',
];
const snake = (s) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const capabilityCases = {
  voice: {
    webhooks: {
      answerUrl: { ...hook('answer', 'GET'), connectTimeout: 500, socketTimeout: 3000 },
      fallbackAnswerUrl: { ...hook('fallback', 'GET'), connectTimeout: 600, socketTimeout: 4000 },
      eventUrl: { ...hook('event', 'POST'), connectTimeout: 700, socketTimeout: 9000 },
    },
    region: 'eu-west',
    signedCallbacks: false,
    conversationsTTL: 24,
  },
  messages: {
    webhooks: { inboundUrl: hook('inbound'), statusUrl: hook('status') },
    version: 'v0.1',
    authenticateInboundMedia: true,
  },
  rtc: { webhooks: { eventUrl: hook('rtc', 'GET') }, signedCallbacks: true },
  vbc: {},
  verify: { webhooks: { statusUrl: hook('verify') }, version: 'v2' },
  meetings: { webhooks: { roomChanged: hook('room'), sessionChanged: hook('session'), recordingChanged: hook('recording') } },
  networkApis: { networkApplicationId: 'sdk-compat-network-app', redirectUri: 'https://hooks.example.com/callback' },
  video: {
    webhooks: Object.fromEntries(VIDEO_EVENTS.map((e, i) => [e, { address: `https://hooks.example.com/video/${snake(e)}`, active: i % 2 === 0 }])),
    storage: { serverSideEncryption: false, endToEndEncryption: false, cloudStorage: true },
  },
};
const expectedSnake = {
  voice: {
    webhooks: {
      answer_url: { address: 'https://hooks.example.com/answer', http_method: 'GET', connect_timeout: 500, socket_timeout: 3000 },
      fallback_answer_url: { address: 'https://hooks.example.com/fallback', http_method: 'GET', connect_timeout: 600, socket_timeout: 4000 },
      event_url: { address: 'https://hooks.example.com/event', http_method: 'POST', connect_timeout: 700, socket_timeout: 9000 },
    },
    region: 'eu-west',
    signed_callbacks: false,
    conversations_ttl: 24,
  },
  messages: {
    webhooks: {
      inbound_url: { address: 'https://hooks.example.com/inbound', http_method: 'POST' },
      status_url: { address: 'https://hooks.example.com/status', http_method: 'POST' },
    },
    version: 'v0.1',
    authenticate_inbound_media: true,
  },
  rtc: { webhooks: { event_url: { address: 'https://hooks.example.com/rtc', http_method: 'GET' } }, signed_callbacks: true },
  vbc: {},
  verify: { webhooks: { status_url: { address: 'https://hooks.example.com/verify', http_method: 'POST' } }, version: 'v2' },
  meetings: {
    webhooks: {
      room_changed: { address: 'https://hooks.example.com/room', http_method: 'POST' },
      session_changed: { address: 'https://hooks.example.com/session', http_method: 'POST' },
      recording_changed: { address: 'https://hooks.example.com/recording', http_method: 'POST' },
    },
  },
  network_apis: { network_application_id: 'sdk-compat-network-app', redirect_uri: 'https://hooks.example.com/callback' },
  video: {
    webhooks: Object.fromEntries(VIDEO_EVENTS.map((e, i) => [snake(e), { address: `https://hooks.example.com/video/${snake(e)}`, active: i % 2 === 0 }])),
    storage: { server_side_encryption: false, end_to_end_encryption: false, cloud_storage: true },
  },
};
// Deep "contains": every field we sent is there with the same value (the API may add defaults).
function assertContains(actual, expected, path) {
  if (expected !== null && typeof expected === 'object') {
    assert.ok(actual !== null && typeof actual === 'object', `${path} is ${JSON.stringify(actual)}, expected an object`);
    for (const [k, v] of Object.entries(expected)) assertContains(actual[k], v, `${path}.${k}`);
  } else {
    assert.equal(actual, expected, `${path}`);
  }
}

for (const [capability, config] of Object.entries(capabilityCases)) {
  const key = snake(capability);
  await check(`create + read back the ${key} capability`, async () => {
    const app = await apps.createApplication({ name: `sdk-compat ${key}`, keys: { publicKey: PUBLIC_KEY }, capabilities: { [capability]: config } });
    created.push(app.id);
    assert.equal(lastExchange().status, 201);
    assertContains(JSON.parse(lastExchange().requestBody).capabilities[key], expectedSnake[key], `request capabilities.${key}`);
    assertContains(app.capabilities[key], expectedSnake[key], `create answer capabilities.${key}`);
    const got = await apps.getApplication(app.id);
    assertContains(got.capabilities[key], expectedSnake[key], `getApplication capabilities.${key}`);
    const others = Object.keys(got.capabilities).filter((k) => k !== key && !/[A-Z]/.test(k));
    assert.deepEqual(others, [], `capabilities nobody asked for appeared: ${others.join(', ')}`);
  });
}
let everything;
await check('create + read back one application with all eight capabilities and privacy.improve_ai false', async () => {
  everything = await apps.createApplication({
    name: 'sdk-compat everything',
    keys: { publicKey: PUBLIC_KEY },
    capabilities: capabilityCases,
    privacy: { improveAi: false },
  });
  created.push(everything.id);
  assert.equal(lastExchange().status, 201);
  const got = await apps.getApplication(everything.id);
  for (const key of Object.keys(expectedSnake)) assertContains(got.capabilities[key], expectedSnake[key], `capabilities.${key}`);
  assert.equal(got.privacy.improve_ai, false);
  assert.equal(got.keys.private_key, undefined);
});
await check('voice defaults are filled in (leg_persistence_time) and webhooks read back camelCased by the SDK', async () => {
  const got = await apps.getApplication(everything.id);
  assert.equal(typeof got.capabilities.voice.leg_persistence_time, 'number');
  assert.equal(got.capabilities.voice.webhooks.answerUrl.httpMethod, 'GET');
  assert.equal(got.capabilities.voice.webhooks.answerUrl.connectTimeout, 500);
  assert.equal(got.capabilities.networkApis.redirectUri, 'https://hooks.example.com/callback');
  assert.equal(got.capabilities.video.webhooks.sipCallMuteForced.active, true);
});
await check('the all-capabilities application round-trips through updateApplication unchanged', async () => {
  const got = await apps.getApplication(everything.id);
  const updated = await apps.updateApplication(got);
  assert.equal(lastExchange().status, 200);
  const again = await apps.getApplication(everything.id);
  assert.deepEqual(again, got);
  assert.deepEqual(updated, got);
});
await check('the all-capabilities application appears in listAllApplications with the same content', async () => {
  const { seen } = await listAll({ pageSize: 100 });
  const listed = seen.find((a) => a.id === everything.id);
  assert.ok(listed, 'not listed');
  assert.deepEqual(listed, await apps.getApplication(everything.id));
});

section('numbers (the emulator owns 12 seeded numbers: run.sh starts it with --seed-numbers 12)');
const msisdn = (n) => `4477009${String(n).padStart(5, '0')}`;
let linkedApp;
await check('getOwnedNumbers: count, the default page of 10, every field of a seeded number', async () => {
  const page = await numbers.getOwnedNumbers();
  assert.equal(page.count, 12);
  assert.equal(page.numbers.length, 10);
  const first = page.numbers[0];
  assert.equal(first.msisdn, msisdn(1));
  assert.equal(first.country, 'GB');
  assert.equal(first.type, 'mobile-lvn');
  assert.deepEqual(first.features, ['VOICE', 'SMS', 'MMS']);
  assert.equal(first.app_id, undefined);
  assert.ok(new URL(lastExchange().url).pathname === '/account/numbers');
});
await check('getOwnedNumbers pages by size and index', async () => {
  const all = await numbers.getOwnedNumbers({ size: 100, index: 1 });
  assert.equal(all.numbers.length, 12);
  const last = await numbers.getOwnedNumbers({ size: 5, index: 3 });
  assert.equal(last.count, 12);
  assert.deepEqual(last.numbers.map((n) => n.msisdn), [msisdn(11), msisdn(12)]);
});
await check('getOwnedNumbers filters by pattern (starts with, contains, ends with)', async () => {
  const starts = await numbers.getOwnedNumbers({ pattern: '44770090001', searchPattern: 0, size: 100 });
  assert.deepEqual(starts.numbers.map((n) => n.msisdn), [msisdn(10), msisdn(11), msisdn(12)]);
  const ends = await numbers.getOwnedNumbers({ pattern: '2', searchPattern: 2, size: 100 });
  assert.deepEqual(ends.numbers.map((n) => n.msisdn), [msisdn(2), msisdn(12)]);
  const none = await numbers.getOwnedNumbers({ pattern: '999', searchPattern: 1 });
  assert.equal(none.count, 0);
});
await check('updateNumber links a number (form-encoded) and getOwnedNumbers shows it by applicationId', async () => {
  linkedApp = await apps.createApplication({ name: 'sdk-compat numbers', capabilities: { voice: { webhooks: { answerUrl: { address: 'https://n.example.com/answer', httpMethod: 'GET' } } } } });
  const answer = await numbers.updateNumber({ country: 'GB', msisdn: msisdn(3), applicationId: linkedApp.id, moHttpUrl: 'https://n.example.com/sms' });
  assert.deepEqual(answer, { errorCode: '200', errorCodeLabel: 'success' });
  const form = lastExchange();
  assert.match(String(form.requestHeaders['Content-Type'] ?? form.requestHeaders['content-type'] ?? ''), /application\/x-www-form-urlencoded/);
  const linked = await numbers.getOwnedNumbers({ applicationId: linkedApp.id });
  assert.equal(linked.count, 1);
  assert.equal(linked.numbers[0].msisdn, msisdn(3));
  assert.equal(linked.numbers[0].app_id, linkedApp.id);
  assert.equal(linked.numbers[0].moHttpUrl, 'https://n.example.com/sms');
  const has = await numbers.getOwnedNumbers({ hasApplication: true });
  assert.equal(has.count, 1);
});
await check('updateNumber replaces: an update without applicationId unlinks and clears moHttpUrl', async () => {
  const answer = await numbers.updateNumber({ country: 'GB', msisdn: msisdn(3) });
  assert.equal(answer.errorCode, '200');
  const page = await numbers.getOwnedNumbers({ pattern: msisdn(3) });
  assert.equal(page.numbers[0].app_id, undefined);
  assert.equal(page.numbers[0].moHttpUrl, undefined);
});
await check('updateNumber for an unknown application or number: HTTP 420 with error-code "420"', async () => {
  for (const params of [{ country: 'GB', msisdn: msisdn(4), applicationId: randomUUID() }, { country: 'GB', msisdn: '447700900999' }]) {
    try {
      await numbers.updateNumber(params);
      assert.fail('expected a VetchError');
    } catch (error) {
      assert.ok(error instanceof VetchError, `threw ${error}`);
      assert.equal(error.response.status, 420);
      const body = await error.response.json();
      assert.deepEqual(body, { 'error-code': '420', 'error-code-label': 'method failed' });
    }
  }
  created.push(linkedApp.id);
});
await check('getOwnedNumbers with wrong credentials: 401 with the Numbers API body', async () => {
  try {
    await wrongCredentials.numbers.getOwnedNumbers();
    assert.fail('expected a VetchError');
  } catch (error) {
    assert.ok(error instanceof VetchError, `threw ${error}`);
    assert.equal(error.response.status, 401);
  }
});

section('clean-up');
await check(`deleteApplication removes all ${created.length} remaining applications`, async () => {
  const ids = created.splice(0);
  for (let i = 0; i < ids.length; i += 10) await Promise.all(ids.slice(i, i + 10).map((id) => apps.deleteApplication(id)));
  const { seen, requests } = await listAll();
  assert.equal(seen.length, 0, `${seen.length} applications left`);
  assert.equal(requests, 1);
});

section('wire');
await check('every 200/201 answer had Content-Type application/json (the SDK decodes only that type)', async () => {
  const bad = exchanges.filter((e) => (e.status === 200 || e.status === 201) && (e.contentType || '').split(';')[0].trim() !== 'application/json');
  assert.deepEqual(bad.slice(0, 5).map(describeExchange), [], `${bad.length} answers`);
  assert.ok(exchanges.length > 300, `only ${exchanges.length} requests were made`);
});
await check('every successful DELETE answered 204 with an empty body', async () => {
  const deletes = exchanges.filter((e) => e.method === 'DELETE' && e.status >= 200 && e.status < 300);
  assert.ok(deletes.length >= 250, `only ${deletes.length} successful deletes seen`);
  const bad = deletes.filter((e) => e.status !== 204 || (e.contentLength ?? '0') !== '0');
  assert.deepEqual(bad.slice(0, 5).map(describeExchange), [], `${bad.length} answers`);
});

console.log('');
if (failures.length) console.log(`failed checks:\n${failures.map((f) => `  - ${f}`).join('\n')}\n`);
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
