import { type Server, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { exportJWK, generateKeyPair } from 'jose'
import { type ClientMetadata, Provider, errors } from 'oidc-provider'

export interface OidcClient {
  readonly id: string
  readonly secret: string
  /** The scopes this client may get for the resource. */
  readonly scope: string
}

export interface TokenRequest {
  readonly scope?: string
  /** RFC 8707 resource indicator; none asks for a token without one. */
  readonly resource?: string
}

/**
 * A real OAuth 2.0 authorization server (oidc-provider) on an ephemeral loopback port. It issues
 * RFC 9068 JWT access tokens signed with ES256 through the client_credentials grant, for one
 * resource indicator (RFC 8707) only, with the scopes its client may have.
 */
export class OidcServer {
  readonly issuer: string
  readonly #server: Server
  readonly #metadata: Record<string, unknown>
  readonly #clients: ReadonlyMap<string, OidcClient>

  private constructor(server: Server, issuer: string, metadata: Record<string, unknown>, clients: readonly OidcClient[]) {
    this.#server = server
    this.issuer = issuer
    this.#metadata = metadata
    this.#clients = new Map(clients.map((client) => [client.id, client]))
  }

  static async start(resource: string, clients: readonly OidcClient[]): Promise<OidcServer> {
    // The issuer holds the port, so listen first and hand the provider the requests after.
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const { privateKey } = await generateKeyPair('ES256', { extractable: true })
    const signing = { ...(await exportJWK(privateKey)), kid: 'oidc-es256', alg: 'ES256', use: 'sig' }
    const byId = new Map(clients.map((client) => [client.id, client]))
    const provider = new Provider(issuer, {
      clients: clients.map((client): ClientMetadata => ({
        client_id: client.id,
        client_secret: client.secret,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
      })),
      jwks: { keys: [signing] },
      // Its default, RS256, has no key here.
      clientDefaults: { id_token_signed_response_alg: 'ES256' },
      ttl: { ClientCredentials: 600 },
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        resourceIndicators: {
          enabled: true,
          getResourceServerInfo: async (_ctx, indicator, client) => {
            const scope = byId.get(client.clientId)?.scope
            if (indicator !== resource || scope === undefined) throw new errors.InvalidTarget()
            return { scope, audience: resource, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } }
          },
        },
      },
    })
    server.on('request', provider.callback())
    const response = await fetch(`${issuer}/.well-known/openid-configuration`)
    if (!response.ok) throw new Error(`discovery failed with ${response.status}`)
    return new OidcServer(server, issuer, await response.json() as Record<string, unknown>, clients)
  }

  get tokenEndpoint(): string {
    return String(this.#metadata.token_endpoint)
  }

  get jwksUri(): string {
    return String(this.#metadata.jwks_uri)
  }

  /** A client_credentials request (RFC 6749 §4.4) with client_secret_basic (§2.3.1): the raw response. */
  async requestToken(clientId: string, request: TokenRequest, secret = this.#clients.get(clientId)?.secret ?? ''): Promise<Response> {
    const basic = btoa(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`)
    const body = new URLSearchParams({ grant_type: 'client_credentials' })
    if (request.scope !== undefined) body.set('scope', request.scope)
    if (request.resource !== undefined) body.set('resource', request.resource)
    return fetch(this.tokenEndpoint, { method: 'POST', body, headers: { Authorization: `Basic ${basic}` } })
  }

  /** An access token, or an error naming the status and OAuth error. */
  async token(clientId: string, request: TokenRequest): Promise<string> {
    const response = await this.requestToken(clientId, request)
    const body = await response.json() as { access_token?: string; error?: string }
    if (!response.ok || body.access_token === undefined) throw new Error(`token request failed: ${response.status} ${body.error}`)
    return body.access_token
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }
}
