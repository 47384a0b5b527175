// A real OpenID Connect provider (panva's certified `oidc-provider`) for ORIN's sign-in tests.
//
//   node server.mjs <port>
//
// It listens on http://127.0.0.1:<port>, which is also its issuer. Tests cannot click through a
// login page, so the interaction routes below sign a test account in and consent on its behalf:
// GET /interaction/:uid picks the account named by the authorization request's `login_hint`
// (an email address or a `sub`), else by this URL's `?account=` parameter, else the first one.
// The hint `deny` makes the user decline, so the client gets `error=access_denied`.
//
// Environment (all optional; JSON):
//   OIDC_CLIENTS   client metadata list: client_id, client_secret, redirect_uris, and any other
//                  registration field (token_endpoint_auth_method, id_token_signed_response_alg)
//   OIDC_ACCOUNTS  accounts: {sub, email, email_verified, name, string_booleans}; with
//                  `string_booleans` the ID token says "true"/"false", as Apple sometimes does
//
// POST /__test__/accounts with one such account as JSON adds it while the server runs, so each
// test can sign in as a person no other test has used. This server is for tests only: it has
// no passwords, and anyone who can reach the port can sign in as anyone.

import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const port = Number.parseInt(process.argv[2] ?? '', 10);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error('usage: node server.mjs <port>');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;
const DENY = 'deny';
const MAX_BODY_BYTES = 16 * 1024;

function fromEnv(name, fallback) {
  const raw = process.env[name];
  if (!raw) {
    return fallback;
  }
  try {
    return JSON.parse(raw);
  } catch (error) {
    console.error(`${name} is not valid JSON: ${error.message}`);
    process.exit(2);
  }
}

const clients = fromEnv('OIDC_CLIENTS', [
  {
    client_id: 'orin-test',
    client_secret: 'orin-test-secret',
    redirect_uris: [
      'http://127.0.0.1:8000/api/v1/auth/oauth/google/callback',
      'http://127.0.0.1:8000/api/v1/auth/oauth/apple/callback',
    ],
  },
]);

/** @type {Map<string, {sub: string, email: string, email_verified: boolean, name: string, string_booleans: boolean}>} */
const accounts = new Map();

function addAccount(input) {
  if (typeof input !== 'object' || input === null || typeof input.email !== 'string') {
    throw new TypeError('an account needs at least an "email" string');
  }
  const account = {
    sub: typeof input.sub === 'string' && input.sub ? input.sub : randomUUID(),
    email: input.email,
    email_verified: input.email_verified !== false,
    name: typeof input.name === 'string' ? input.name : '',
    string_booleans: input.string_booleans === true,
  };
  accounts.set(account.sub, account);
  return account;
}

for (const account of fromEnv('OIDC_ACCOUNTS', [
  { sub: 'alice', email: 'alice@example.com', email_verified: true, name: 'Alice Example' },
])) {
  addAccount(account);
}

function findByHint(hint) {
  if (!hint) {
    return accounts.values().next().value;
  }
  if (accounts.has(hint)) {
    return accounts.get(hint);
  }
  const email = hint.toLowerCase();
  return [...accounts.values()].find((account) => account.email.toLowerCase() === email);
}

// Fresh signing keys on every start: one RSA key (RS256, the default) and one P-256 key for
// clients registered with id_token_signed_response_alg ES256.
function signingKey(type, options, kid, alg) {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
}

const configuration = {
  clients,
  jwks: {
    keys: [
      signingKey('rsa', { modulusLength: 2048 }, 'test-rs256', 'RS256'),
      signingKey('ec', { namedCurve: 'P-256' }, 'test-es256', 'ES256'),
    ],
  },
  async findAccount(_ctx, sub) {
    const account = accounts.get(sub);
    if (!account) {
      return undefined;
    }
    return {
      accountId: account.sub,
      async claims() {
        const verified = account.string_booleans
          ? String(account.email_verified)
          : account.email_verified;
        return {
          sub: account.sub,
          email: account.email,
          email_verified: verified,
          name: account.name || undefined,
        };
      },
    };
  },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    // Apple's own scope for the person's name.
    name: ['name'],
  },
  // Google and Apple put the scope-requested claims (email, email_verified) in the ID token,
  // which is where ORIN reads them; strict OIDC would keep them for the userinfo endpoint.
  conformIdTokenClaims: false,
  responseTypes: ['code'],
  pkce: { required: () => true },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  ttl: {
    AccessToken: 600,
    AuthorizationCode: 60,
    Grant: 600,
    IdToken: 600,
    Interaction: 600,
    Session: 600,
  },
  async renderError(ctx, out) {
    ctx.type = 'json';
    ctx.body = out;
  },
};

const provider = new Provider(issuer, configuration);
const handleProviderRequest = provider.callback();

function sendJson(res, status, body) {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(payload),
  });
  res.end(payload);
}

async function readJson(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      throw new RangeError('request body too large');
    }
    chunks.push(chunk);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

async function consent(details) {
  const { prompt, params, session, grantId } = details;
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = prompt.details;
  if (missingOIDCScope) {
    grant.addOIDCScope(missingOIDCScope.join(' '));
  }
  if (missingOIDCClaims) {
    grant.addOIDCClaims(missingOIDCClaims);
  }
  for (const [indicator, scopes] of Object.entries(missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  return { consent: { grantId: await grant.save() } };
}

// The automated "user": signs in as the hinted account, then grants whatever was asked.
async function interact(req, res, url) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params } = details;
  let result;
  if (prompt.name === 'login') {
    const hint = params.login_hint || url.searchParams.get('account') || '';
    if (hint === DENY) {
      result = { error: 'access_denied', error_description: 'the test user declined' };
    } else {
      const account = findByHint(hint);
      if (!account) {
        sendJson(res, 400, { error: 'unknown_test_account', hint });
        return;
      }
      result = { login: { accountId: account.sub, amr: ['pwd'] } };
    }
  } else if (prompt.name === 'consent') {
    result = await consent(details);
  } else {
    sendJson(res, 400, { error: 'unsupported_prompt', prompt: prompt.name });
    return;
  }
  console.log(`interaction ${details.uid}: ${prompt.name} done`);
  await provider.interactionFinished(req, res, result, {
    mergeWithLastSubmission: prompt.name === 'consent',
  });
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', issuer);
  try {
    if (req.method === 'GET' && /^\/interaction\/[^/]+$/.test(url.pathname)) {
      await interact(req, res, url);
    } else if (req.method === 'POST' && url.pathname === '/__test__/accounts') {
      sendJson(res, 201, addAccount(await readJson(req)));
    } else {
      await handleProviderRequest(req, res);
    }
  } catch (error) {
    console.error(`${req.method} ${url.pathname} failed:`, error);
    if (!res.headersSent) {
      let status = 500;
      if (error instanceof RangeError) {
        status = 413;
      } else if (error instanceof TypeError || error instanceof SyntaxError) {
        status = 400;
      }
      sendJson(res, status, { error: 'server_error', error_description: String(error.message) });
    } else {
      res.end();
    }
  }
});

server.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer} (${clients.length} client(s))`);
});

function stop(signal) {
  console.log(`${signal}: closing`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
