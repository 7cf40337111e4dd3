// The flyctl stand-in's entry point (run by standin/bin/flyctl on Node 24). It resolves the
// command like cobra, refuses bad command lines like flyctl (internal/cli/cli.go), applies the
// faults file, runs the command against the state root and journals the call.
import { commandPath, isRunnable, parseFlags, resolveCommand, suggestions, usage, validateArgs } from './args.ts'
import type { CommandSpec, FlagSpec, Parsed } from './args.ts'
import { prepareConfigDir } from './config-dir.ts'
import { err, out, runInterruptHooks } from './context.ts'
import type { Ctx } from './context.ts'
import { latencyFor, readCliFaults, takeFailure } from './faults.ts'
import type { CliFaults } from './faults.ts'
import { appendJournal } from './journal.ts'
import { FlyError, stateRoot } from '../platform/state.ts'

// Each command's module loads when that command runs, not before: every flyctl call is a process of
// its own, and loading all seven command modules (and what they import) cost each call the time
// of the ones it does not run.
const apps = () => import('../command/apps.ts')
const deploy = () => import('../command/deploy.ts')
const machine = () => import('../command/machine.ts')
const appResources = () => import('../command/app-resources.ts')
const platform = () => import('../command/platform.ts')
const machineClone = () => import('../command/machine-clone.ts')
const volumeSnapshots = () => import('../command/volume-snapshots.ts')

export const DEFAULT_VERSION = '0.4.87'

// internal/flag/flag.go and internal/flag/machines.go.
const APP: FlagSpec = { name: 'app', short: 'a', kind: 'string', usage: 'Application name' }
const CONFIG: FlagSpec = { name: 'config', short: 'c', kind: 'string', usage: 'Path to application configuration file' }
const JSON_OUT: FlagSpec = { name: 'json', short: 'j', kind: 'bool', usage: 'JSON output' }
const YES: FlagSpec = {
  name: 'yes',
  short: 'y',
  kind: 'bool',
  aliases: ['auto-confirm'],
  usage: 'Accept all confirmations',
}
const REGION: FlagSpec = {
  name: 'region',
  short: 'r',
  kind: 'string',
  usage: "The target region (see 'flyctl platform regions')",
}
const ORG: FlagSpec = { name: 'org', short: 'o', kind: 'string', usage: 'The target Fly.io organization' }
const DETACH: FlagSpec = {
  name: 'detach',
  kind: 'bool',
  usage: 'Return immediately instead of monitoring deployment progress',
}
const IMAGE: FlagSpec = { name: 'image', short: 'i', kind: 'string', usage: 'The Docker image to deploy' }
const DOCKERFILE: FlagSpec = {
  name: 'dockerfile',
  kind: 'string',
  usage: 'Path to a Dockerfile. Defaults to the Dockerfile in the working directory.',
}
const BUILD_ARG: FlagSpec = {
  name: 'build-arg',
  kind: 'stringArray',
  usage: 'Set of build time variables in the form of NAME=VALUE pairs. Can be specified multiple times.',
}
const VM_SIZE: FlagSpec[] = [
  { name: 'vm-size', kind: 'string', usage: 'The VM size to set machines to' },
  { name: 'vm-cpus', kind: 'int', aliases: ['cpus'], usage: 'Number of CPUs' },
  {
    name: 'vm-cpu-kind',
    kind: 'string',
    aliases: ['vm-cpukind'],
    usage: "The kind of CPU to use ('shared' or 'performance')",
  },
  { name: 'vm-memory', kind: 'string', aliases: ['memory'], usage: 'Memory (in megabytes) to attribute to the VM' },
  { name: 'vm-max-memory', kind: 'string', hidden: true },
  { name: 'vm-gpus', kind: 'int', hidden: true },
  { name: 'vm-gpu-kind', kind: 'string', aliases: ['vm-gpukind'], hidden: true },
  {
    name: 'host-dedication-id',
    kind: 'string',
    usage: 'The dedication id of the reserved hosts for your organization (if any)',
  },
]
const ENV: FlagSpec = {
  name: 'env',
  short: 'e',
  kind: 'stringArray',
  usage: 'Set of environment variables in the form of NAME=VALUE pairs.',
}

const SECRETS_SHARED: FlagSpec[] = [
  APP,
  CONFIG,
  DETACH,
  { name: 'stage', kind: 'bool', usage: 'Set secrets but skip deployment for machine apps' },
  { name: 'dns-checks', kind: 'bool', default: true, usage: 'Perform DNS checks during deployment' },
]

// internal/command/deploy/deploy.go CommonFlags plus deploy's own.
const DEPLOY_FLAGS: FlagSpec[] = [
  IMAGE,
  { name: 'now', kind: 'bool', usage: 'Deploy now without confirmation' },
  {
    name: 'remote-only',
    kind: 'bool',
    usage: 'Perform builds on a remote builder instance instead of using the local docker daemon.',
  },
  { name: 'local-only', kind: 'bool', usage: 'Only perform builds locally using the local docker daemon' },
  { name: 'push', kind: 'bool', usage: 'Push image to registry after build is complete' },
  {
    name: 'wg',
    kind: 'bool',
    default: true,
    usage: 'Determine whether communication with remote builders are conducted over wireguard or plain internet(https)',
  },
  { name: 'https-failover', kind: 'bool', default: true, aliases: ['http-failover'] },
  DETACH,
  {
    name: 'strategy',
    kind: 'string',
    usage: 'The strategy for replacing running instances. Options are canary, rolling, bluegreen, or immediate.',
  },
  DOCKERFILE,
  { name: 'ignorefile', kind: 'string' },
  { name: 'image-label', kind: 'string' },
  BUILD_ARG,
  { name: 'build-secret', kind: 'stringArray' },
  { name: 'build-target', kind: 'string' },
  { name: 'build-context-warn-size', kind: 'string' },
  { name: 'no-cache', kind: 'bool' },
  { name: 'depot', kind: 'string', noOptDefVal: 'true', default: 'auto' },
  { name: 'depot-scope', kind: 'string' },
  { name: 'nixpacks', kind: 'bool' },
  { name: 'buildkit-addr', kind: 'string' },
  { name: 'buildkit-image', kind: 'string' },
  { name: 'buildkit', kind: 'bool' },
  { name: 'build-only', kind: 'bool' },
  { name: 'buildpacks-docker-host', kind: 'string' },
  { name: 'buildpacks-volume', kind: 'stringSlice' },
  { name: 'recreate-builder', kind: 'bool' },
  YES,
  ...VM_SIZE,
  ENV,
  {
    name: 'wait-timeout',
    kind: 'string',
    default: '5m0s',
    usage: 'Time duration to wait for individual machines to transition states and become healthy.',
  },
  { name: 'release-command-timeout', kind: 'string', default: '5m0s' },
  { name: 'lease-timeout', kind: 'string', default: '13s' },
  { name: 'force-machines', kind: 'bool', hidden: true },
  { name: 'ha', kind: 'bool', default: true, usage: 'Create spare machines that increases app availability' },
  { name: 'smoke-checks', kind: 'bool', default: true, usage: 'Perform smoke checks during deployment' },
  { name: 'dns-checks', kind: 'bool', default: true, usage: 'Perform DNS checks during deployment' },
  { name: 'max-unavailable', kind: 'float', default: 0.33 },
  { name: 'no-public-ips', kind: 'bool', usage: 'Do not allocate any new public IP addresses' },
  { name: 'flycast', kind: 'bool', usage: 'Allocate a private IPv6 addresses' },
  {
    name: 'file-local',
    kind: 'stringArray',
    usage: 'Set of files in the form of /path/inside/machine=<local/path> pairs.',
  },
  {
    name: 'file-literal',
    kind: 'stringArray',
    usage: 'Set of literals in the form of /path/inside/machine=VALUE pairs.',
  },
  {
    name: 'file-secret',
    kind: 'stringArray',
    usage: 'Set of secrets in the form of /path/inside/machine=SECRET pairs.',
  },
  { name: 'primary-region', kind: 'string', usage: 'Override primary region in fly.toml configuration.' },
  { name: 'regions', kind: 'stringSlice', aliases: ['only-regions'] },
  { name: 'exclude-regions', kind: 'stringSlice' },
  { name: 'only-machines', kind: 'stringSlice' },
  { name: 'exclude-machines', kind: 'stringSlice' },
  { name: 'process-groups', kind: 'stringSlice' },
  { name: 'label', kind: 'stringArray' },
  { name: 'max-concurrent', kind: 'int', default: 8 },
  { name: 'immediate-max-concurrent', kind: 'int', default: 8, hidden: true },
  { name: 'volume-initial-size', kind: 'int', usage: 'The initial size in GB for volumes created on first deploy' },
  { name: 'signal', short: 's', kind: 'string' },
  { name: 'deploy-retries', kind: 'string', default: 'auto' },
  { name: 'builder-pool', kind: 'string', default: 'auto', noOptDefVal: 'true', hidden: true },
  { name: 'compression', kind: 'string' },
  { name: 'compression-level', kind: 'int' },
  APP,
  CONFIG,
  { name: 'update-only', kind: 'bool' },
  { name: 'skip-release-command', kind: 'bool' },
  { name: 'export-manifest', kind: 'string', hidden: true },
  { name: 'from-manifest', kind: 'string', hidden: true },
]

// internal/command/machine/run.go sharedFlags (the ones update accepts) and update.go.
const MACHINE_UPDATE_FLAGS: FlagSpec[] = [
  IMAGE,
  APP,
  CONFIG,
  { name: 'port', short: 'p', kind: 'stringArray' },
  ENV,
  { name: 'entrypoint', kind: 'string' },
  { name: 'dockerfile', kind: 'string' },
  BUILD_ARG,
  { name: 'metadata', short: 'm', kind: 'stringArray' },
  { name: 'schedule', kind: 'string' },
  { name: 'skip-dns-registration', kind: 'bool' },
  { name: 'autostart', kind: 'bool', default: true },
  { name: 'autostop', kind: 'string', noOptDefVal: 'stop', default: 'off' },
  { name: 'restart', kind: 'string' },
  { name: 'standby-for', kind: 'stringSlice' },
  { name: 'file-local', kind: 'stringArray' },
  { name: 'file-literal', kind: 'stringArray' },
  { name: 'file-secret', kind: 'stringArray' },
  ...VM_SIZE,
  YES,
  { name: 'select', kind: 'bool', hidden: true },
  { name: 'skip-start', kind: 'bool', usage: 'Updates machine without starting it.' },
  { name: 'skip-health-checks', kind: 'bool', usage: 'Updates machine without waiting for health checks.' },
  { name: 'command', short: 'C', kind: 'string', usage: 'Command to run' },
  { name: 'mount-point', kind: 'string', usage: 'New volume mount point' },
  {
    name: 'wait-timeout',
    kind: 'int',
    default: 300,
    usage: 'Seconds to wait for individual machines to transition states and become healthy. (default 300)',
  },
  { name: 'container', kind: 'string' },
  { name: 'buildkit-addr', kind: 'string' },
  { name: 'buildkit-image', kind: 'string' },
  { name: 'buildkit', kind: 'bool' },
]

type CommandRun = (ctx: Ctx) => Promise<number>
/** The names of a module's exports that run a command. */
type RunNames<M> = { [K in keyof M]: M[K] extends CommandRun ? K : never }[keyof M]

/** A command's run function, loaded from its module on the first call. */
function lazy<M>(load: () => Promise<M>, name: RunNames<M>) {
  return async (parsed: Parsed) => ((await load())[name] as CommandRun)(currentCtx(parsed))
}

/** The command tree (names and aliases from internal/command/*). */
export function commandTree(): CommandSpec {
  return {
    name: 'flyctl',
    short: 'The Fly.io command line interface',
    sub: [
      {
        name: 'apps',
        aliases: ['app'],
        short: 'Manage apps.',
        sub: [
          {
            name: 'create',
            use: 'create <app name>',
            short: 'Create a new application.',
            args: { kind: 'range', min: 0, max: 1 },
            flags: [
              { name: 'name', kind: 'string', usage: 'The app name to use' },
              { name: 'generate-name', kind: 'bool', usage: 'Generate an app name' },
              { name: 'network', kind: 'string', usage: 'Specify custom network id' },
              { name: 'machines', kind: 'bool', hidden: true },
              YES,
              { name: 'save', kind: 'bool', usage: 'Save the app name to the config file' },
              ORG,
              JSON_OUT,
            ],
            run: lazy(appResources, 'runAppsCreate'),
          },
          {
            name: 'list',
            aliases: ['ls'],
            short: 'List applications.',
            flags: [JSON_OUT, ORG, { name: 'quiet', short: 'q', kind: 'bool', usage: 'Only list app names' }],
            run: lazy(apps, 'runAppsList'),
          },
          {
            // internal/command/apps/destroy.go newDestroy.
            name: 'destroy',
            use: 'destroy <app name(s)>',
            aliases: ['delete', 'remove', 'rm'],
            short: 'Permanently destroy one or more apps.',
            args: { kind: 'any' },
            flags: [YES],
            run: lazy(apps, 'runAppsDestroy'),
          },
        ],
      },
      {
        name: 'machine',
        aliases: ['machines', 'm'],
        short: 'Manage Fly Machines.',
        sub: [
          {
            name: 'list',
            aliases: ['ls'],
            short: 'List Fly machines',
            args: { kind: 'none' },
            flags: [APP, CONFIG, JSON_OUT, { name: 'quiet', short: 'q', kind: 'bool', usage: 'Only list machine ids' }],
            run: lazy(machine, 'runMachineList'),
          },
          {
            name: 'update',
            use: 'update [machine_id]',
            short: 'Update a machine',
            args: { kind: 'range', min: 0, max: 1 },
            flags: MACHINE_UPDATE_FLAGS,
            run: lazy(machine, 'runMachineUpdate'),
          },
          {
            name: 'restart',
            use: 'restart [<id>...]',
            short: 'Restart one or more Fly machines',
            args: { kind: 'any' },
            flags: [
              APP,
              CONFIG,
              { name: 'signal', short: 's', kind: 'string' },
              { name: 'time', kind: 'int' },
              { name: 'force', kind: 'bool' },
              { name: 'skip-health-checks', kind: 'bool' },
              { name: 'select', kind: 'bool', hidden: true },
            ],
            run: lazy(machine, 'runMachineRestart'),
          },
          {
            name: 'start',
            use: 'start [<id>...]',
            short: 'Start one or more Fly machines',
            args: { kind: 'any' },
            flags: [APP, CONFIG, { name: 'select', kind: 'bool', hidden: true }],
            run: lazy(machine, 'runMachineStart'),
          },
          {
            name: 'stop',
            use: 'stop [<id>...]',
            short: 'Stop one or more Fly machines',
            args: { kind: 'any' },
            flags: [
              APP,
              CONFIG,
              { name: 'signal', short: 's', kind: 'string' },
              { name: 'timeout', kind: 'int' },
              { name: 'wait-timeout', short: 'w', kind: 'string' },
              { name: 'select', kind: 'bool', hidden: true },
            ],
            run: lazy(machine, 'runMachineStop'),
          },
          {
            // internal/command/machine/clone.go newClone (the VM size flags are not served).
            name: 'clone',
            use: 'clone [machine_id]',
            short: 'Clone a Fly Machine',
            args: { kind: 'range', min: 0, max: 1 },
            flags: [
              APP,
              CONFIG,
              { name: 'select', kind: 'bool', hidden: true },
              REGION,
              { name: 'name', kind: 'string', usage: 'Optional name for the new Machine' },
              { name: 'from-snapshot', kind: 'string' },
              {
                name: 'attach-volume',
                kind: 'string',
                usage: 'Existing volume to attach to the new Machine in the form of <volume_id>[:/path/inside/machine]',
              },
              { name: 'override-cmd', kind: 'string', usage: 'Set CMD on the new Machine to this value' },
              { name: 'clear-cmd', kind: 'bool' },
              { name: 'clear-auto-destroy', kind: 'bool' },
              { name: 'standby-for', kind: 'stringSlice' },
              { name: 'volume-requires-unique-zone', kind: 'bool', default: true },
              DETACH,
            ],
            run: lazy(machineClone, 'runMachineClone'),
          },
          {
            // internal/command/machine/destroy.go newDestroy.
            name: 'destroy',
            use: 'destroy [flags] ID ID ...',
            aliases: ['remove', 'rm'],
            short: 'Destroy Fly machines',
            args: { kind: 'any' },
            flags: [
              APP,
              CONFIG,
              { name: 'select', kind: 'bool', hidden: true },
              { name: 'force', short: 'f', kind: 'bool', usage: 'force kill machine regardless of current state' },
              { name: 'image', short: 'i', kind: 'string', usage: 'remove all machines with the specified image hash' },
            ],
            run: lazy(machineClone, 'runMachineDestroy'),
          },
          {
            name: 'status',
            use: 'status <machine_id>',
            short: 'Show current status of a running machine',
            args: { kind: 'range', min: 0, max: 1 },
            flags: [
              APP,
              CONFIG,
              { name: 'display-config', short: 'd', kind: 'bool' },
              { name: 'select', kind: 'bool', hidden: true },
            ],
            run: lazy(machine, 'runMachineStatus'),
          },
        ],
      },
      {
        name: 'version',
        short: 'Show version information for the flyctl command',
        args: { kind: 'none' },
        flags: [JSON_OUT, { name: 'saveinstall', short: 's', kind: 'string', hidden: true }],
        run: lazy(appResources, 'runVersion'),
      },
      {
        // internal/command/platform/platform.go (alias `platforms`); only `regions` is served.
        name: 'platform',
        aliases: ['platforms'],
        short: 'Fly.io platform information',
        sub: [
          {
            name: 'regions',
            short: 'List regions',
            args: { kind: 'none' },
            flags: [JSON_OUT],
            run: lazy(platform, 'runPlatformRegions'),
          },
        ],
      },
      {
        name: 'releases',
        short: 'List app releases',
        args: { kind: 'none' },
        flags: [
          APP,
          CONFIG,
          JSON_OUT,
          { name: 'image', kind: 'bool', usage: 'Display the Docker image reference of the release' },
        ],
        run: lazy(appResources, 'runReleases'),
      },
      {
        name: 'deploy',
        use: 'deploy [WORKING_DIRECTORY]',
        short: 'Deploy Fly applications',
        args: { kind: 'max', n: 1 },
        flags: DEPLOY_FLAGS,
        run: lazy(deploy, 'runDeploy'),
      },
      {
        name: 'status',
        short: 'Show app status',
        args: { kind: 'none' },
        flags: [
          APP,
          CONFIG,
          JSON_OUT,
          { name: 'all', kind: 'bool' },
          { name: 'deployment', kind: 'bool' },
          { name: 'watch', kind: 'bool' },
          { name: 'rate', kind: 'int', default: 5 },
        ],
        run: lazy(appResources, 'runStatus'),
      },
      {
        name: 'logs',
        short: 'View app logs',
        args: { kind: 'none' },
        flags: [
          APP,
          CONFIG,
          REGION,
          JSON_OUT,
          // logs.go: --machine/-m, alias --instance with its own -i (UseAliasShortHand).
          { name: 'machine', short: 'm', kind: 'string', usage: 'Filter by machine ID' },
          { name: 'instance', short: 'i', kind: 'string', hidden: true },
          { name: 'select', short: 's', kind: 'bool', usage: 'Select a machine from a list' },
          { name: 'no-tail', short: 'n', kind: 'bool', usage: 'Do not continually stream logs' },
        ],
        run: lazy(machine, 'runLogs'),
      },
      {
        name: 'volumes',
        aliases: ['volume', 'vol', 'v'],
        short: 'Manage Fly Volumes.',
        sub: [
          {
            name: 'list',
            aliases: ['ls'],
            short: 'List the volumes associated with an app.',
            flags: [APP, CONFIG, { name: 'all', kind: 'bool' }, JSON_OUT],
            run: lazy(appResources, 'runVolumesList'),
          },
          {
            name: 'create',
            use: 'create <volume name>',
            short: 'Create a new volume for an app.',
            args: { kind: 'exact', n: 1 },
            flags: [
              APP,
              CONFIG,
              REGION,
              { name: 'size', short: 's', kind: 'int', default: 1, usage: 'The size of volume in gigabytes' },
              { name: 'snapshot-retention', kind: 'int', default: 5 },
              { name: 'scheduled-snapshots', kind: 'bool', default: true },
              { name: 'no-encryption', kind: 'bool' },
              { name: 'require-unique-zone', kind: 'bool', default: true },
              { name: 'unique-zone-app-wide', kind: 'bool' },
              { name: 'snapshot-id', kind: 'string' },
              { name: 'fs-type', kind: 'string', default: 'ext4', hidden: true },
              YES,
              { name: 'count', short: 'n', kind: 'int', default: 1 },
              ...VM_SIZE,
              JSON_OUT,
            ],
            run: lazy(appResources, 'runVolumesCreate'),
          },
          {
            // internal/command/volumes/snapshots/snapshots.go New.
            name: 'snapshots',
            aliases: ['snapshot', 'snaps'],
            short: 'Manage volume snapshots.',
            sub: [
              {
                name: 'list',
                use: 'list <volume id>',
                aliases: ['ls'],
                short: 'List snapshots.',
                args: { kind: 'exact', n: 1 },
                flags: [APP, JSON_OUT],
                run: lazy(volumeSnapshots, 'runSnapshotsList'),
              },
              {
                name: 'create',
                use: 'create <volume id>',
                short: 'Create a volume snapshot.',
                args: { kind: 'exact', n: 1 },
                flags: [APP, JSON_OUT],
                run: lazy(volumeSnapshots, 'runSnapshotsCreate'),
              },
            ],
          },
        ],
      },
      {
        name: 'secrets',
        short: 'Manage application secrets with the set and unset commands.',
        sub: [
          {
            name: 'list',
            aliases: ['ls'],
            short: 'List application secret names, digests and deployment status',
            flags: [APP, CONFIG, JSON_OUT],
            run: lazy(appResources, 'runSecretsList'),
          },
          {
            name: 'set',
            use: 'set [flags] NAME=VALUE NAME=VALUE ...',
            short: 'Set one or more encrypted secrets for an application',
            args: { kind: 'min', n: 1 },
            flags: SECRETS_SHARED,
            run: lazy(appResources, 'runSecretsSet'),
          },
          {
            name: 'unset',
            use: 'unset [flags] NAME NAME ...',
            short: 'Unset one or more encrypted secrets for an application',
            args: { kind: 'min', n: 1 },
            flags: SECRETS_SHARED,
            run: lazy(appResources, 'runSecretsUnset'),
          },
          {
            name: 'import',
            use: 'import [flags]',
            short: 'Set secrets as NAME=VALUE pairs from stdin',
            flags: SECRETS_SHARED,
            run: lazy(appResources, 'runSecretsImport'),
          },
          {
            name: 'deploy',
            short: 'Deploy staged secrets for an application',
            flags: [APP, CONFIG, DETACH, { name: 'dns-checks', kind: 'bool', default: true }],
            run: lazy(appResources, 'runSecretsDeploy'),
          },
        ],
      },
      {
        name: 'ips',
        aliases: ['ip'],
        short: 'Manage IP addresses for apps',
        sub: [
          {
            name: 'list',
            aliases: ['ls'],
            short: 'List public and private IP addresses for an app',
            flags: [APP, CONFIG, JSON_OUT],
            run: lazy(appResources, 'runIpsList'),
          },
          {
            name: 'release',
            use: 'release [flags] ADDRESS ADDRESS ...',
            short: 'Release ingress IP addresses',
            args: { kind: 'min', n: 1 },
            flags: [APP, CONFIG],
            run: lazy(appResources, 'runIpsRelease'),
          },
          {
            name: 'allocate-v6',
            short: 'Allocate an IPv6 address',
            flags: [
              APP,
              CONFIG,
              REGION,
              { name: 'private', kind: 'bool', usage: 'Allocate a private IPv6 address' },
              ORG,
              { name: 'network', kind: 'string' },
            ],
            run: lazy(appResources, 'runIpsAllocateV6'),
          },
          {
            name: 'allocate-v4',
            short: 'Allocate an IPv4 address',
            flags: [APP, CONFIG, REGION, { name: 'shared', kind: 'bool' }, YES],
            run: lazy(appResources, 'runIpsAllocateV4'),
          },
        ],
      },
      {
        name: 'ssh',
        short: 'Use SSH to log into or run commands on Machines',
        sub: [
          {
            name: 'console',
            short: 'Connect to a running instance of the current app.',
            flags: [
              ORG,
              APP,
              CONFIG,
              { name: 'command', short: 'C', kind: 'string', usage: 'command to run instead of opening a console' },
              {
                name: 'machine',
                kind: 'string',
                usage: 'Run the console in the existing machine with the specified ID',
              },
              { name: 'select', short: 's', kind: 'bool' },
              REGION,
              { name: 'quiet', short: 'q', kind: 'bool' },
              { name: 'address', short: 'A', kind: 'string' },
              { name: 'container', kind: 'string' },
              { name: 'no-container', kind: 'bool' },
              { name: 'pty', kind: 'bool' },
              { name: 'user', short: 'u', kind: 'string', default: 'root' },
              { name: 'process-group', kind: 'string', aliases: ['group'] },
            ],
            run: lazy(machine, 'runSshConsole'),
          },
        ],
      },
    ],
    run: async () => {
      out(usage([rootSpec]))
      return 0
    },
  }
}

let activeCtx: Omit<Ctx, 'parsed'> | undefined
/** flyctl's config folder this call prepared (journaled, so tests see which one each call used). */
let configDirUsed: string | undefined
function currentCtx(parsed: Parsed): Ctx {
  if (!activeCtx) throw new Error('no context')
  const ctx = activeCtx as Ctx
  ctx.parsed = parsed
  return ctx
}

const rootSpec = commandTree()

function printError(error: unknown): number {
  if (error instanceof FlyError) {
    err(`Error: ${error.message}\n`)
    if (error.details.length) err(`${error.details.join('\n')}\n`)
    return error.exitCode
  }
  err(`Error: ${(error as Error).message ?? String(error)}\n`)
  return 1
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Run one call; returns flyctl's exit code. */
export async function main(argv: string[]): Promise<number> {
  let stateDir: string
  try {
    stateDir = stateRoot()
  } catch (error) {
    return printError(error)
  }
  const base = {
    stateDir,
    env: process.env,
    version: process.env.FLYCTL_STANDIN_VERSION || DEFAULT_VERSION,
    faults: {} as CliFaults,
    stdinUsed: false,
  }
  activeCtx = base
  const journal = (exit: number) =>
    appendJournal(stateDir, {
      ts: new Date().toISOString(),
      argv,
      stdin: base.stdinUsed,
      exit,
      ...(configDirUsed ? { configDir: configDirUsed } : {}),
    })

  // root.go: SIGINT/SIGTERM cancel the context; a cancelled flyctl exits 127 (cli.go).
  const onSignal = () => {
    void runInterruptHooks().finally(() => {
      journal(127)
      process.exit(127)
    })
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  let code: number
  try {
    code = await dispatch(argv, base)
  } catch (error) {
    code = printError(error)
  }
  journal(code)
  return code
}

async function dispatch(argv: string[], base: Omit<Ctx, 'parsed'>): Promise<number> {
  const { path, rest, typed, unknown } = resolveCommand(rootSpec, argv)
  const cmd = path[path.length - 1] as CommandSpec
  const isRoot = path.length === 1

  if (unknown === 'help') {
    out(usage([rootSpec]))
    return 0
  }
  // cobra legacyArgs: a word the root does not know is an unknown command (no usage printed;
  // flyctl adds "Run '<cmd> --help' for usage." on stdout since the command cannot be found).
  if (unknown !== undefined) {
    err(`Error: unknown command "${unknown}" for "flyctl"${suggestions(rootSpec, unknown)}\n`)
    out("Run 'flyctl --help' for usage.\n\n")
    return 1
  }

  let parsed: Parsed
  try {
    parsed = parseFlags(cmd, isRoot, rest)
    if (!parsed.flags.get('help') && isRunnable(cmd) && !(isRoot && parsed.flags.get('version')))
      validateArgs(cmd, path, parsed.args)
  } catch (error) {
    // Flag and argument errors come before flyctl's PersistentPreRun silences the usage.
    out(usage(path))
    return printError(error)
  }
  if (parsed.flags.get('help') || !isRunnable(cmd)) {
    out(usage(path))
    return 0
  }
  if (isRoot && parsed.flags.get('version')) {
    out(`flyctl v${base.version} linux/amd64 Commit: standin BuildDate: 2026-08-21T00:00:00Z\n`)
    return 0
  }

  // command.go commonPreparers run before every runnable command: the config folder first.
  configDirUsed = prepareConfigDir(base.env)
  const names = [typed.join(' '), commandPath(path.slice(1))]
  base.faults = readCliFaults(base.stateDir)
  const latency = latencyFor(base.faults, names)
  if (latency > 0) await sleep(latency)
  const failure = await takeFailure(base.stateDir, base.faults, names)
  if (failure) {
    if (failure.stdout) out(failure.stdout.endsWith('\n') ? failure.stdout : `${failure.stdout}\n`)
    const text = failure.stderr ?? 'Error: injected failure'
    err(text.endsWith('\n') ? text : `${text}\n`)
    return failure.exit ?? 1
  }
  return (cmd.run as NonNullable<CommandSpec['run']>)(parsed, path)
}

if (import.meta.main) {
  const code = await main(process.argv.slice(2))
  process.exitCode = code
  // logs and the runtime may leave handles open; a flyctl call ends when its command does.
  process.exit(code)
}
