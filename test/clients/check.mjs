// Checks a running nordkapp42 server with the third-party JavaScript clients
// that its users run: Apollo Client (queries and mutations over HTTP),
// graphql-ws (graphql-transport-ws), subscriptions-transport-ws (the legacy
// graphql-ws subprotocol) and graphql-sse (distinct connections mode).
//
// Environment: NK_URL (http://127.0.0.1:port) and the bearer tokens
// NK_TOKEN_ALICE, NK_TOKEN_BOB, NK_TOKEN_CAROL (members provisioned already)
// and NK_TOKEN_EXPIRED. Each scenario prints `ok <name>` or
// `FAIL <name>: <why>`; the exit status is non-zero when any failed. Every
// wait has a deadline and the whole run is cut off after 60 s.
//
// Scenarios create their own rooms, so they do not depend on each other and
// the script can run twice against the same server.

// In Apollo Client 4 the root entry is the core (React lives in
// @apollo/client/react), so nothing of React is loaded or installed.
import { ApolloClient, CombinedGraphQLErrors, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { createClient as createSSEClient } from 'graphql-sse';
import { createClient as createWSClient } from 'graphql-ws';
import { SubscriptionClient } from 'subscriptions-transport-ws';
import WebSocket from 'ws';

// GLOBAL_TIMEOUT_MS bounds the whole run, whatever hangs.
const GLOBAL_TIMEOUT_MS = 60_000;
// WAIT_MS bounds one wait for one thing: a response, an event, a close.
const WAIT_MS = 10_000;
// PROBE_WAIT_MS is how long one liveness probe is waited for before the next
// one is sent (see untilLive).
const PROBE_WAIT_MS = 500;
// PROBE_ROUNDS bounds the liveness probes of one scenario.
const PROBE_ROUNDS = 16;

const env = readEnv(['NK_URL', 'NK_TOKEN_ALICE', 'NK_TOKEN_BOB', 'NK_TOKEN_CAROL', 'NK_TOKEN_EXPIRED']);
const HTTP_URL = `${env.NK_URL.replace(/\/+$/, '')}/graphql`;
const WS_URL = HTTP_URL.replace(/^http/, 'ws');
const TOKEN = {
  alice: env.NK_TOKEN_ALICE,
  bob: env.NK_TOKEN_BOB,
  carol: env.NK_TOKEN_CAROL,
  expired: env.NK_TOKEN_EXPIRED,
};
// RUN tags the texts and names of this run, so that a second run against the
// same server cannot mistake the first run's data for its own.
const RUN = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

// debug writes to stderr when NK_DEBUG is set; the Go test shows stderr too.
function debug(...args) {
  if (process.env.NK_DEBUG) console.error(`[${current}]`, ...args);
}

function readEnv(names) {
  const out = {};
  const missing = names.filter((n) => !process.env[n]);
  if (missing.length > 0) {
    console.log(`FAIL setup: missing environment ${missing.join(', ')}`);
    process.exit(2);
  }
  for (const n of names) out[n] = process.env[n];
  return out;
}

// ---------------------------------------------------------------------------
// Waiting with deadlines.

// within settles like promise, or rejects once ms have passed.
function within(ms, promise, what) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

// Feed collects what a stream delivers, in order, so that a scenario can
// wait for the next item with a deadline. The stream's end (complete or
// error) is kept too: waiting on an ended, drained feed fails at once with
// the reason instead of running into the deadline.
class Feed {
  constructor(name) {
    this.name = name;
    this.items = [];
    this.ended = null; // why the stream ended, once it has
    this.wake = null;
  }

  push(item) {
    this.items.push(item);
    this.notify();
  }

  end(reason) {
    if (this.ended === null) this.ended = reason;
    this.notify();
  }

  notify() {
    const w = this.wake;
    this.wake = null;
    if (w) w();
  }

  // next returns the next item for which skip is false, dropping the ones
  // before it, or rejects after ms.
  async next(ms = WAIT_MS, skip = () => false) {
    const deadline = Date.now() + ms;
    for (;;) {
      while (this.items.length > 0) {
        const item = this.items.shift();
        if (!skip(item)) return item;
      }
      if (this.ended !== null) throw new Error(`${this.name} ended: ${describe(this.ended)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.name}: nothing within ${ms} ms`);
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }
}

// describe turns whatever a client hands to an error callback (Error,
// CloseEvent, GraphQL error list, Response) into one line.
function describe(e) {
  if (e === undefined || e === null) return String(e);
  if (typeof e === 'string') return e;
  if (e instanceof Error) return e.message;
  if (typeof e.code === 'number') return `close ${e.code} ${e.reason ?? ''}`.trim();
  if (typeof e.status === 'number') return `HTTP ${e.status} ${e.statusText ?? ''}`.trim();
  try {
    return JSON.stringify(e);
  } catch {
    return String(e);
  }
}

// ---------------------------------------------------------------------------
// Plain HTTP for the other party (alice's side of most scenarios).

async function gqlHTTP(token, query, variables = {}) {
  const res = await fetch(HTTP_URL, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(WAIT_MS),
  });
  const body = await res.json();
  if (body.errors?.length) throw new Error(`${query.trim().split(/\s+/).slice(0, 3).join(' ')}: ${JSON.stringify(body.errors)}`);
  return body.data;
}

async function createRoom(token, kind, name, memberIds) {
  const d = await gqlHTTP(token, 'mutation($in: CreateRoomInput!) { createRoom(input: $in) { id } }', {
    in: { kind, name, memberIds },
  });
  return d.createRoom.id;
}

async function sendMessage(token, roomId, text) {
  const d = await gqlHTTP(token, 'mutation($in: SendMessageInput!) { sendMessage(input: $in) { id text } }', {
    in: { roomId, text },
  });
  return d.sendMessage;
}

async function renameRoom(token, roomId, name) {
  await gqlHTTP(token, 'mutation($in: UpdateRoomInput!) { updateRoom(input: $in) { id } }', { in: { roomId, name } });
}

async function setTyping(token, roomId) {
  await gqlHTTP(token, 'mutation($r: ID!) { setTyping(roomId: $r) }', { r: roomId });
}

// untilLive makes sure that subscriptions the server has accepted are
// delivering. A subscription without a cursor starts at the next event after
// the server registered it, and none of these protocols acknowledges that
// moment, so an event sent right after subscribing could be missed. Instead
// of sleeping, probe() causes an event (a room rename, a typing signal) and
// each feed is waited on for it; a feed that missed it gets the next probe.
// A feed that saw one probe may still hold later ones: the scenario skips
// them with isProbe.
async function untilLive(probe, feeds, isProbe) {
  const pending = new Set(feeds);
  for (let round = 0; round < PROBE_ROUNDS && pending.size > 0; round++) {
    await probe(round);
    await Promise.all([...pending].map(async (feed) => {
      try {
        await feed.next(PROBE_WAIT_MS, (item) => !isProbe(item));
        pending.delete(feed);
      } catch (e) {
        if (feed.ended !== null) throw e;
        debug(`probe ${round} missed ${feed.name}`);
      }
    }));
  }
  if (pending.size > 0) {
    throw new Error(`no probe event reached ${[...pending].map((f) => f.name).join(', ')} in ${PROBE_ROUNDS} rounds`);
  }
}

function isRoomProbe(e) {
  return e?.type === 'ROOM_UPDATED';
}

// A sink for a subscription of graphql-ws or graphql-sse: results go into
// feed as their data (or as {errors} when there is none), the end is kept.
function sinkTo(feed, field) {
  return {
    next: (result) => {
      if (result.errors?.length && !result.data) feed.push({ errors: result.errors });
      else feed.push(field ? result.data?.[field] : result);
    },
    error: (err) => feed.end(err ?? 'error'),
    complete: () => feed.end('complete'),
  };
}

function expect(cond, message) {
  if (!cond) throw new Error(message);
}

// expectRun checks that events are the given texts, in order, as
// MESSAGE_SENT events with consecutive seq.
function expectRun(events, texts, where) {
  const got = events.map((e) => `${e.type}#${e.seq}:${e.message?.text}`);
  const first = events[0].seq;
  const want = texts.map((t, i) => `MESSAGE_SENT#${first + i}:${t}`);
  expect(JSON.stringify(got) === JSON.stringify(want), `${where}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
}

const ROOM_EVENT_FIELDS = 'cursor type seq roomId room { name } message { id text author { id } }';

function wsClient(token, extra = {}) {
  return createWSClient({
    url: WS_URL,
    webSocketImpl: WebSocket,
    connectionParams: { Authorization: `Bearer ${token}` },
    retryAttempts: 0,
    ...extra,
  });
}

// ---------------------------------------------------------------------------
// Scenarios. Each gets a list to push clean-ups onto; they run whatever
// happened.

// apollo: queries and mutations with Apollo Client over HTTP.
async function apollo(cleanups) {
  const client = new ApolloClient({
    link: new HttpLink({ uri: HTTP_URL, headers: { Authorization: `Bearer ${TOKEN.alice}` } }),
    cache: new InMemoryCache(),
  });
  cleanups.push(() => client.stop());
  const mutate = (mutation, variables, what) => within(WAIT_MS, client.mutate({ mutation, variables }), what);

  const chat = await mutate(gql`mutation { openChat(memberId: "bob") { id kind name } }`, {}, 'openChat');
  expect(chat.data.openChat.kind === 'CHAT', `openChat: kind ${chat.data.openChat.kind}, want CHAT`);
  expect(chat.data.openChat.name === 'Bob', `openChat: name ${chat.data.openChat.name}, want the other member's name Bob`);

  const name = `apollo-${RUN}`;
  const created = await mutate(
    gql`mutation($in: CreateRoomInput!) { createRoom(input: $in) { id kind name myRole } }`,
    { in: { kind: 'PUBLIC_GROUP', name, memberIds: ['bob'] } },
    'createRoom',
  );
  const room = created.data.createRoom;
  expect(room.kind === 'PUBLIC_GROUP' && room.name === name && room.myRole === 'OWNER',
    `createRoom: got ${JSON.stringify(room)}`);

  const text = `hello from apollo ${RUN}`;
  const sent = await mutate(
    gql`mutation($in: SendMessageInput!) { sendMessage(input: $in) { id text author { id } } }`,
    { in: { roomId: room.id, text } },
    'sendMessage',
  );
  expect(sent.data.sendMessage.text === text && sent.data.sendMessage.author.id === 'alice',
    `sendMessage: got ${JSON.stringify(sent.data.sendMessage)}`);

  const read = await within(WAIT_MS, client.query({
    query: gql`query($id: ID!) { room(id: $id) { id messages(last: 10) { edges { node { text } } } } }`,
    variables: { id: room.id },
    fetchPolicy: 'network-only',
  }), 'room query');
  const texts = read.data.room.messages.edges.map((e) => e.node.text);
  expect(JSON.stringify(texts) === JSON.stringify([text]), `room.messages: got ${JSON.stringify(texts)}, want ${JSON.stringify([text])}`);

  let refused = false;
  try {
    const r = await mutate(
      gql`mutation($in: SendMessageInput!) { sendMessage(input: $in) { id } }`,
      { in: { roomId: room.id, text: '' } },
      'sendMessage with empty text',
    );
    expect(false, `sendMessage with empty text succeeded: ${JSON.stringify(r.data)}`);
  } catch (e) {
    if (!CombinedGraphQLErrors.is(e)) throw e;
    refused = true;
    const code = e.errors[0]?.extensions?.code;
    expect(code === 'BAD_USER_INPUT', `sendMessage with empty text: extensions.code ${code}, want BAD_USER_INPUT (${JSON.stringify(e.errors)})`);
  }
  expect(refused, 'sendMessage with empty text: no GraphQL error');
}

// graphqlWS: three subscriptions multiplexed on one graphql-ws connection,
// ordered gap-free delivery, resumption with a cursor, and a refused token.
async function graphqlWS(cleanups) {
  const roomId = await createRoom(TOKEN.alice, 'PRIVATE_GROUP', `gws-${RUN}`, ['bob']);

  let connections = 0;
  const bob = wsClient(TOKEN.bob, { on: { connected: () => { connections++; } } });
  cleanups.push(() => bob.dispose());
  const roomEvents = new Feed('roomEvents');
  const myEvents = new Feed('myEvents');
  const activity = new Feed('roomActivity');
  bob.subscribe({ query: `subscription($r: ID!) { roomEvents(roomId: $r) { ${ROOM_EVENT_FIELDS} } }`, variables: { r: roomId } },
    sinkTo(roomEvents, 'roomEvents'));
  bob.subscribe({ query: `subscription { myEvents { ${ROOM_EVENT_FIELDS} } }` }, sinkTo(myEvents, 'myEvents'));
  bob.subscribe({ query: 'subscription($r: ID!) { roomActivity(roomId: $r) { type roomId member { id } } }', variables: { r: roomId } },
    sinkTo(activity, 'roomActivity'));

  // myEvents carries every room of bob's: only this one matters here.
  const otherRoom = (e) => e?.roomId !== undefined && e.roomId !== roomId;
  const aliceTyping = (a) => a?.type === 'TYPING' && a.member?.id === 'alice' && a.roomId === roomId;
  await untilLive(async (round) => {
    await renameRoom(TOKEN.alice, roomId, `gws-${RUN}-probe-${round}`);
    await setTyping(TOKEN.alice, roomId);
  }, [roomEvents, myEvents], (e) => isRoomProbe(e) && !otherRoom(e));
  await untilLive(() => setTyping(TOKEN.alice, roomId), [activity], aliceTyping);

  const texts = [1, 2, 3].map((i) => `gws ${i} ${RUN}`);
  for (const t of texts) await sendMessage(TOKEN.alice, roomId, t);

  const fromRoom = [await roomEvents.next(WAIT_MS, isRoomProbe)];
  for (let i = 1; i < 3; i++) fromRoom.push(await roomEvents.next());
  expectRun(fromRoom, texts, 'roomEvents');
  const fromMine = [await myEvents.next(WAIT_MS, (e) => isRoomProbe(e) || otherRoom(e))];
  for (let i = 1; i < 3; i++) fromMine.push(await myEvents.next(WAIT_MS, otherRoom));
  expectRun(fromMine, texts, 'myEvents');
  expect(JSON.stringify(fromMine.map((e) => e.cursor)) === JSON.stringify(fromRoom.map((e) => e.cursor)),
    'myEvents and roomEvents disagree on the cursors of the same events');
  expect(connections === 1, `three subscriptions used ${connections} connections, want 1`);
  bob.dispose();

  // A new client resumes after the first message: exactly the two others,
  // then live. The sentinel sent afterwards must come right after them, which
  // shows that nothing else was replayed in between.
  const again = wsClient(TOKEN.bob);
  cleanups.push(() => again.dispose());
  const resumed = new Feed('roomEvents(after)');
  again.subscribe({
    query: `subscription($r: ID!, $after: Cursor) { roomEvents(roomId: $r, after: $after) { ${ROOM_EVENT_FIELDS} } }`,
    variables: { r: roomId, after: fromRoom[0].cursor },
  }, sinkTo(resumed, 'roomEvents'));
  const replay = [await resumed.next(), await resumed.next()];
  expectRun(replay, texts.slice(1), 'roomEvents(after: first)');
  expect(replay[0].seq === fromRoom[1].seq, `roomEvents(after: first) starts at seq ${replay[0].seq}, want ${fromRoom[1].seq}`);
  const sentinel = `gws sentinel ${RUN}`;
  await sendMessage(TOKEN.alice, roomId, sentinel);
  const live = await resumed.next();
  expectRun([...replay, live], [...texts.slice(1), sentinel], 'roomEvents(after: first) then live');
  again.dispose();

  // An expired token is refused with close code 4403, which the client sees
  // in its closed listener and in the subscription's error sink.
  let closedCode;
  let onClosed;
  const closed = new Promise((resolve) => { onClosed = resolve; });
  const expired = wsClient(TOKEN.expired, {
    on: { closed: (event) => { closedCode = event?.code; onClosed(); } },
  });
  cleanups.push(() => expired.dispose());
  const refused = new Feed('expired token');
  expired.subscribe({ query: '{ me { id } }' }, sinkTo(refused, 'me'));
  await within(WAIT_MS, closed, 'close with an expired token');
  expect(closedCode === 4403, `expired token: closed with ${closedCode}, want 4403`);
  await refused.next(WAIT_MS).then(
    (got) => { throw new Error(`expired token: got a result ${JSON.stringify(got)}`); },
    () => {},
  );
  expect(refused.ended?.code === 4403, `expired token: error sink got ${describe(refused.ended)}, want close 4403`);
}

// subscriptionsTransportWS: the legacy subprotocol with Apollo's old client;
// stopping one subscription leaves the other running.
async function subscriptionsTransportWS(cleanups) {
  const roomId = await createRoom(TOKEN.alice, 'PRIVATE_GROUP', `stws-${RUN}`, ['bob']);

  let connectionError;
  const client = new SubscriptionClient(WS_URL, {
    connectionParams: { authToken: TOKEN.bob },
    reconnect: false,
    connectionCallback: (err) => { if (err) connectionError = err; },
  }, WebSocket);
  cleanups.push(() => client.close());
  // What the server sends, frame by frame, to see what the client hides:
  // the complete that answers stop.
  const frames = [];
  const raw = new Feed('raw frames');
  client.client.on('message', (data) => {
    const f = JSON.parse(data.toString());
    frames.push(f);
    raw.push(f);
  });

  const query = `subscription($r: ID!) { roomEvents(roomId: $r) { ${ROOM_EVENT_FIELDS} } }`;
  const stopped = new Feed('roomEvents (to stop)');
  const kept = new Feed('roomEvents (kept)');
  const observe = (feed) => ({
    next: (r) => feed.push(r.errors ? { errors: r.errors } : r.data.roomEvents),
    error: (e) => feed.end(e),
    complete: () => feed.end('complete'),
  });
  const before = new Set(Object.keys(client.operations));
  const sub = client.request({ query, variables: { r: roomId } }).subscribe(observe(stopped));
  const stoppedID = Object.keys(client.operations).find((id) => !before.has(id));
  client.request({ query, variables: { r: roomId } }).subscribe(observe(kept));

  await untilLive((round) => renameRoom(TOKEN.alice, roomId, `stws-${RUN}-probe-${round}`), [stopped, kept], isRoomProbe);
  expect(connectionError === undefined, `connection_error: ${describe(connectionError)}`);

  const first = `stws 1 ${RUN}`;
  await sendMessage(TOKEN.alice, roomId, first);
  for (const feed of [stopped, kept]) {
    const e = await feed.next(WAIT_MS, isRoomProbe);
    expect(e.type === 'MESSAGE_SENT' && e.message?.text === first && e.message.author.id === 'alice',
      `${feed.name}: got ${JSON.stringify(e)}, want MESSAGE_SENT "${first}" by alice`);
  }

  sub.unsubscribe();
  const done = await raw.next(WAIT_MS, (f) => !(f.id === stoppedID && f.type !== 'data'));
  expect(done.type === 'complete', `stop ${stoppedID}: server answered ${JSON.stringify(done)}, want complete`);
  const afterStop = frames.length;

  const second = `stws 2 ${RUN}`;
  await sendMessage(TOKEN.alice, roomId, second);
  const e = await kept.next();
  expect(e.message?.text === second, `${kept.name} after the other stopped: got ${JSON.stringify(e)}, want "${second}"`);
  const late = frames.slice(afterStop).filter((f) => f.id === stoppedID);
  expect(late.length === 0, `stopped operation ${stoppedID} still got ${JSON.stringify(late)}`);
  expect(stopped.items.length === 0, `stopped subscription still delivered ${JSON.stringify(stopped.items)}`);
}

// graphqlSSE: graphql-sse in distinct connections mode: a subscription, a
// query, and a room the caller may not see.
async function graphqlSSE(cleanups) {
  const roomId = await createRoom(TOKEN.alice, 'PRIVATE_GROUP', `sse-${RUN}`, ['bob']);
  const sse = (token) => {
    const c = createSSEClient({
      url: HTTP_URL,
      headers: { Authorization: `Bearer ${token}` },
      singleConnection: false,
      retryAttempts: 0,
    });
    cleanups.push(() => c.dispose());
    return c;
  };
  const bob = sse(TOKEN.bob);

  const events = new Feed('roomEvents over SSE');
  const unsubscribe = bob.subscribe(
    { query: `subscription($r: ID!) { roomEvents(roomId: $r) { ${ROOM_EVENT_FIELDS} } }`, variables: { r: roomId } },
    sinkTo(events, 'roomEvents'),
  );
  cleanups.push(unsubscribe);
  await untilLive((round) => renameRoom(TOKEN.alice, roomId, `sse-${RUN}-probe-${round}`), [events], isRoomProbe);
  const text = `sse ${RUN}`;
  await sendMessage(TOKEN.alice, roomId, text);
  const e = await events.next(WAIT_MS, isRoomProbe);
  expect(e.type === 'MESSAGE_SENT' && e.message?.text === text && e.message.author.id === 'alice',
    `roomEvents over SSE: got ${JSON.stringify(e)}, want MESSAGE_SENT "${text}" by alice`);

  const results = [];
  await within(WAIT_MS, (async () => {
    for await (const r of bob.iterate({ query: '{ me { id } }' })) results.push(r);
  })(), 'query over SSE');
  expect(results.length === 1 && results[0].data?.me?.id === 'bob',
    `query over SSE: got ${JSON.stringify(results)}, want one result with me.id bob`);

  // carol is not in the private room: to her it does not exist.
  const carol = sse(TOKEN.carol);
  const denied = new Feed('roomEvents over SSE (carol)');
  carol.subscribe(
    { query: `subscription($r: ID!) { roomEvents(roomId: $r) { ${ROOM_EVENT_FIELDS} } }`, variables: { r: roomId } },
    sinkTo(denied, 'roomEvents'),
  );
  const answer = await denied.next();
  const code = answer?.errors?.[0]?.extensions?.code;
  expect(code === 'NOT_FOUND', `carol's roomEvents of a private room: got ${JSON.stringify(answer)}, want an error with code NOT_FOUND`);
  await denied.next(WAIT_MS).then(
    (more) => { throw new Error(`carol's roomEvents went on after its error: ${JSON.stringify(more)}`); },
    () => {},
  );
  expect(denied.ended === 'complete', `carol's roomEvents ended with ${describe(denied.ended)}, want complete`);
}

// myRooms: the live room list moves the room with a new message to the top
// and counts it as unread.
async function myRooms(cleanups) {
  const chat = (await gqlHTTP(TOKEN.alice, 'mutation { openChat(memberId: "bob") { id } }')).openChat.id;
  const bob = wsClient(TOKEN.bob);
  cleanups.push(() => bob.dispose());
  const lists = new Feed('myRooms');
  bob.subscribe({ query: 'subscription { myRooms { id kind unreadCount lastMessage { text } } }' }, sinkTo(lists, 'myRooms'));

  // The first list is sent once the subscription is live: no probe needed.
  const now = await lists.next();
  const before = now.find((r) => r.id === chat);
  expect(before !== undefined, `myRooms: chat ${chat} missing from ${JSON.stringify(now)}`);

  const text = `myRooms ${RUN}`;
  await sendMessage(TOKEN.alice, chat, text);
  const next = await lists.next();
  const top = next[0];
  expect(top?.id === chat, `myRooms after a message: first room ${JSON.stringify(top)}, want chat ${chat}`);
  expect(top.unreadCount === before.unreadCount + 1,
    `myRooms after a message: unreadCount ${top.unreadCount}, want ${before.unreadCount + 1}`);
  expect(top.lastMessage?.text === text, `myRooms after a message: lastMessage ${JSON.stringify(top.lastMessage)}, want "${text}"`);
}

// errors: protocol violations that the clients above never commit, sent with
// a raw socket.
async function protocolErrors(cleanups) {
  const open = async () => {
    const ws = new WebSocket(WS_URL, 'graphql-transport-ws');
    cleanups.push(() => ws.terminate());
    const frames = new Feed('raw socket');
    const closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on('message', (data) => frames.push(JSON.parse(data.toString())));
    ws.on('error', () => {}); // the close event reports it
    await within(WAIT_MS, new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('unexpected-response', (_, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
    }), 'open a socket');
    expect(ws.protocol === 'graphql-transport-ws', `subprotocol ${JSON.stringify(ws.protocol)}, want graphql-transport-ws`);
    return { ws, frames, closed };
  };

  const early = await open();
  early.ws.send(JSON.stringify({ type: 'subscribe', id: '1', payload: { query: '{ me { id } }' } }));
  const c1 = await within(WAIT_MS, early.closed, 'close after subscribe before connection_init');
  expect(c1.code === 4401, `subscribe before connection_init: closed ${c1.code} ${c1.reason}, want 4401`);

  const unknown = await open();
  unknown.ws.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: `Bearer ${TOKEN.bob}` } }));
  const ack = await unknown.frames.next(WAIT_MS, (f) => f.type === 'ping' || f.type === 'pong');
  expect(ack.type === 'connection_ack', `after connection_init: got ${JSON.stringify(ack)}, want connection_ack`);
  unknown.ws.send(JSON.stringify({ type: 'no_such_type' }));
  const c2 = await within(WAIT_MS, unknown.closed, 'close after an unknown message type');
  expect(c2.code === 4400, `unknown message type: closed ${c2.code} ${c2.reason}, want 4400`);
}

// ---------------------------------------------------------------------------

const scenarios = [
  ['apollo', apollo],
  ['graphql-ws', graphqlWS],
  ['subscriptions-transport-ws', subscriptionsTransportWS],
  ['graphql-sse', graphqlSSE],
  ['myRooms', myRooms],
  ['errors', protocolErrors],
];

let current = 'setup';
const failures = [];

const killer = setTimeout(() => {
  console.log(`FAIL ${current}: the run took longer than ${GLOBAL_TIMEOUT_MS / 1000} s`);
  process.exit(1);
}, GLOBAL_TIMEOUT_MS);
killer.unref();

// A client that throws from a callback must fail the run, not hang it. The
// stack goes to stderr, the FAIL line stays one line.
for (const event of ['uncaughtException', 'unhandledRejection']) {
  process.on(event, (err) => {
    console.error(err?.stack ?? err);
    console.log(`FAIL ${current}: ${event}: ${describe(err).replace(/\s*\n\s*/g, ' ')}`);
    process.exit(1);
  });
}

const only = process.argv.slice(2);
for (const [name, run] of scenarios) {
  if (only.length > 0 && !only.includes(name)) continue;
  current = name;
  const cleanups = [];
  try {
    await run(cleanups);
    console.log(`ok ${name}`);
  } catch (err) {
    failures.push(name);
    console.log(`FAIL ${name}: ${describe(err).replace(/\s*\n\s*/g, ' ')}`);
  } finally {
    for (const clean of cleanups.reverse()) {
      try {
        await within(WAIT_MS, Promise.resolve().then(clean), 'clean-up');
      } catch {
        // Closing what already broke is allowed to fail.
      }
    }
  }
}
current = 'teardown';
const ran = only.length > 0 ? scenarios.filter(([n]) => only.includes(n)).length : scenarios.length;
console.log(`${ran - failures.length} passed, ${failures.length} failed`);
// Sockets that a failed scenario could not close must not keep the process.
process.exit(failures.length > 0 ? 1 : 0);
