// JSON Schema of the config file as the user writes it (seconds, "32MiB").
// Handler-specific route fields are checked by each handler's own schema,
// so that a typo in any field of any route is reported, not ignored.

const size = { anyOf: [{ type: 'integer', minimum: 0 }, { type: 'string', pattern: '^\\s*\\d+(\\.\\d+)?\\s*[a-zA-Z]*\\s*$' }] };
const seconds = { type: 'number', minimum: 0 };
const address = { anyOf: [{ type: 'string', minLength: 1 }, { type: 'integer', minimum: 0, maximum: 65535 }] };

/** Options that any route may set, and `defaults` sets for all routes. */
export const sessionOptionsSchema = {
  maxMessageSize: size,
  perMessageDeflate: { type: 'boolean' },
  highWaterMark: size,
  lowWaterMark: size,
  heartbeat: seconds,
  heartbeatTimeout: seconds,
  idleTimeout: seconds,
  closeTimeout: seconds,
  drainTimeout: seconds,
} as const;

const rateLimit = {
  type: 'object',
  additionalProperties: false,
  required: ['perAddress'],
  properties: { perAddress: { type: 'number', exclusiveMinimum: 0 }, burst: { type: 'integer', minimum: 1 } },
};

/**
 * Who may open a session and how a refusal is told (src/config/edge-policy.ts
 * reads them): at the top level for every route, on a route for that route.
 */
export const edgePolicySchema = {
  origin: { anyOf: [{ type: 'string', minLength: 1 }, { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } }] },
  originRequired: { type: 'boolean' },
  refuse: { enum: ['http', 'close', 'auto'] },
  maxSessionsPerAddress: { type: 'integer', minimum: 1 },
  rateLimit,
} as const;

export const routeCommonSchema = {
  path: { type: 'string', pattern: '^(/.*|\\*)$' },
  handler: { type: 'string', minLength: 1 },
  ...sessionOptionsSchema,
  ...edgePolicySchema,
  maxSessions: { type: 'integer', minimum: 1 },
  // Each entry's own fields are checked by its type's schema (edge-policy.ts).
  auth: { type: 'array', items: { type: 'object', required: ['type'], properties: { type: { enum: ['cert', 'basic', 'jwt'] } } } },
} as const;

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['routes'],
  properties: {
    listen: { anyOf: [address, { type: 'array', minItems: 1, items: address }] },
    tls: {
      type: 'object',
      additionalProperties: false,
      required: ['cert'],
      properties: { cert: { type: 'string' }, key: { type: 'string' }, only: { type: 'boolean' } },
    },
    health: { anyOf: [{ type: 'string', pattern: '^/' }, { const: false }] },
    sessionsPath: { type: 'string', pattern: '^/' },
    metricsPath: { type: 'string', pattern: '^/' },
    gracePeriod: seconds,
    exitWhenIdle: seconds,
    runOnce: { type: 'boolean' },
    logLevel: { enum: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] },
    fingerprintKeyFile: { type: 'string', minLength: 1 },
    traffic: { type: 'boolean' },
    workers: { anyOf: [{ type: 'integer', minimum: 1, maximum: 256 }, { const: 'auto' }] },
    maxSessions: { type: 'integer', minimum: 1 },
    handshakeTimeout: { type: 'number', exclusiveMinimum: 0 },
    maxPendingConnections: { type: 'integer', minimum: 1 },
    maxHeaderSize: size,
    ...edgePolicySchema,
    authFailures: {
      type: 'object',
      additionalProperties: false,
      properties: { max: { type: 'integer', minimum: 1 }, window: seconds, lockout: seconds },
    },
    web: {
      anyOf: [
        { type: 'string', minLength: 1 },
        { type: 'object', additionalProperties: false, required: ['novnc'], properties: { novnc: { type: 'string', minLength: 1 } } },
      ],
    },
    admin: {
      type: 'object',
      additionalProperties: false,
      properties: {
        listen: address,
        path: { type: 'string', pattern: '^/.' },
        tokenFile: { type: 'string', minLength: 1 },
        trustLoopback: { type: 'boolean' },
      },
    },
    defaults: { type: 'object', additionalProperties: false, properties: sessionOptionsSchema },
    routes: {
      type: 'array',
      minItems: 1,
      items: { type: 'object', required: ['path', 'handler'], properties: routeCommonSchema },
    },
  },
} as const;
