// Conformance: a Pub/Sub API client no one here wrote (salesforce-pubsub-api-client, the client
// Salesforce's developer advocates publish) subscribes to the emulator's change events over TLS
// and decodes them with its own Avro and bitmap code, for records changed through the REST API.
//
// Binary: $LEDGERLINK_EMULATE_BIN, else <$CARGO_TARGET_DIR or <repo>/target>/debug/ledgerlink-emulate.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import PubSubApiClient from 'salesforce-pubsub-api-client';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..', '..', '..');
const binary =
  process.env.LEDGERLINK_EMULATE_BIN ||
  path.join(process.env.CARGO_TARGET_DIR || path.join(repo, 'target'), 'debug', 'ledgerlink-emulate');
const API = '/services/data/v61.0';
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

let emulator;
let org;

before(async () => {
  emulator = spawn(binary, ['salesforce', '--pubsub-tls'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: emulator.stdout });
  org = await new Promise((resolve, reject) => {
    emulator.once('error', reject);
    emulator.once('exit', (code) => reject(new Error(`ledgerlink-emulate exited with ${code}`)));
    lines.once('line', (line) => resolve(JSON.parse(line)));
  });
});

// The client's close() removes its listeners but leaves its Subscribe streams open (grpc-js
// lets active calls run on), so the harness keeps a hand on them to cancel them at the end;
// otherwise the process would not exit, or, with the emulator gone, the streams would fail with
// no listener left. It wraps the generated PubSub client's Subscribe as the package loads it.
const streams = [];
const makeClient = createRequire(import.meta.url)('@grpc/grpc-js/build/src/make-client.js');
const loadPackageDefinition = makeClient.loadPackageDefinition;
makeClient.loadPackageDefinition = (definition) => {
  const loaded = loadPackageDefinition(definition);
  const PubSub = loaded.eventbus?.v1?.PubSub;
  if (PubSub && !PubSub.prototype.Subscribe.wrapped) {
    const subscribe = PubSub.prototype.Subscribe;
    PubSub.prototype.Subscribe = function (...args) {
      const stream = subscribe.apply(this, args);
      streams.push(stream);
      return stream;
    };
    PubSub.prototype.Subscribe.wrapped = true;
  }
  return loaded;
};

after(() => {
  for (const stream of streams) {
    stream.on('error', () => {});
    stream.cancel();
  }
  emulator?.kill();
});

async function rest(method, resource, body) {
  const response = await fetch(`${org.url}${API}${resource}`, {
    method,
    headers: { authorization: `Bearer ${org.access_token}`, 'content-type': 'application/json' },
    body: body && JSON.stringify(body),
  });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${resource}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function client() {
  const c = new PubSubApiClient(
    {
      authType: 'user-supplied',
      accessToken: org.access_token,
      // The client insists on an https instance URL; it only sends it as the `instanceurl`
      // metadata, so the emulator's plain-HTTP REST address is named with https here.
      instanceUrl: org.url.replace(/^http:/, 'https:'),
      organizationId: org.org_id,
      pubSubEndpoint: new URL(org.pubsub_url).host,
      // The emulator's certificate is self-signed.
      rejectUnauthorizedSsl: false,
    },
    quiet,
  );
  await c.connect();
  return c;
}

// Subscribes and collects `count` events (the client ends the subscription after them).
function collect(c, subscribe, count) {
  return new Promise((resolve, reject) => {
    const events = [];
    const timer = setTimeout(() => reject(new Error(`only ${events.length} of ${count} events`)), 20000);
    subscribe((info, type, data) => {
      if (type === 'event') events.push(data);
      if (type === 'error') {
        clearTimeout(timer);
        reject(data);
      }
      if (type === 'lastEvent') {
        clearTimeout(timer);
        resolve(events);
      }
    }, count);
  });
}

test('REST changes arrive as decoded change events, and replay resumes after an id', async () => {
  const created = await rest('POST', '/sobjects/Account', { Name: 'Pub Sub Conformance', BillingCity: 'Austin' });
  await rest('PATCH', `/sobjects/Account/${created.id}`, { BillingCity: 'Denver', Phone: '555-0100' });
  await rest('DELETE', `/sobjects/Account/${created.id}`);

  let firstReplayId;
  const c = await client();
  try {
    const topic = '/data/AccountChangeEvent';
    const events = await collect(c, (cb, n) => c.subscribeFromEarliestEvent(topic, cb, n), 3);
    const headers = events.map((e) => e.payload.ChangeEventHeader);
    assert.deepEqual(headers.map((h) => h.changeType), ['CREATE', 'UPDATE', 'DELETE']);
    for (const h of headers) {
      assert.equal(h.entityName, 'Account');
      assert.deepEqual(h.recordIds, [created.id]);
      assert.equal(h.commitUser.slice(0, 3), '005');
      assert.match(h.changeOrigin, /^com\/salesforce\/api\/rest\//);
    }
    assert.equal(events[0].payload.Name, 'Pub Sub Conformance');
    assert.equal(events[0].payload.BillingAddress.City, 'Austin');
    // The client turns the header's bitmaps back into field names with the schema.
    assert.deepEqual(
      [...headers[1].changedFields].sort(),
      ['BillingAddress.City', 'LastModifiedDate', 'Phone'],
    );
    assert.equal(events[1].payload.Phone, '555-0100');
    assert.equal(events[1].payload.Name, null, 'unchanged fields are null in an update');
    assert.ok(events[0].replayId < events[1].replayId && events[1].replayId < events[2].replayId);
    firstReplayId = events[0].replayId;

  } finally {
    c.close();
  }

  // From a stored replay id, on a new stream (on an open one only the first request's replay
  // option counts, and this client reuses its stream per topic): only what came after it.
  const again = await client();
  try {
    const after = await collect(
      again,
      (cb, n) => again.subscribeFromReplayId('/data/AccountChangeEvent', cb, n, firstReplayId),
      2,
    );
    assert.deepEqual(after.map((e) => e.payload.ChangeEventHeader.changeType), ['UPDATE', 'DELETE']);
  } finally {
    again.close();
  }
});

test('an Opportunity channel carries only Opportunity changes', async () => {
  const account = await rest('POST', '/sobjects/Account', { Name: 'Channel Filter' });
  const opportunity = await rest('POST', '/sobjects/Opportunity', {
    Name: 'Filtered deal',
    AccountId: account.id,
    StageName: 'Prospecting',
    CloseDate: '2026-12-31',
  });
  await rest('PATCH', `/sobjects/Opportunity/${opportunity.id}`, { StageName: 'Closed Won' });
  const c = await client();
  try {
    const events = await collect(
      c,
      (cb, n) => c.subscribeFromEarliestEvent('/data/OpportunityChangeEvent', cb, n),
      2,
    );
    assert.deepEqual(events.map((e) => e.payload.ChangeEventHeader.entityName), ['Opportunity', 'Opportunity']);
    assert.equal(events[1].payload.StageName, 'Closed Won');
    assert.ok(events[1].payload.ChangeEventHeader.changedFields.includes('StageName'));
  } finally {
    c.close();
  }
});
