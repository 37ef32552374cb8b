// The studio's identity provider in the single sign-on tests: the certified `oidc-provider`
// package (OpenID Connect Core, Discovery, RP-Initiated Logout, Back-Channel Logout), on loopback.
//
//   node tests/oidc/provider.mjs CONFIG.json
//
// CONFIG: {"port": N, "issuer": "http://127.0.0.1:N", "clients": [oidc-provider client metadata],
//          "accounts": {"<login>": {"password": "...", "amr": ["pwd", ...], "acr": "...",
//                                   "claims": {"sub": "...", "email": "...", "groups": [...], ...}}}}
// Its own login and consent pages (oidc-provider's devInteractions) are what a browser sees; a
// login is accepted only with the account's password, and the session then carries the
// account's `amr`/`acr` (RFC 8176), which the ID token reports. The accounts are read from CONFIG
// again at each use, so a test changes a person's claims (their `groups`) between two sign-ins by
// rewriting the file. Prints "ready" once listening.
import { readFileSync } from 'node:fs';

import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const accountsNow = () => JSON.parse(readFileSync(process.argv[2], 'utf8')).accounts;

const provider = new Provider(config.issuer, {
  clients: config.clients,
  claims: {
    // Like most studio providers, every ID token says how the person signed in.
    openid: ['sub', 'auth_time', 'amr', 'acr', 'sid'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name', 'preferred_username', 'groups'],
  },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    backchannelLogout: { enabled: true },
  },
  pkce: { required: () => false },
  // Back-channel logout POSTs to Loupe, which the test runs on loopback: the provider's SSRF guard
  // (a dispatcher refusing special-use addresses) is left out, and a loaded test machine gets
  // 30 s rather than 2.5 s to answer.
  fetch: (url, options) => {
    const { dispatcher, ...rest } = options; // eslint-disable-line no-unused-vars
    return globalThis.fetch(url, { ...rest, signal: AbortSignal.timeout(30000) });
  },
  async findAccount(ctx, id) {
    const account = Object.values(accountsNow()).find((candidate) => candidate.claims.sub === id);
    if (!account) return undefined;
    return { accountId: id, async claims() { return account.claims; } };
  },
});
provider.proxy = false;

// The login step: the account's password, and its authentication methods into the session.
provider.use(async (ctx, next) => {
  if (ctx.method !== 'POST' || !/^\/interaction\/[^/]+$/.test(ctx.path)) return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (details.prompt.name !== 'login') return next();
  let body = '';
  for await (const chunk of ctx.req) body += chunk;
  const form = new URLSearchParams(body);
  const account = accountsNow()[form.get('login')];
  if (!account || account.password !== form.get('password')) {
    ctx.status = 401;
    ctx.type = 'text';
    ctx.body = 'wrong login or password';
    return undefined;
  }
  const login = { accountId: account.claims.sub, amr: account.amr };
  if (account.acr) login.acr = account.acr;
  await provider.interactionFinished(ctx.req, ctx.res, { login }, { mergeWithLastSubmission: false });
  return undefined;
});

provider.on('backchannel.error', (ctx, error, client) => console.error(`back-channel logout to ${client.clientId}: ${error}`));

provider.listen(config.port, '127.0.0.1', () => console.log('ready'));
