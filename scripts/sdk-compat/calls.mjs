// `vapp check`, `vapp simulate` and `vapp simulate run` against ivr-webapp.mjs, a web application
// written only with Vonage's official Node libraries (signatures verified by @vonage/jwt's
// verifySignature, with the secret its `api_key` claim names; payload hashes checked as Vonage's
// support article says; NCCOs built by @vonage/voice), for the primary account and a subaccount with
// its own signature secret. Every genuine request must verify, GET and POST, voice, rtc and messages;
// every forged one must be refused; the IVR must be walked as its NCCOs say.
//
//   VAPP_BIN=target/debug/vapp node scripts/sdk-compat/calls.mjs
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { start } from './ivr-webapp.mjs';

const bin = resolve(process.env.VAPP_BIN ?? 'target/debug/vapp');
const SECRETS = { sandbox: 'primary-signature-secret', sub00001: 'subaccount-signature-secret' };
let failures = 0;
const check = (ok, what) => {
  if (!ok) {
    failures += 1;
    console.error(`FAIL ${what}`);
  }
};

/** Runs vapp in `cwd` with `env`, without blocking the event loop the web application answers on. */
const vapp = (cwd, env, args) =>
  new Promise((done) => {
    const child = spawn(bin, args, { cwd, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });

/** Starts `vapp emulator` and resolves to [its URL, the child]. */
const emulator = () =>
  new Promise((done, fail) => {
    const child = spawn(bin, [
      'emulator', '--listen', '127.0.0.1:0', '--seed-numbers', '4',
      '--signature-secret', SECRETS.sandbox,
      '--account', `sub00001:SubSecret1:${SECRETS.sub00001}`,
    ]);
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const url = /listening on (http\S+)/.exec(out)?.[1];
      if (url) done([url, child]);
    });
    child.on('error', fail);
    setTimeout(() => fail(new Error('the emulator did not start in 10 s')), 10_000).unref();
  });

const web = await start(SECRETS);
const [api, emulatorProcess] = await emulator();
const dir = mkdtempSync(join(tmpdir(), 'vapp-calls-'));
const env = {
  VAPP_API_URL: api,
  VONAGE_API_KEY: 'sandbox',
  VONAGE_API_SECRET: 'sandbox',
  STAGING_SECRET: 'SubSecret1',
  VONAGE_SIGNATURE_SECRET: SECRETS.sandbox,
  STAGING_SIGNATURE: SECRETS.sub00001,
  NO_COLOR: '1',
};
try {
  writeFileSync(
    join(dir, 'vapp.yaml'),
    `version: 1
accounts:
  staging:
    api_key: sub00001
    api_secret_env: STAGING_SECRET
    signature_secret_env: STAGING_SIGNATURE
applications:
  ivr:
    name: ivr
    numbers: ["447700900001"]
    capabilities:
      voice:
        webhooks:
          answer_url: "${web.base}/answer"
          event_url: "${web.base}/event"
      messages:
        webhooks:
          inbound_url: "${web.base}/inbound"
          status_url: "${web.base}/status"
      rtc:
        signed_callbacks: true
        webhooks:
          event_url: "${web.base}/rtc"
`,
  );
  writeFileSync(
    join(dir, 'staging.yaml'),
    `version: 1
account: staging
applications:
  staging-ivr:
    name: staging ivr
    numbers: ["447700900002"]
    capabilities:
      voice:
        webhooks:
          answer_url: { address: "${web.base}/answer", http_method: POST }
          event_url: { address: "${web.base}/event", http_method: GET }
`,
  );
  const applied = await vapp(dir, env, ['-f', '.', 'apply', '--auto-approve', '--numbers-pace', '0s']);
  check(applied.code === 0, `apply: ${applied.stderr}`);

  // check: every webhook passes (genuine requests verify), every forged probe is refused.
  const checked = await vapp(dir, env, ['-f', '.', 'check', '--format', 'json']);
  check(checked.code === 0, `check exits 0: ${checked.stdout}${checked.stderr}`);
  const results = JSON.parse(checked.stdout || '{"results": []}').results;
  check(results.length === 7 && results.every((r) => r.ok), `every webhook passes check: ${JSON.stringify(results)}`);
  const genuine = web.records.filter((r) => r.verified);
  check(genuine.every((r) => r.hashOk), 'every payload_hash checks out');
  check(web.records.some((r) => r.signed && !r.verified), 'check sent forged probes, refused');
  const seenVerified = (method, path, apiKey) =>
    genuine.some((r) => r.method === method && r.path === path && r.apiKey === apiKey);
  check(seenVerified('GET', '/answer', 'sandbox'), 'a GET answer_url verifies, primary');
  check(seenVerified('POST', '/answer', 'sub00001'), 'a POST answer_url verifies, subaccount');
  check(seenVerified('GET', '/event', 'sub00001'), 'a GET event_url verifies, subaccount');
  check(seenVerified('POST', '/rtc', 'sandbox'), 'rtc verifies');
  check(seenVerified('POST', '/inbound', 'sandbox') && seenVerified('POST', '/status', 'sandbox'), 'messages verify');

  // simulate: the three-level menu walked with keys, in each account.
  web.reset();
  const call = async (to, ...args) => {
    const run = await vapp(dir, env, ['simulate', 'call', '--to', to, '--format', 'json', ...args]);
    check(run.code === 0, `simulate call ${to} ${args.join(' ')}: ${run.stdout}${run.stderr}`);
    return JSON.parse(run.stdout || '{}');
  };
  const agent = await call('447700900001', '--press', '1', '--press', '1', '--press', '1');
  const heard = (agent.heard ?? []).map((h) => h.text);
  check(heard.at(-1) === 'Connecting you to an agent.', `walked to the agent: ${JSON.stringify(heard)}`);
  check(agent.connected?.[0]?.to === '447700900123', 'connected to the agent');
  const staged = await call('447700900002', '--say', 'sales', '--press', '1', '--press', '1', '--no-answer');
  check((staged.heard ?? []).some((h) => h.text === 'Nobody answered. Goodbye.'), `no answer goes on: ${JSON.stringify(staged.heard)}`);
  const left = await call('447700900001', '--press', '2', '--press', '#');
  check(web.records.some((r) => r.path === '/recorded' && r.body.recording_url), 'a recording event with its URL');
  check((left.heard ?? []).at(-1)?.text === 'Thank you. Goodbye.', 'thanked after the message');
  const message = await vapp(dir, env, ['simulate', 'message', '--to', '447700900001', '--text', 'hi']);
  check(message.code === 0, `simulate message: ${message.stdout}`);
  const menu = web.records.find((r) => r.path === '/menu' && r.method === 'POST');
  check(typeof menu?.body?.dtmf === 'object' && menu.body.dtmf.digits === '1', `dtmf as Vonage sends it: ${JSON.stringify(menu?.body)}`);
  check(web.records.length > 0 && web.records.every((r) => r.verified && r.hashOk), `every simulated request verifies: ${JSON.stringify(web.records.filter((r) => !(r.verified && r.hashOk)))}`);
  check(web.records.some((r) => r.apiKey === 'sub00001') && web.records.some((r) => r.apiKey === 'sandbox'), 'each account signs as itself');

  // simulate run: scenario files, one failing on purpose.
  writeFileSync(
    join(dir, 'calls.yaml'),
    `version: 1
scenarios:
  - name: three presses reach an agent
    call: { to: "447700900001" }
    press: ["1", "1", "1"]
    expect: { outcome: answered, heard: [Welcome, Sales, New orders, agent], connected: ["447700900123"], webhooks: { input: 3 } }
  - name: a message after the tone
    call: { to: "447700900002" }
    press: ["2", "#"]
    expect: { heard: [Leave a message, Thank you], webhooks: { record: 1 } }
  - name: a text reaches the application
    message: { to: "447700900001", text: hello }
    expect: { outcome: accepted }
`,
  );
  writeFileSync(
    join(dir, 'wrong.yaml'),
    `version: 1
scenarios:
  - name: silence reaches an agent (it does not)
    call: { to: "447700900001" }
    expect: { connected: ["447700900123"] }
`,
  );
  const scenarios = await vapp(dir, env, ['simulate', 'run', 'calls.yaml', '--format', 'junit']);
  check(scenarios.code === 0 && scenarios.stdout.includes('tests="3"') && !scenarios.stdout.includes('<failure'), `scenarios pass: ${scenarios.stdout}${scenarios.stderr}`);
  const wrong = await vapp(dir, env, ['simulate', 'run', 'wrong.yaml']);
  check(wrong.code === 1 && wrong.stdout.includes('connected: expected "447700900123"'), `a failing scenario says why: ${wrong.stdout}`);
} finally {
  emulatorProcess.kill();
  await web.close();
  rmSync(dir, { recursive: true, force: true });
}
console.log(`calls: ${failures === 0 ? 'every check passed' : `${failures} failed`}`);
process.exit(failures === 0 ? 0 : 1);
