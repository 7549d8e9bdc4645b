// Lists every application of the account at VAPP_EMULATOR_URL with the official Node SDK's
// listAllApplications (pageSize 100, the most the API serves: the SDK's best case), and prints
// {"count": N, "seconds": S}. The benchmark (`cargo bench -- plan`) runs it beside `vapp plan`.
import { Auth } from '@vonage/auth';
import { Vonage } from '@vonage/server-sdk';

const url = (process.env.VAPP_EMULATOR_URL || '').replace(/\/+$/, '');
const vonage = new Vonage(new Auth({ apiKey: 'sandbox', apiSecret: 'sandbox' }), { apiHost: url, timeout: 30_000 });
const started = performance.now();
let count = 0;
for await (const app of vonage.applications.listAllApplications({ pageSize: 100 })) {
  if (app.id) count += 1;
}
console.log(JSON.stringify({ count, seconds: (performance.now() - started) / 1000 }));
