// The OpenFeature server SDK with `@openfeature/ofrep-provider` against the toggles router at
// process.argv[2]: single evaluations (a listed user, a rollout's 2,000 users, a setting, a
// type mismatch, an unknown key), printed as one JSON object.
import { OpenFeature } from '@openfeature/server-sdk';
import { OFREPProvider } from '@openfeature/ofrep-provider';

await OpenFeature.setProviderAndWait(new OFREPProvider({ baseUrl: process.argv[2] }));
const client = OpenFeature.getClient();
const details = async (kind, key, fallback, context) => {
  const got = await client[`get${kind}Details`](key, fallback, context);
  return { value: got.value, reason: got.reason, variant: got.variant ?? null, error: got.errorCode ?? null };
};

let on = 0;
for (let n = 0; n < 2000; n++) {
  if (await client.getBooleanValue('grading.new_grader', false, { targetingKey: `user-${n}` })) on++;
}
console.log(JSON.stringify({
  on_of_2000: on,
  vip: await details('Boolean', 'grading.new_grader', false, { targetingKey: 'vip' }),
  setting: await details('Number', 'uploads.max_upload_bytes', 0, {}),
  mismatch: await details('String', 'grading.new_grader', 'x', { targetingKey: 'vip' }),
  missing: await details('Boolean', 'grading.nope', true, {}),
}));
await OpenFeature.close();
