// Drives the Atom Salesforce emulator with jsforce, an unmodified Salesforce
// client: logs in with the password and client-credentials grants, publishes
// platform events with conn.sobject(...).create(...), and subscribes through
// jsforce's streaming client with its Replay extension at -2, -1 and a stored
// replay ID. Every step is printed as one JSON line; emulator/interop_test.go
// checks the lines against what the emulator published.
//
// Environment: EMULATOR_URL, SF_USERNAME, SF_PASSWORD (password + security
// token), SF_CLIENT_ID, SF_CLIENT_SECRET, SF_EVENT (an event name),
// SF_VERSION (API version, default 59.0).
'use strict';

const jsforce = require('jsforce');
const { StreamingExtension } = require('jsforce/api/streaming');

const env = (name, fallback) => {
  const v = process.env[name] || fallback;
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const loginUrl = env('EMULATOR_URL');
const username = env('SF_USERNAME');
const password = env('SF_PASSWORD');
const clientId = env('SF_CLIENT_ID');
const clientSecret = env('SF_CLIENT_SECRET');
const eventName = env('SF_EVENT', 'Order_Placed__e');
const version = env('SF_VERSION', '59.0');
const channel = '/event/' + eventName;
const timeoutMs = 20000;

const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

// collect subscribes with the Replay extension at replayId and resolves with
// the first `count` events; afterSubscribe runs once the subscribe succeeded.
function collect(conn, label, replayId, count, afterSubscribe) {
  return new Promise((resolve, reject) => {
    const replay = new StreamingExtension.Replay(channel, replayId);
    const authFailure = new StreamingExtension.AuthFailure((msg) =>
      reject(new Error(`${label}: authentication failed: ${JSON.stringify(msg)}`)));
    const client = conn.streaming.createClient([authFailure, replay]);
    const got = [];
    const timer = setTimeout(() => {
      client.disconnect();
      reject(new Error(`${label}: timed out with ${got.length} of ${count} events`));
    }, timeoutMs);
    const subscription = client.subscribe(channel, (data) => {
      got.push(data);
      out({ step: 'event', replay: label, channel, data });
      if (got.length === count) {
        clearTimeout(timer);
        subscription.cancel();
        client.disconnect();
        resolve(got);
      }
    });
    subscription.then(() => {
      out({ step: 'subscribed', replay: label });
      if (afterSubscribe) afterSubscribe().catch(reject);
    }, (err) => {
      clearTimeout(timer);
      reject(new Error(`${label}: subscribe failed: ${err && err.message}`));
    });
  });
}

async function publish(conn, grant, record) {
  const result = await conn.sobject(eventName).create(record);
  out({ step: 'publish', grant, record, result });
  if (!result.success) throw new Error(`publish failed: ${JSON.stringify(result)}`);
  return result;
}

async function main() {
  // Username-password grant: the password carries the security token.
  const conn = new jsforce.Connection({ oauth2: { loginUrl, clientId, clientSecret }, version });
  const user = await conn.login(username, password);
  out({ step: 'login', grant: 'password', userId: user.id, orgId: user.organizationId, instanceUrl: conn.instanceUrl });

  // Client-credentials grant, against the org's (My Domain) login URL.
  const cc = new jsforce.Connection({ oauth2: { loginUrl, clientId, clientSecret }, loginUrl, version });
  const ccUser = await cc.authorize({ grant_type: 'client_credentials' });
  out({ step: 'login', grant: 'client_credentials', userId: ccUser.id, orgId: ccUser.organizationId, instanceUrl: cc.instanceUrl });

  await publish(conn, 'password', { Order_Number__c: 'JS-1', Amount__c: 10.5, Express__c: true });
  await publish(conn, 'password', { Order_Number__c: 'JS-2', Amount__c: 20, Item_Count__c: 2 });
  await publish(cc, 'client_credentials', { Order_Number__c: 'JS-3', Amount__c: 30, Ship_By__c: '2024-06-01' });
  await publish(cc, 'client_credentials', { Order_Number__c: 'JS-4', Amount__c: 40, Placed_At__c: '2024-06-01T12:30:00.000Z' });

  // -2: every retained event.
  const all = await collect(conn, '-2', -2, 4);

  // -1: only events published after subscribing.
  await collect(cc, '-1', -1, 1, () =>
    publish(cc, 'client_credentials', { Order_Number__c: 'JS-5', Amount__c: 50 }));

  // A stored replay ID: the events after the second one.
  const stored = all[1].event.replayId;
  out({ step: 'stored', replayId: stored });
  await collect(conn, 'stored', stored, 3);

  out({ step: 'done' });
}

main().then(() => process.exit(0), (err) => {
  out({ step: 'error', message: String(err && err.stack || err) });
  process.exit(1);
});
