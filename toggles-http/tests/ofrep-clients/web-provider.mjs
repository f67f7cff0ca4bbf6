// The OpenFeature web provider against the toggles router at process.argv[2], told of changes
// by process.argv[3]: `poll` (every 100 ms, so the test sees the 304s) or `sse` (the router's
// event stream, through the `eventsource` package's EventSource as a browser has its own; no
// polling). It reports each response's status. Steps are lines on stdout, JSON each; the test
// writes "changed" on stdin after it changes the flag.
import { OpenFeature, ProviderEvents } from '@openfeature/web-sdk';
import { OFREPWebProvider } from '@openfeature/ofrep-web-provider';
import { EventSource } from 'eventsource';
import { createInterface } from 'node:readline';

const baseUrl = process.argv[2];
const sse = process.argv[3] === 'sse';
if (sse) {
  globalThis.EventSource = EventSource;
}
const statuses = [];
const fetchImplementation = async (input, init) => {
  const response = await fetch(input, init);
  statuses.push(response.status);
  return response;
};
const say = (step, extra) => console.log(JSON.stringify({ step, ...extra }));

const provider = new OFREPWebProvider({
  baseUrl,
  pollInterval: sse ? 0 : 100,
  fetchImplementation,
  cacheMode: 'network-first',
});
await OpenFeature.setContext({ targetingKey: '42' });
await OpenFeature.setProviderAndWait(provider);
const client = OpenFeature.getClient();
const details = () => client.getBooleanDetails('grading.new_grader', false);
say('ready', { value: details().value, reason: details().reason });

const changed = new Promise((resolve) => {
  client.addHandler(ProviderEvents.ConfigurationChanged, resolve);
});
const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (line.trim() === 'changed') break;
}
const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('no change within 5 s')), 5000));
await Promise.race([changed, timeout]);
say('changed', { value: details().value, reason: details().reason, statuses });
await OpenFeature.close();
process.exit(0);
