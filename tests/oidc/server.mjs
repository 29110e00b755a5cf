// A small OpenID Connect provider for the SSO tests (npm oidc-provider). Started by tests/identity fixtures:
//   ISSUER=http://127.0.0.1:PORT PORT=… REDIRECT_URI=… node server.mjs
// Two users: "ada" (ada@acme.example) and "bob" (bob@elsewhere.example); a login that is an address signs in as
// that address (an identity provider whoever controls it can make say anything: tests/security). The login form
// is oidc-provider's development interaction (any password), followed by its consent screen.
import Provider from 'oidc-provider';

const { ISSUER, PORT, REDIRECT_URI, CLIENT_ID = 'billing-portal', CLIENT_SECRET = 'test-client-secret' } = process.env;

const accounts = {
  ada: { email: 'ada@acme.example', name: 'Ada Lovelace' },
  bob: { email: 'bob@elsewhere.example', name: 'Bob Outsider' },
};

const provider = new Provider(ISSUER, {
  clients: [{
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    redirect_uris: [REDIRECT_URI],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_post',
  }],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  async findAccount(ctx, id) {
    const account = accounts[id] || (id.includes('@') ? { email: id, name: id } : undefined);
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() { return { sub: id, email: account.email, email_verified: true, name: account.name }; },
    };
  },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['billing-portal-test-only'] },
});

provider.listen(Number(PORT), '127.0.0.1', () => { console.log('ready'); });
