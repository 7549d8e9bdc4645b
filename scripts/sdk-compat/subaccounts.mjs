// Drives a running vapp emulator with the official Vonage Node SDK's subaccounts client
// (@vonage/subaccounts) and checks that it answers as the SDK expects of the real Subaccounts API:
// list (with the primary account), create, get, modify, suspend, transfer a number, and the errors.
//
// Point VAPP_EMULATOR_URL at an emulator started with `--account sub00001:SubSecret1 --seed-numbers 12`
// (scripts/sdk-compat/run.sh does that). Prints one line per check; exits 1 on any failure.

import assert from 'node:assert/strict';

import { Auth } from '@vonage/auth';
import { Numbers } from '@vonage/numbers';
import { SubAccounts } from '@vonage/subaccounts';
import { VetchError } from '@vonage/vetch';

const BASE_URL = (process.env.VAPP_EMULATOR_URL || '').replace(/\/+$/, '');
const API_KEY = process.env.VAPP_API_KEY || 'sandbox';
const API_SECRET = process.env.VAPP_API_SECRET || 'sandbox';
const SUB_KEY = 'sub00001';
const SUB_SECRET = 'SubSecret1';
const options = { apiHost: BASE_URL, restHost: BASE_URL, timeout: 10_000 };
setTimeout(() => {
  console.error('watchdog: subaccounts.mjs did not finish within 30 s');
  process.exit(1);
}, 30_000).unref();

let passed = 0;
let failed = 0;
async function check(name, fn) {
  try {
    await fn();
    passed += 1;
    console.log(`ok   ${String(passed + failed).padStart(3)} - ${name}`);
  } catch (error) {
    failed += 1;
    console.log(`FAIL ${String(passed + failed).padStart(3)} - ${name}`);
    for (const line of String(error?.message ?? error).split('\n').slice(0, 12)) console.log(`       ${line}`);
  }
}

async function expectProblem(action, status, type) {
  let error;
  try {
    await action();
  } catch (e) {
    error = e;
  }
  // The subaccounts client brings its own copy of @vonage/vetch: the class is matched by name.
  assert.equal(error?.constructor?.name, VetchError.name, `expected a VetchError (HTTP ${status}), got ${error?.message ?? 'no error'}`);
  assert.equal(error.response?.status, status);
  if (type === undefined) return undefined; // the Numbers API's errors are not problem+json
  const body = JSON.parse(await error.response.text());
  for (const field of ['type', 'title', 'detail', 'instance']) assert.equal(typeof body[field], 'string', `problem lacks "${field}"`);
  if (type) assert.equal(body.type, type);
  return body;
}

const primary = new SubAccounts(new Auth({ apiKey: API_KEY, apiSecret: API_SECRET }), options);
const asSub = new SubAccounts(new Auth({ apiKey: SUB_KEY, apiSecret: SUB_SECRET }), options);
const wrong = new SubAccounts(new Auth({ apiKey: API_KEY, apiSecret: `${API_SECRET}-wrong` }), options);
const numbersOf = (key, secret) => new Numbers(new Auth({ apiKey: key, apiSecret: secret }), options);
const ERR = 'https://developer.nexmo.com/api-errors';
let created;

console.log('# subaccounts (@vonage/subaccounts)');
await check('getPrimaryAccount and listSubAccounts read the existing subaccount (camelCase)', async () => {
  const account = await primary.getPrimaryAccount();
  assert.equal(account.apiKey, API_KEY);
  const subs = await primary.listSubAccounts();
  assert.deepEqual(subs.map((s) => s.apiKey), [SUB_KEY]);
  assert.equal(subs[0].primaryAccountApiKey, API_KEY);
  assert.equal(subs[0].usePrimaryAccountBalance, true);
  assert.equal(subs[0].suspended, false);
});
await check('createSubAccount with a secret answers the new key, and that secret signs in at once', async () => {
  created = await primary.createSubAccount({ name: 'ACME Corp', secret: 'AcmeSecret9', usePrimaryAccountBalance: false });
  assert.match(created.apiKey, /^[0-9a-f]{8}$/);
  assert.equal(created.name, 'ACME Corp');
  assert.equal(created.usePrimaryAccountBalance, false);
  const owned = await numbersOf(created.apiKey, 'AcmeSecret9').getOwnedNumbers();
  assert.equal(owned.count ?? 0, 0);
});
await check('getSubAccount reads it back', async () => {
  const read = await primary.getSubAccount(created.apiKey);
  assert.equal(read.apiKey, created.apiKey);
  assert.equal(read.name, 'ACME Corp');
});
await check('updateSubAccount renames it and shares the balance again', async () => {
  const changed = await primary.updateSubAccount(created.apiKey, { name: 'ACME Ltd', usePrimaryAccountBalance: true });
  assert.equal(changed.name, 'ACME Ltd');
  assert.equal(changed.usePrimaryAccountBalance, true);
});
await check('transferNumber moves a number from the primary to the subaccount', async () => {
  const answer = await primary.transferNumber({ from: API_KEY, to: SUB_KEY, number: '447700900001', country: 'GB' });
  assert.equal(answer.number, '447700900001');
  const theirs = await numbersOf(SUB_KEY, SUB_SECRET).getOwnedNumbers({ pattern: '447700900001', searchPattern: 0 });
  assert.equal(theirs.count, 1);
  const mine = await numbersOf(API_KEY, API_SECRET).getOwnedNumbers({ pattern: '447700900001', searchPattern: 0 });
  assert.equal(mine.count ?? 0, 0);
});
await check('a second transfer to the owner is 409 #transfer-conflict', async () => {
  await expectProblem(
    () => primary.transferNumber({ from: API_KEY, to: SUB_KEY, number: '447700900001', country: 'GB' }),
    409,
    `${ERR}/subaccounts#transfer-conflict`,
  );
});
await check('a transfer between two subaccounts is 403 #invalid-number-transfer', async () => {
  await expectProblem(
    () => primary.transferNumber({ from: SUB_KEY, to: created.apiKey, number: '447700900001', country: 'GB' }),
    403,
    `${ERR}/subaccounts#invalid-number-transfer`,
  );
});
await check('wrong credentials are 401, a subaccount\'s own are 403, an unknown key is 404', async () => {
  await expectProblem(() => wrong.listSubAccounts(), 401, `${ERR}#unauthorized`);
  await expectProblem(() => asSub.listSubAccounts(), 403, `${ERR}#unprovisioned`);
  await expectProblem(() => primary.getSubAccount('nosuchkey'), 404, `${ERR}#invalid-api-key`);
});
await check('a weak secret is 422 with invalid_parameters', async () => {
  const body = await expectProblem(() => primary.createSubAccount({ name: 'Weak', secret: 'weak' }), 422, `${ERR}/subaccounts#validation`);
  assert.ok(body.invalid_parameters.some((p) => p.name === 'secret'));
});
await check('a suspended subaccount signs in no more', async () => {
  const suspended = await primary.updateSubAccount(created.apiKey, { suspended: true });
  assert.equal(suspended.suspended, true);
  await expectProblem(() => numbersOf(created.apiKey, 'AcmeSecret9').getOwnedNumbers(), 401);
});

console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
