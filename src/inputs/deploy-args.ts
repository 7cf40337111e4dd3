/**
 * `deploy-args`, read the way flyctl reads them: spf13/pflag's rules (flag/flagset.go
 * parseLongArg/parseShortArg): `--name=value`, `--name value`, a bool `--name` (or `--name=false`),
 * glued short values `-afoo`, bundled shorts `-ya foo` where the first non-bool short takes the
 * rest of the word or the next word, and `--` ending the flags. The flags are those of
 * `fly deploy` (flyctl internal/command/deploy/deploy.go CommonFlags + its own, internal/flag/
 * flag.go, root.go's persistent `-t/--access-token`). Only build and transport flags pass: the
 * others would change what the inputs decided (app, config, image, token, size, environment).
 */

type Kind = 'bool' | 'value' | 'optional'

interface DeployFlag {
  kind: Kind
  short?: string
  /** Undefined: allowed. Otherwise the input that decides it, or why it is refused. */
  refused?: string
}

const ok = (kind: Kind, short?: string): DeployFlag => (short ? { kind, short } : { kind })
const no = (kind: Kind, refused: string, short?: string): DeployFlag =>
  short ? { kind, refused, short } : { kind, refused }

const SIZE = 'chooses the machine size, which `vm-size` and `memory` decide'
const ENVIRONMENT = 'sets the machine environment or files, which `env`, `secrets` and `gateway-config` decide'
const REGION = 'chooses regions, which `region` decides'
const GATE = 'changes how flyctl waits for the release, which the health gate relies on (`health-timeout`)'
const SCOPE =
  'deploys only part of the app or only part of the work, so the health gate would judge a release that did not happen'

export const DEPLOY_FLAGS: Readonly<Record<string, DeployFlag>> = {
  // Build and transport: allowed.
  'remote-only': ok('bool'),
  'local-only': ok('bool'),
  push: ok('bool'),
  wg: ok('bool'),
  'https-failover': ok('bool'),
  'http-failover': ok('bool'),
  depot: ok('optional'),
  'depot-scope': ok('value'),
  nixpacks: ok('bool'),
  buildkit: ok('bool'),
  'buildkit-addr': ok('value'),
  'buildkit-image': ok('value'),
  'buildpacks-docker-host': ok('value'),
  'buildpacks-volume': ok('value'),
  'recreate-builder': ok('bool'),
  'no-cache': ok('bool'),
  'build-target': ok('value'),
  'build-context-warn-size': ok('value'),
  ignorefile: ok('value'),
  'image-label': ok('value'),
  label: ok('value'),
  compression: ok('value'),
  'compression-level': ok('value'),
  'builder-pool': ok('optional'),
  now: ok('bool'),
  yes: ok('bool', 'y'),
  'auto-confirm': ok('bool'),
  verbose: ok('bool'),
  // Not build or transport, but the one deliberate override the README documents (--ha=false is the default).
  ha: ok('bool'),
  // What the inputs decide.
  app: no('value', 'chooses the app, which `app` decides', 'a'),
  config: no('value', 'replaces the rendered and validated fly.toml, which `config` decides', 'c'),
  image: no('value', 'chooses the image, which `image` decides', 'i'),
  dockerfile: no('value', 'chooses the Dockerfile, which `dockerfile` decides'),
  'build-arg': no('value', 'passes build arguments, which `build-args` decides (and checks for secret values)'),
  'build-secret': no('value', "puts a value on flyctl's command line, where secrets must never go"),
  'access-token': no('value', 'chooses the Fly token, which `api-token` decides', 't'),
  strategy: no('value', 'chooses the strategy, which `strategy` decides'),
  'no-public-ips': no('bool', 'changes public IPs, which `private` decides'),
  flycast: no('bool', 'allocates IPs, which `private` decides'),
  'vm-size': no('value', SIZE),
  'vm-cpus': no('value', SIZE),
  cpus: no('value', SIZE),
  'vm-cpu-kind': no('value', SIZE),
  'vm-cpukind': no('value', SIZE),
  'vm-memory': no('value', SIZE),
  memory: no('value', SIZE),
  'vm-max-memory': no('value', SIZE),
  'vm-gpus': no('value', SIZE),
  'vm-gpu-kind': no('value', SIZE),
  'vm-gpukind': no('value', SIZE),
  'host-dedication-id': no('value', SIZE),
  env: no('value', ENVIRONMENT, 'e'),
  'file-local': no('value', ENVIRONMENT),
  'file-literal': no('value', ENVIRONMENT),
  'file-secret': no('value', ENVIRONMENT),
  'primary-region': no('value', REGION),
  regions: no('value', REGION),
  'only-regions': no('value', REGION),
  'exclude-regions': no('value', REGION),
  'volume-initial-size': no('value', 'sizes the volume, which `volume-size` decides'),
  detach: no('bool', GATE),
  'wait-timeout': no('value', GATE),
  'smoke-checks': no('bool', GATE),
  'release-command-timeout': no('value', GATE),
  'lease-timeout': no('value', GATE),
  'deploy-retries': no('value', GATE),
  'dns-checks': no('bool', GATE),
  'max-unavailable': no('value', GATE),
  'max-concurrent': no('value', GATE),
  'immediate-max-concurrent': no('value', GATE),
  'force-machines': no('bool', GATE),
  signal: no('value', GATE, 's'),
  'build-only': no('bool', SCOPE),
  'update-only': no('bool', SCOPE),
  'only-machines': no('value', SCOPE),
  'exclude-machines': no('value', SCOPE),
  'process-groups': no('value', SCOPE),
  'skip-release-command': no('bool', SCOPE),
  'export-manifest': no('value', SCOPE),
  'from-manifest': no('value', SCOPE),
  debug: no('bool', 'logs every API request flyctl makes'),
}

const BY_SHORT = new Map(
  Object.entries(DEPLOY_FLAGS).flatMap(([name, f]) => (f.short ? [[f.short, name] as const] : [])),
)

export interface ParsedFlag {
  name: string
  value: string
  /** How the flag was spelled (`-a`, `--app`), never its value: a value may be a token. */
  spelled: string
}

export interface DeployArgsResult {
  flags: ParsedFlag[]
  problems: string[]
}

const ALLOWED_LIST =
  '--remote-only, --local-only, --depot, --no-cache, --build-target, --recreate-builder, --label, --push, --wg, --ha'

/** The pflag reading of argv plus one problem (with its fix) for each word that is not allowed. */
export function parseDeployArgs(argv: readonly string[]): DeployArgsResult {
  const flags: ParsedFlag[] = []
  const problems: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i] as string
    if (word === '--') {
      problems.push(...argv.slice(i + 1).map(positional))
      break
    }
    const read = word.startsWith('--')
      ? readLong(word, argv[i + 1])
      : word.startsWith('-') && word !== '-'
        ? readShorts(word, argv[i + 1])
        : { problem: positional(word) }
    if ('problem' in read) {
      problems.push(read.problem)
      continue
    }
    if (read.usedNext) i++
    for (const flag of read.flags) {
      flags.push(flag)
      const refused = DEPLOY_FLAGS[flag.name]?.refused
      if (refused)
        problems.push(
          `${flag.spelled === `--${flag.name}` ? '' : `${flag.spelled} `}--${flag.name} ${refused}. Fix: remove it from deploy-args and use that input.`,
        )
    }
  }
  return { flags, problems }
}

type Read = { flags: ParsedFlag[]; usedNext: boolean } | { problem: string }

function readLong(word: string, next: string | undefined): Read {
  const eq = word.indexOf('=')
  const name = word.slice(2, eq < 0 ? undefined : eq)
  const flag = DEPLOY_FLAGS[name]
  if (!flag) return { problem: unknown(word) }
  const spelled = `--${name}`
  if (eq >= 0) return { flags: [{ name, value: word.slice(eq + 1), spelled }], usedNext: false }
  if (flag.kind !== 'value') return { flags: [{ name, value: 'true', spelled }], usedNext: false }
  if (next === undefined)
    return { problem: `${spelled} needs a value (flyctl: flag needs an argument). Fix: write ${spelled}=VALUE.` }
  return { flags: [{ name, value: next, spelled }], usedNext: true }
}

function readShorts(word: string, next: string | undefined): Read {
  const flags: ParsedFlag[] = []
  for (let j = 1; j < word.length; j++) {
    const name = BY_SHORT.get(word[j] as string)
    if (!name) return { problem: unknown(`-${word[j]}`) }
    const flag = DEPLOY_FLAGS[name] as DeployFlag
    const rest = word.slice(j + 1)
    const spelled = `-${word[j]}`
    if (flag.kind !== 'value') {
      flags.push({ name, value: rest.startsWith('=') ? rest.slice(1) : 'true', spelled })
      if (rest.startsWith('=')) break
      continue
    }
    // A value short takes the rest of the word (`-afoo`, `-a=foo`), else the next word.
    if (rest !== '') return { flags: [...flags, { name, value: rest.replace(/^=/, ''), spelled }], usedNext: false }
    if (next === undefined)
      return { problem: `${spelled} needs a value (flyctl: flag needs an argument). Fix: remove it.` }
    return { flags: [...flags, { name, value: next, spelled }], usedNext: true }
  }
  return { flags, usedNext: false }
}

function unknown(spelled: string): string {
  return `${spelled} is not a \`fly deploy\` flag this action passes on (flyctl: unknown flag). Fix: remove it; deploy-args takes only build and transport flags such as ${ALLOWED_LIST}.`
}

function positional(word: string): string {
  return `"${word.slice(0, 60)}" is not a flag: \`fly deploy [WORKING_DIRECTORY]\` would change into it and deploy another build context. Fix: remove it, and set \`working-directory\` for the build context.`
}
