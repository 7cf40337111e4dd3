/**
 * The fingerprint of a release: what the release would hold, in four parts, each as a short
 * digest, so that the next run can compare without building and say which part changed:
 * - `config`: the rendered fly.toml (without the fingerprint itself and without paths of this
 *   runner: the Dockerfile is in `image`, a `[[files]] local_path` counts by its content);
 * - `secrets`: the synced names and values, as a salted scrypt hash (never in clear);
 * - `overrides`: machine-command and machine-memory;
 * - `image`: the `image` input as given, or the Dockerfile, the build context, the build args,
 *   the build flags of deploy-args and the digest each FROM tag resolves to now.
 * Written `v1;salt=<hex>;config=<hex>;secrets=<hex>;overrides=<hex>;image=<hex>`. Pure.
 */
import { createHash, randomBytes, scryptSync } from 'node:crypto'

/** The `[env]` entry that carries the fingerprint with the release (`fly deploy --env`). */
export const FINGERPRINT_ENV = 'FLY_DEPLOY_FINGERPRINT'

export const PARTS = ['config', 'secrets', 'overrides', 'image'] as const
export type Part = (typeof PARTS)[number]

export type ImageInputs =
  | { image: string }
  | {
      /** sha256 of the Dockerfile's bytes. */
      dockerfile: string
      /** The build context's digest (build-context.ts). */
      context: string
      buildArgs: Array<[string, string]>
      /** Each FROM reference and the digest it resolved to. */
      bases: Array<[string, string]>
      /** deploy-args (the build flags among them change the image). */
      deployArgs: string[]
    }

export interface FingerprintInputs {
  /** The rendered config, normalised (normalizeConfig). */
  config: unknown
  secrets: ReadonlyMap<string, string>
  overrides: { command?: readonly string[]; memoryMb?: number }
  image: ImageInputs
}

export interface Fingerprint {
  salt: string
  parts: Record<Part, string>
  text: string
}

/** 16 hex digits (64 bits) a part: enough to tell a change, short enough for an env value. */
const PART_HEX = 16

/** JSON with object keys sorted at every level: one text for one value. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  )
}

function digest(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, PART_HEX)
}

/**
 * scrypt (N=2^14, r=8), not a plain hash: the fingerprint sits in the app's plain-text `[env]`,
 * so a short value must not be guessable by hashing candidates quickly. The salt is per app.
 */
export function secretsDigest(secrets: ReadonlyMap<string, string>, salt: string): string {
  const entries = [...secrets.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return scryptSync(canonicalJson(entries), `fly-deploy-secrets:${salt}`, PART_HEX / 2, {
    N: 2 ** 14,
    r: 8,
    p: 1,
  }).toString('hex')
}

export function newSalt(): string {
  return randomBytes(8).toString('hex')
}

export function computeFingerprint(inputs: FingerprintInputs, salt: string): Fingerprint {
  const parts: Record<Part, string> = {
    config: digest(inputs.config),
    secrets: secretsDigest(inputs.secrets, salt),
    overrides: digest(inputs.overrides),
    image: digest(inputs.image),
  }
  return { salt, parts, text: formatFingerprint(salt, parts) }
}

function formatFingerprint(salt: string, parts: Record<Part, string>): string {
  return ['v1', `salt=${salt}`, ...PARTS.map((p) => `${p}=${parts[p]}`)].join(';')
}

export function parseFingerprint(text: string | undefined): Fingerprint | undefined {
  if (!text?.startsWith('v1;')) return undefined
  const fields = new Map(
    text
      .split(';')
      .slice(1)
      .map((f) => [f.slice(0, f.indexOf('=')), f.slice(f.indexOf('=') + 1)] as const),
  )
  const salt = fields.get('salt')
  if (!salt || !/^[0-9a-f]{16}$/.test(salt)) return undefined
  const parts = {} as Record<Part, string>
  for (const p of PARTS) {
    const value = fields.get(p)
    if (!value || !/^[0-9a-f]+$/.test(value)) return undefined
    parts[p] = value
  }
  return { salt, parts, text: formatFingerprint(salt, parts) }
}

/** The parts that differ between two fingerprints made with one salt. */
export function changedParts(serving: Fingerprint, now: Fingerprint): Part[] {
  return PARTS.filter((p) => serving.parts[p] !== now.parts[p])
}

/**
 * The rendered config as it counts: without the fingerprint entry, without `[build] dockerfile`
 * and `ignorefile` (paths under this runner's temp folder; their content is in the `image` part),
 * and with each `[[files]] local_path` replaced by the digest of its content (`fileDigest`).
 */
export function normalizeConfig(
  config: Record<string, unknown>,
  fileDigest: (localPath: string) => string,
): Record<string, unknown> {
  const copy = structuredClone(config)
  const env = copy.env
  if (env && typeof env === 'object' && !Array.isArray(env)) delete (env as Record<string, unknown>)[FINGERPRINT_ENV]
  const build = copy.build
  if (build && typeof build === 'object' && !Array.isArray(build)) {
    delete (build as Record<string, unknown>).dockerfile
    delete (build as Record<string, unknown>).ignorefile
  }
  if (Array.isArray(copy.files)) {
    copy.files = copy.files.map((f: unknown) => {
      if (!f || typeof f !== 'object' || typeof (f as Record<string, unknown>).local_path !== 'string') return f
      const { local_path: localPath, ...rest } = f as Record<string, unknown>
      return { ...rest, local_sha256: fileDigest(localPath as string) }
    })
  }
  return copy
}
