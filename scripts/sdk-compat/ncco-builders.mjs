// Builds NCCOs with the official Node SDK's NCCO classes (@vonage/voice 1.21.0) and prints them as one
// JSON document, [{"name": "talk-full", "ncco": [...]}, ...], so that schemas/ncco-schema.json can be
// checked against everything the SDK produces. Every action is built once with every option the SDK
// accepts ("-full") and once with only what it requires ("-minimal"); connect is built once per endpoint
// type with all of that endpoint's fields, record once per RecordingFormat, talk once per TTSLanguages
// value, and the other SDK enums (MachineDetection, WebsocketBitrate, HttpMethod) once per value.
//
// What the SDK really has (1.21.0): action classes Connect, Conversation, Input, Notify, Record, Stream,
// Talk and Wait, each with serializeToNCCO(), and NCCOBuilder (addAction(...).build()). There are no
// endpoint builder classes: an endpoint is a plain object of one of the SDK's CallEndpoint types
// (PhoneEndpoint, SIPEndpoint, WebsocketEndpoint, AppEndpoint, VBCEndpoint), written here with exactly
// the fields those types declare. Values follow the SDK's declared TypeScript types (for example Talk's
// level and style are strings there), since that is what a TypeScript caller produces.
//
// Serialization quirks worth knowing (they are the SDK's, not this script's): options are only written
// when truthy (bargeIn false, loop 0, style 0 are dropped), except Wait's timeout; Input always writes
// "eventUrl" ([] when none is given) and never writes "mode"; Connect takes one endpoint and wraps it
// in an array; eventUrl, streamUrl and musicOnHoldUrl are given as one string and written as [string].
import {
  Connect,
  ConnectEventType,
  Conversation,
  HttpMethod,
  Input,
  MachineDetection,
  NCCOBuilder,
  Notify,
  Record,
  RecordingFormat,
  Stream,
  TTSLanguages,
  Talk,
  Wait,
  WebsocketBitrate,
} from '@vonage/voice';
import { pathToFileURL } from 'node:url';

const EVENT_URL = 'https://example.com/webhooks/event';
const AUDIO_URL = 'https://example.com/audio/music.mp3';
const LEG_UUID = 'aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab';

export const cases = [];
// One case: an NCCO built with NCCOBuilder from one or two SDK action objects.
const add = (name, ...actions) => {
  const builder = new NCCOBuilder();
  for (const action of actions) builder.addAction(action);
  cases.push({ name, ncco: builder.build() });
};

// ---- endpoints (plain objects of the SDK's CallEndpoint types, every declared field set) ----
const endpoints = {
  // PhoneEndpoint: type, number, dtmfAnswer?, shaken?
  phone: {
    type: 'phone',
    number: '447700900000',
    dtmfAnswer: 'p*123#',
    shaken:
      'eyJhbGciOiJFUzI1NiIsInBwdCI6InNoYWtlbiIsInR5cCI6InBhc3Nwb3J0In0.eyJhdHRlc3QiOiJBIn0.c2lnbmF0dXJl'
      + ';info=<https://cert.example.com/cert.pem>;alg=ES256;ppt=shaken',
  },
  // SIPEndpoint: type, uri, headers?, standardHeaders? { userToUser?, 'User-to-User'? }
  sip: {
    type: 'sip',
    uri: 'sip:rebekka@sip.example.com',
    headers: { location: 'New York City', occupation: 'developer' },
    standardHeaders: {
      userToUser: '56a390f3d2b7310023a2;encoding=hex;purpose=foo;content=bar',
      'User-to-User': '56a390f3d2b7310023a2;encoding=hex;purpose=foo;content=bar',
    },
  },
  // WebsocketEndpoint: type, uri, contentType?, headers?, authorization? { type, value? }
  websocket: {
    type: 'websocket',
    uri: 'wss://example.com/socket',
    contentType: WebsocketBitrate.RATE_16000,
    headers: { language: 'en-GB', caller: '447700900001' },
    authorization: { type: 'custom', value: 'Bearer abc123' },
  },
  // AppEndpoint: type, user
  app: { type: 'app', user: 'alice' },
  // VBCEndpoint: type, extension
  vbc: { type: 'vbc', extension: '1234' },
};

// ---- talk: Talk(text, bargeIn?, loop?, level?, language?, style?, premium?) ----
add('talk-full', new Talk('Hello from vapp.', true, 3, '0.5', TTSLanguages.EN_GB, '2', true));
add('talk-minimal', new Talk('Hello from vapp.'));
// style as a number, as a JavaScript (not TypeScript) caller would pass it (0 would be dropped).
add('talk-style-number', new Talk('Hello from vapp.', undefined, undefined, undefined, TTSLanguages.EN_US, 1));
for (const language of Object.values(TTSLanguages)) {
  add(`talk-language-${language}`, new Talk('Hello from vapp.', undefined, undefined, undefined, language));
}

// ---- stream: Stream(streamUrl, level?, bargeIn?, loop?) ----
add('stream-full', new Stream(AUDIO_URL, -0.4, true, 2));
add('stream-minimal', new Stream(AUDIO_URL));

// ---- input: Input(dtmf?, speech?, eventUrl?, eventMethod?, mode?) ----
const dtmf = { timeOut: 5, maxDigits: 4, submitOnHash: true }; // DTMFSettings, every field
const speech = {
  // SpeechSettings, every field, with the SDK's declared types (uuid string, endOnSilence boolean)
  uuid: LEG_UUID,
  endOnSilence: true,
  language: 'en-GB',
  context: ['support', 'sales'],
  startTimeout: 10,
  maxDuration: 60,
  saveAudio: true,
};
add('input-full', new Input(dtmf, speech, EVENT_URL, HttpMethod.POST, 'synchronous'));
add('input-minimal-dtmf', new Input({}));
add('input-minimal-speech', new Input(undefined, {}));
add('input-dtmf-only', new Input(dtmf, undefined, EVENT_URL, HttpMethod.GET));
add('input-speech-only', new Input(undefined, speech, EVENT_URL, HttpMethod.POST));
add('input-mode-asynchronous', new Input({}, undefined, EVENT_URL, HttpMethod.POST, 'asynchronous'));
// The usual pairing: a prompt, then the input.
add('talk-then-input', new Talk('Press a key.', true), new Input(dtmf, undefined, EVENT_URL));

// ---- record: Record(format?, split?, channels?, endOnSilence?, endOnKey?, timeout?, beepStart?, eventUrl?, eventMethod?) ----
add('record-full', new Record(RecordingFormat.WAV, 'conversation', 2, 5, '#', 60, true, EVENT_URL, HttpMethod.POST));
add('record-minimal', new Record());
for (const format of Object.values(RecordingFormat)) {
  add(`record-format-${format}`, new Record(format));
}
// The same options through the setters, at the limits the setters enforce.
{
  const record = new Record();
  record.format = RecordingFormat.OGG;
  record.split = 'conversation';
  record.channels = 32;
  record.endOnSilence = 10;
  record.endOnKey = '*';
  record.timeout = 7200;
  record.beepStart = true;
  record.eventUrl = [EVENT_URL];
  record.eventMethod = HttpMethod.GET;
  add('record-full-setters-max', record);
}
{
  const record = new Record(RecordingFormat.MP3, 'conversation', 1, 3, '0', 3);
  add('record-setters-min', record);
}

// ---- conversation: Conversation(name, musicOnHoldUrl?, startOnEnter?, endOnExit?, record?, canSpeak?, canHear?, mute?) ----
add(
  'conversation-full',
  new Conversation('vapp-room', AUDIO_URL, true, true, true, [LEG_UUID], [LEG_UUID], true),
);
add('conversation-minimal', new Conversation('vapp-room'));

// ---- connect: Connect(endpoint, from?, randomFromNumber?, eventType?, timeout?, limit?, machineDetection?, eventUrl?, eventMethod?, ringbackTone?) ----
const connectAll = (endpoint, overrides = {}) => {
  const o = {
    from: '447700900001',
    randomFromNumber: true,
    eventType: ConnectEventType.SYNCHRONOUS,
    timeout: 45,
    limit: 3600,
    machineDetection: MachineDetection.HANGUP,
    eventUrl: EVENT_URL,
    eventMethod: HttpMethod.POST,
    ringbackTone: 'https://example.com/audio/ringback.mp3',
    ...overrides,
  };
  return new Connect(
    endpoint, o.from, o.randomFromNumber, o.eventType, o.timeout, o.limit,
    o.machineDetection, o.eventUrl, o.eventMethod, o.ringbackTone,
  );
};
add('connect-full', connectAll(endpoints.phone));
add('connect-minimal', new Connect({ type: 'phone', number: '447700900000' }));
for (const [type, endpoint] of Object.entries(endpoints)) {
  add(`connect-endpoint-${type}`, connectAll(endpoint));
  add(`connect-endpoint-${type}-only`, new Connect(endpoint));
}
// Fields of each endpoint type at their minimum.
add('connect-endpoint-sip-minimal', new Connect({ type: 'sip', uri: 'sip:rebekka@sip.example.com' }));
add('connect-endpoint-websocket-minimal', new Connect({ type: 'websocket', uri: 'wss://example.com/socket' }));
// The other values of the SDK's enums.
add('connect-random-from-number', connectAll(endpoints.phone, { from: undefined }));
for (const machineDetection of Object.values(MachineDetection)) {
  add(`connect-machine-detection-${machineDetection}`, connectAll(endpoints.phone, { machineDetection }));
}
for (const method of Object.values(HttpMethod)) {
  add(`connect-event-method-${method}`, connectAll(endpoints.phone, { eventMethod: method }));
}
for (const [key, contentType] of Object.entries(WebsocketBitrate)) {
  add(`connect-websocket-${key.toLowerCase()}`, new Connect({ ...endpoints.websocket, contentType }));
}
add(
  'connect-websocket-authorization-vonage',
  new Connect({ ...endpoints.websocket, authorization: { type: 'vonage' } }),
);
// The usual pairing: an announcement, then the connect.
add('talk-then-connect', new Talk('Connecting you now.'), connectAll(endpoints.app));

// ---- notify: Notify(payload, eventUrl, eventMethod?) ----
add('notify-full', new Notify({ foo: 'bar', step: 'one' }, EVENT_URL, HttpMethod.GET));
add('notify-minimal', new Notify({ foo: 'bar' }, EVENT_URL));

// ---- wait: Wait(timeout?) ----
add('wait-full', new Wait(2.5));
add('wait-minimal', new Wait());
add('wait-min', new Wait(0.1));
add('wait-max', new Wait(7200));
add('talk-then-wait', new Talk('Please hold.'), new Wait(5));

// Run on its own, it prints them; ncco-check.mjs imports them.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.stdout.write(`${JSON.stringify(cases, null, 2)}\n`);
}
