// How a stand-in machine gets its own filesystem view, the way a Fly machine boots its image with
// the volume mounted.
//
// 'namespace' (chosen when it works; it does as root on the CI runners and here):
//   unshare --mount --net --pid --uts --fork, then an overlay whose lower layer is the host's
//   root (so the guest has a shell, libc and certificates) and whose upper layer is a fresh
//   per-machine directory, wiped at every start like a Fly rootfs. Into it go: the openclaw
//   package at /app (the image's WORKDIR, so `node dist/index.js gateway` works), Node 24 at
//   /opt/node24 (first on PATH), a private /tmp, each volume directory at its mount path, and
//   the [[files]] at their guest paths. The workload then runs chrooted with a tiny pid-1 shell
//   that forwards SIGTERM. A private network namespace (only `lo`, brought up) lets machines of
//   parallel tests all bind port 3000; probe a machine's port through execOnMachine or
//   `nsenter --target <readRuntime().pid> --net`. The private pid namespace makes the gateway's
//   PID small and reused across restarts, which is what leaves a "held" lock on a real volume,
//   and it lets one kill take the whole tree.
//   Not root: the same namespaces inside a user namespace (`unshare --user --map-root-user`, so
//   the workload is uid 0 as on Fly, and its lock tree is `openclaw-0`). An overlay over the
//   host's / is refused there, so the root is a tmpfs with the host's system folders bound in
//   read-only (its upper layer is that tmpfs: wiped at every start all the same).
// 'paths' (fallback when unshare/overlay is refused, or FLY_STANDIN_ISOLATION=paths): the
//   workload runs on the host with every guest path rewritten: env values and files under a mount
//   destination go to the volume directory, other [[files]] and env values naming them go under
//   <machine>/rootfs, HOME and TMPDIR too. Machines then share the host network (port clashes).
import { childProcess, fs } from '../platform/builtins.ts'
import path from 'node:path'
import type { Isolation, MachineLaunch } from './state-files.ts'

export interface LaunchSpec {
  launch: MachineLaunch
  machineDir: string
  isolation: Isolation
  appRoot: string
  // The directory bound into the machine that contains appRoot: an npm install hoists the
  // package's dependencies next to it, so the whole install goes in and /app links to the package.
  appInstallRoot: string
  nodeDir: string
  fakeScenario?: string
  killTimeoutMs: number
}

export const GUEST_APP_DIR = '/app'
export const GUEST_NODE_DIR = '/opt/node24'
const GUEST_INSTALL_DIR = '/opt/openclaw'
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
const GUEST_PATH = `${GUEST_NODE_DIR}/bin:${SYSTEM_PATH}`

let detected: Isolation | undefined

// Not root: the namespaces are made inside a user namespace of our own (see above).
const ROOTLESS = process.getuid?.() !== 0
const USER_NS = ROOTLESS ? ['--user', '--map-root-user'] : []
// The host folders a rootless machine's root binds in (a symlink such as /bin -> usr/bin is copied).
// /etc is copied instead (3 MB): [[files]] such as /etc/openclaw/openclaw.json are written into it.
const HOST_SYSTEM_DIRS = ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32', 'usr', 'var']

/** The lines that make `$M` the machine's fresh root (namespace mode). */
function rootSetup(root: string, guestFiles: string[] = []): string[] {
  if (!ROOTLESS) {
    return [`mount -t overlay overlay -o ${shellQuote(`lowerdir=/,upperdir=${root}/upper,workdir=${root}/work`)} "$M"`]
  }
  return [
    'mount -t tmpfs -o mode=0755 tmpfs "$M"',
    `for d in ${HOST_SYSTEM_DIRS.join(' ')}; do`,
    '  if [ -L "/$d" ]; then cp -P "/$d" "$M/$d"; elif [ -d "/$d" ]; then mkdir -p "$M/$d" && mount --rbind "/$d" "$M/$d"; fi',
    'done',
    // /etc is the host's under a writable layer of the machine's own (a tmpfs outside the guest's
    // root), so [[files]] land in the layer; a kernel that refuses overlayfs in a user namespace
    // (before 5.11) gets a copy instead, which costs each boot some 1,200 files. Either way, files
    // only root may read (/etc/shadow) stay unreadable.
    // In a user namespace overlayfs cannot copy up what the host's root owns (EOVERFLOW), so a
    // [[files]] entry inside a host /etc folder, or replacing a host /etc file, takes the copy too.
    ...(guestFiles.some(needsEtcCopyUp)
      ? ['cp -R -P /etc "$M/" 2>/dev/null || true']
      : [
          `L=${shellQuote(`${root}/etc-layer`)}`,
          'mkdir -p "$M/etc" "$L" && mount -t tmpfs -o mode=0755 tmpfs "$L" && mkdir "$L/upper" "$L/work"',
          'mount -t overlay overlay -o "lowerdir=/etc,upperdir=$L/upper,workdir=$L/work" "$M/etc" 2>/dev/null ||',
          '  cp -R -P /etc "$M/" 2>/dev/null || true',
        ]),
    'mkdir -p "$M/proc" "$M/dev" "$M/sys" "$M/tmp" "$M/root" "$M/opt"',
  ]
}

/** Whether writing this guest path into an /etc overlay would modify something of the host's /etc. */
function needsEtcCopyUp(guestPath: string): boolean {
  const parts = path.posix.normalize(guestPath).split('/').filter(Boolean)
  return parts[0] === 'etc' && parts.length > 1 && fs.existsSync(path.join('/etc', parts[1]!))
}

// Tries the exact mounts a machine needs, once per process.
export function detectIsolation(scratchDir: string): Isolation {
  const forced = process.env.FLY_STANDIN_ISOLATION
  if (forced === 'paths' || forced === 'namespace') return forced
  if (detected) return detected
  const probe = path.join(scratchDir, `.isolation-probe-${process.pid}`)
  fs.mkdirSync(probe, { recursive: true })
  try {
    const script = [
      'set -e',
      `export PATH=${SYSTEM_PATH}:$PATH`,
      `cd ${shellQuote(probe)}`,
      'mkdir -p upper work merged',
      'M=merged',
      ...rootSetup(probe),
      'mount -t proc proc merged/proc',
      'ip link set lo up',
      'test -x merged/bin/sh',
    ].join('\n')
    const result = childProcess().spawnSync(
      'unshare',
      [...USER_NS, '--mount', '--net', '--pid', '--uts', '--fork', '--propagation', 'private', '/bin/sh', '-c', script],
      {
        encoding: 'utf8',
        timeout: 10_000,
      },
    )
    detected = result.status === 0 && !hasOverlayUnsafeChars(scratchDir) ? 'namespace' : 'paths'
  } finally {
    fs.rmSync(probe, { recursive: true, force: true })
  }
  return detected
}

/**
 * detectIsolation, remembered in the state root: the probe creates namespaces and mounts (some
 * 0.1 s of CPU and 0.3 s of wall time), and every flyctl call that starts a machine is a process
 * of its own, so without the file each of them would probe again. The answer only changes with the
 * host or the user, and a state root belongs to one of each.
 */
export function stateIsolation(stateDir: string): Isolation {
  if (process.env.FLY_STANDIN_ISOLATION) return detectIsolation(stateDir)
  const file = path.join(stateDir, 'isolation')
  try {
    const known = fs.readFileSync(file, 'utf8').trim()
    if (known === 'paths' || known === 'namespace') return known
  } catch {
    // not probed yet in this state root
  }
  const isolation = detectIsolation(stateDir)
  fs.writeFileSync(file, `${isolation}\n`)
  return isolation
}

// overlayfs splits its options on ',' and lowerdir on ':'.
function hasOverlayUnsafeChars(dir: string): boolean {
  return /[,:\s]/.test(path.resolve(dir))
}

export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`
}

function rootfsDir(spec: LaunchSpec): string {
  return path.join(spec.machineDir, 'rootfs')
}

function flyEnv(launch: MachineLaunch): Record<string, string> {
  // Set by Fly's init in every machine (https://fly.io/docs/machines/runtime-environment/).
  return {
    FLY_APP_NAME: launch.app,
    FLY_MACHINE_ID: launch.machineId,
    FLY_ALLOC_ID: launch.machineId,
    FLY_REGION: launch.region,
    FLY_IMAGE_REF: launch.imageRef,
    FLY_VM_MEMORY_MB: String(launch.memoryMb),
  }
}

function fakeEnv(spec: LaunchSpec): Record<string, string> {
  return spec.fakeScenario ? { FAKE_GATEWAY_SCENARIO: spec.fakeScenario } : {}
}

// The environment the workload (and `ssh console`) sees inside the machine.
export function guestEnv(spec: LaunchSpec): Record<string, string> {
  const { launch } = spec
  if (spec.isolation === 'namespace') {
    return { PATH: GUEST_PATH, HOME: '/root', ...launch.env, ...fakeEnv(spec), ...flyEnv(launch) }
  }
  const mapped: Record<string, string> = {}
  for (const [name, value] of Object.entries(launch.env)) mapped[name] = mapGuestValue(spec, value)
  return {
    PATH: `${path.join(spec.nodeDir, 'bin')}${path.delimiter}${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: path.join(rootfsDir(spec), 'root'),
    TMPDIR: path.join(rootfsDir(spec), 'tmp'),
    ...mapped,
    ...fakeEnv(spec),
    ...flyEnv(launch),
  }
}

// paths mode: where a guest path lives on the host.
export function mapGuestPath(spec: LaunchSpec, guestPath: string): string {
  const mounts = [...spec.launch.mounts].sort((a, b) => b.path.length - a.path.length)
  for (const mount of mounts) {
    const destination = mount.path.replace(/\/+$/, '')
    if (guestPath === destination || guestPath.startsWith(`${destination}/`)) {
      return path.join(mount.volumeDir, guestPath.slice(destination.length))
    }
  }
  if (guestPath === GUEST_APP_DIR || guestPath.startsWith(`${GUEST_APP_DIR}/`)) {
    return path.join(spec.appRoot, guestPath.slice(GUEST_APP_DIR.length))
  }
  return path.join(rootfsDir(spec), guestPath)
}

// paths mode: rewrite a value that is a guest path under a mount or one of the [[files]].
function mapGuestValue(spec: LaunchSpec, value: string): string {
  if (!value.startsWith('/')) return value
  const underMount = spec.launch.mounts.some(
    (m) => value === m.path || value.startsWith(`${m.path.replace(/\/+$/, '')}/`),
  )
  const isFile = spec.launch.files.some((f) => f.guest_path === value)
  return underMount || isFile ? mapGuestPath(spec, value) : value
}

// paths mode: rewrite guest paths inside exec arguments (`rm -f /data/gateway.*.lock`).
export function mapGuestArgument(spec: LaunchSpec, argument: string): string {
  const prefixes = [
    ...spec.launch.mounts.map((m) => m.path.replace(/\/+$/, '')),
    ...spec.launch.files.map((f) => f.guest_path),
  ]
    .filter((p) => p.length > 1)
    .sort((a, b) => b.length - a.length)
  let result = argument
  for (const prefix of prefixes) {
    const escaped = prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    result = result.replace(
      new RegExp(`(^|[\\s'"=:])(${escaped})(?=$|[/\\s'"])`, 'g'),
      (_all, lead: string, guest: string) => `${lead}${mapGuestPath(spec, guest)}`,
    )
  }
  return result
}

// A fresh root for every boot: Fly recreates the rootfs from the image, only volumes persist.
export function resetRootfs(spec: LaunchSpec): void {
  const root = rootfsDir(spec)
  fs.rmSync(root, { recursive: true, force: true })
  if (spec.isolation === 'namespace') {
    for (const sub of ['upper', 'work', 'merged']) fs.mkdirSync(path.join(root, sub), { recursive: true })
  } else {
    for (const sub of ['root', 'tmp']) fs.mkdirSync(path.join(root, sub), { recursive: true })
  }
  for (const mount of spec.launch.mounts) fs.mkdirSync(mount.volumeDir, { recursive: true })
}

// paths mode: write [[files]] where the workload will look for them.
export function writeMappedFiles(spec: LaunchSpec): void {
  for (const file of spec.launch.files) {
    const target = mapGuestPath(spec, file.guest_path)
    fs.mkdirSync(path.dirname(target), { recursive: true })
    fs.writeFileSync(target, Buffer.from(file.raw_value, 'base64'), { mode: 0o600 })
  }
}

// The pid-1 of the machine's pid namespace: runs the command as its child, forwards SIGTERM
// and SIGINT (pid 1 ignores signals it has no handler for), exits with the child's status.
const GUEST_INIT = [
  `cd ${GUEST_APP_DIR}`,
  '"$@" &',
  'child=$!',
  "trap 'kill -TERM $child 2>/dev/null' TERM",
  "trap 'kill -INT $child 2>/dev/null' INT",
  'while :; do wait $child; rc=$?; kill -0 $child 2>/dev/null || break; done',
  'exit $rc',
].join('\n')

// namespace mode: the script unshare runs as pid 1 before handing over to the workload. Files
// are staged by the supervisor (decoded, mode 0600) and copied in after the volume mounts, so a
// file whose guest path is under a mount lands in the volume.
export function buildNamespaceInit(spec: LaunchSpec, stagedFiles: string[]): string {
  const root = rootfsDir(spec)
  const merged = path.join(root, 'merged')
  const q = shellQuote
  const lines = [
    'set -eu',
    // The setup tools live in sbin; the workload gets the guest PATH back at exec.
    'guest_path="$PATH"',
    `PATH=${SYSTEM_PATH}`,
    `M=${q(merged)}`,
    ...rootSetup(
      root,
      spec.launch.files.map((f) => f.guest_path),
    ),
    'mount -t proc proc "$M/proc"',
    'mount --rbind /dev "$M/dev"',
    'mount --rbind /sys "$M/sys"',
    'mount -t tmpfs -o mode=1777 tmpfs "$M/tmp"',
    `mkdir -p "$M${GUEST_INSTALL_DIR}" && mount --bind ${q(spec.appInstallRoot)} "$M${GUEST_INSTALL_DIR}"`,
    `rm -rf "$M${GUEST_APP_DIR}" && ln -s ${q(path.posix.join(GUEST_INSTALL_DIR, path.relative(spec.appInstallRoot, spec.appRoot)))} "$M${GUEST_APP_DIR}"`,
    `mkdir -p "$M${GUEST_NODE_DIR}" && mount --bind ${q(spec.nodeDir)} "$M${GUEST_NODE_DIR}"`,
  ]
  for (const mount of spec.launch.mounts) {
    lines.push(`mkdir -p "$M"${q(mount.path)} && mount --bind ${q(mount.volumeDir)} "$M"${q(mount.path)}`)
  }
  spec.launch.files.forEach((file, index) => {
    const target = `"$M"${q(file.guest_path)}`
    // `|| exit 1`: under `set -e` a failure inside an && list would boot the machine without the file.
    lines.push(
      `{ mkdir -p "$(dirname ${target})" && cp ${q(stagedFiles[index]!)} ${target} && chmod 0644 ${target}; } || exit 1`,
    )
  })
  // Fly machines are named by their id; the uts namespace keeps this from the host.
  // (sethostname: a user namespace may not write the host's /proc/sys.)
  lines.push('ip link set lo up', `hostname ${q(spec.launch.machineId)}`)
  lines.push('PATH="$guest_path"')
  lines.push(`exec chroot "$M" /bin/sh -c ${q(GUEST_INIT)} fly-init ${spec.launch.cmd.map(q).join(' ')}`)
  return `${lines.join('\n')}\n`
}

export function namespaceArgs(initScript: string): { command: string; args: string[] } {
  return {
    command: 'unshare',
    args: [
      ...USER_NS,
      '--mount',
      '--net',
      '--pid',
      '--uts',
      '--fork',
      '--kill-child',
      '--propagation',
      'private',
      '/bin/sh',
      initScript,
    ],
  }
}

export function execArgs(
  spec: LaunchSpec,
  nsPid: number,
  argv: string[],
): { command: string; args: string[]; cwd?: string } {
  if (spec.isolation === 'namespace') {
    return {
      command: 'nsenter',
      args: [
        '--target',
        String(nsPid),
        // Rootless: join the machine's user namespace as the uid it maps to 0 (setgroups is denied there).
        ...(ROOTLESS ? ['--user', '--preserve-credentials'] : []),
        '--mount',
        '--net',
        '--pid',
        '--uts',
        '--root',
        '--wd',
        '--',
        ...argv,
      ],
    }
  }
  const [command, ...rest] = argv
  return { command: command!, args: rest.map((arg) => mapGuestArgument(spec, arg)), cwd: spec.appRoot }
}
