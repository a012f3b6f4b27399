// How times, hashes and sizes read on the page.

const UNITS: readonly [number, string][] = [[86_400_000, 'd'], [3_600_000, 'h'], [60_000, 'min'], [1000, 's']]

/** `3 min ago`, `2 h ago`; `just now` under a second. */
export function ago(time: number, now: number = Date.now()): string {
  const ms = Math.max(0, now - time)
  for (const [size, unit] of UNITS) if (ms >= size) return `${Math.floor(ms / size)} ${unit} ago`
  return 'just now'
}

/** A UTC time as `2026-11-26 10:50:12Z`. */
export function utc(time: string | number): string {
  const date = new Date(time)
  return Number.isNaN(date.getTime()) ? String(time) : `${date.toISOString().slice(0, 19).replace('T', ' ')}Z`
}

/** The first 12 hex digits of a hash, for tables; the full value goes in a title. */
export function short(hex: string): string {
  return hex.length > 12 ? `${hex.slice(0, 12)}…` : hex
}

export function count(n: number): string {
  return n.toLocaleString('en')
}

export function bytesToHex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')
}
