// Every NCCO the official Node SDK's builders make (ncco-builders.mjs: every action with every option,
// every endpoint, every enum value) must pass `vapp check`: vapp never reports as an error what
// Vonage's own SDK produces. Each NCCO is served by a local web application as an answer_url (200,
// application/json), and vapp checks them all as Vonage would fetch them.
//
//   VAPP_BIN=target/debug/vapp node scripts/sdk-compat/ncco-check.mjs
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { cases } from './ncco-builders.mjs';

const bin = process.env.VAPP_BIN ?? 'target/debug/vapp';
const byPath = new Map(cases.map((c) => [`/ncco/${c.name}`, c.ncco]));
const server = createServer((req, res) => {
  const ncco = byPath.get(new URL(req.url, 'http://x').pathname);
  if (!ncco) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(ncco));
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${server.address().port}`;
const dir = mkdtempSync(join(tmpdir(), 'vapp-ncco-'));
let failed = 0;
try {
  const address = (name) => name.toLowerCase().replace(/[^a-z0-9_-]/g, '-');
  let manifest = 'version: 1\napplications:\n';
  for (const { name } of cases) {
    manifest += `  ${address(name)}:\n    name: ${address(name)}\n    capabilities:\n      voice:\n        signed_callbacks: false\n        webhooks:\n          answer_url: "${base}/ncco/${name}"\n`;
  }
  writeFileSync(join(dir, 'vapp.yaml'), manifest);
  // vapp runs in the background: this process's event loop answers its requests meanwhile.
  const run = await new Promise((resolve) => {
    const child = spawn(bin, ['check', '--format', 'json', '-f', join(dir, 'vapp.yaml'), '--state', join(dir, 'none.json')], {
      env: { ...process.env, VONAGE_SIGNATURE_SECRET: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  const report = JSON.parse(run.stdout || '{"results": []}');
  for (const result of report.results) {
    if (!result.ok) {
      failed += 1;
      console.error(`FAIL ${result.address}: ${result.problem}`);
    }
  }
  console.log(
    `ncco-check: ${report.results.length} NCCOs built by @vonage/voice checked by vapp: ${report.results.length - failed} passed, ${failed} failed`,
  );
  if (report.results.length !== cases.length) {
    console.error(`expected ${cases.length} results, got ${report.results.length}; vapp said: ${run.stderr}`);
    failed += 1;
  }
} finally {
  server.close();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(failed === 0 ? 0 : 1);

