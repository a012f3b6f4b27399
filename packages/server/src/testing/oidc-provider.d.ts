// The part of oidc-provider 9 (which ships no types) that the tests use.
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http'

  /** What `features.resourceIndicators.getResourceServerInfo` returns for a resource indicator. */
  export interface ResourceServerInfo {
    readonly scope: string
    readonly audience?: string
    readonly accessTokenTTL?: number
    readonly accessTokenFormat?: 'opaque' | 'jwt'
    readonly jwt?: { readonly sign?: { readonly alg?: string; readonly kid?: string } }
  }

  export interface ClientMetadata {
    readonly client_id: string
    readonly client_secret?: string
    readonly grant_types?: readonly string[]
    readonly response_types?: readonly string[]
    readonly redirect_uris?: readonly string[]
    readonly token_endpoint_auth_method?: string
    readonly [name: string]: unknown
  }

  export interface Configuration {
    readonly clients?: readonly ClientMetadata[]
    readonly jwks?: { readonly keys: readonly Record<string, unknown>[] }
    readonly features?: {
      readonly clientCredentials?: { readonly enabled: boolean }
      readonly devInteractions?: { readonly enabled: boolean }
      readonly introspection?: { readonly enabled: boolean }
      readonly revocation?: { readonly enabled: boolean }
      readonly resourceIndicators?: {
        readonly enabled: boolean
        readonly defaultResource?: (ctx: unknown, client: unknown, oneOf?: string[]) => Promise<string | string[] | undefined>
        readonly useGrantedResource?: (ctx: unknown, model: unknown) => Promise<boolean>
        readonly getResourceServerInfo: (ctx: unknown, resourceIndicator: string, client: { readonly clientId: string }) =>
          Promise<ResourceServerInfo>
      }
    }
    readonly [name: string]: unknown
  }

  export class Provider {
    constructor(issuer: string, configuration?: Configuration)
    readonly issuer: string
    callback(): (request: IncomingMessage, response: ServerResponse) => void
    on(event: string, listener: (...args: any[]) => void): this
  }

  export const errors: {
    readonly InvalidTarget: new (description?: string) => Error
  }

  export default Provider
}
