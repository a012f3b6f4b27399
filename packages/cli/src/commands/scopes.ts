import type { PrincipalReview } from '@annal/server'
import type { Program } from '../program.js'
import { request } from '../remote.js'

interface ReviewAnswer {
  readonly since: string
  readonly until: string
  readonly principals: PrincipalReview[]
}

/** `scopes review`: the server's least-privilege review (GET /v1/admin/scope-review, audit:read). */
export function registerScopes(program: Program): void {
  const scopes = program.root.command('scopes').description('review the scopes tokens carry against those they use')
  program.command<{ since: string; json?: boolean }>(scopes, {
    name: 'review',
    description: 'per client and user: scopes carried, used (and when last), unused, refusals, a suggested ceiling',
    example: 'annal scopes review --url https://annal.example --since 90d   # ANNAL_TOKEN: audit:read',
    options: ['json', 'url'],
    setup: (command) => command.option('--since <window>', 'how far back: 30d, 12h, 90m (at most 400d)', '30d'),
    action: async (ctx, options) => {
      const remote = await ctx.requireRemote()
      const response = await request(remote, `/v1/admin/scope-review?since=${encodeURIComponent(options.since)}`)
      const answer = await response.json() as ReviewAnswer
      if (options.json === true) {
        ctx.io.out(JSON.stringify(answer, null, 2))
        return
      }
      for (const line of reviewTable(answer)) ctx.io.out(line)
    },
  })
}

/** The review as lines of text: one block per principal. */
export function reviewTable(answer: ReviewAnswer): string[] {
  const lines = [`scope review from ${answer.since} to ${answer.until}: ${answer.principals.length} principal(s)`]
  for (const review of answer.principals) {
    lines.push('', `client ${review.client_id ?? '-'}  sub ${review.sub ?? '-'}  refusals ${review.refusals}`)
    const rows = [...new Set([...review.carried, ...Object.keys(review.used), ...Object.keys(review.refused)])].sort().map((scope) => [
      scope,
      review.carried.includes(scope) ? 'yes' : 'no',
      review.used[scope] ?? (review.unused.includes(scope) ? 'UNUSED' : '-'),
      review.refused[scope] ?? '-',
    ])
    lines.push(...columns([['scope', 'carried', 'last used', 'last refused'], ...rows]).map((line) => `  ${line}`))
    lines.push(`  suggested ceiling: ${review.suggested_ceiling.join(' ') || '(none)'}`)
  }
  return lines
}

function columns(rows: readonly string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)))
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd())
}
