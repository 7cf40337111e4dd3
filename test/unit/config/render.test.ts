import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import TOML from '@iarna/toml'
import { describe, expect, it } from 'vitest'
import { GUIDE_DEFAULTS } from '../../../src/inputs/plan.js'
import {
  effectiveSettings,
  renderFlyConfig,
  setFlag,
  splitCommand,
  writeRenderedConfig,
} from '../../../src/config/render.js'
import { parseMemoryMb } from '../../../src/shared/units.js'
import { ConfigFileError, indexKeyLines, type TomlTable } from '../../../src/config/toml-source.js'
import { RUNNER_TEMP, WORKSPACE, expectGolden, fixture, makePlan, userToml } from '../../support/render-fixtures.js'

const RENDER_DIR = join(RUNNER_TEMP, 'fly-deploy', 'my-claw')

/** What a parse of our output must equal a parse of the guide's file in, once our additions are set aside. */
function withoutOurAdditions(config: TomlTable): TomlTable {
  const copy = structuredClone(config)
  delete copy.app
  delete copy.checks
  const build = copy.build as TomlTable
  // The Dockerfile is the same file; only the directory it is written relative to moved.
  build.dockerfile =
    resolve(RENDER_DIR, build.dockerfile as string) === join(WORKSPACE, 'Dockerfile') ? 'Dockerfile' : build.dockerfile
  return copy
}

function guideParsed(): TomlTable {
  const guide = TOML.parse(fixture('flytoml', 'guide-fly.toml')) as TomlTable
  delete guide.app
  return JSON.parse(JSON.stringify(guide))
}

describe('renderFlyConfig without a config file: the guide', () => {
  it('with every input empty, a parse of the output equals a parse of the guide (app apart)', () => {
    const result = renderFlyConfig(makePlan())
    expect(result.path).toBe(join(RENDER_DIR, 'fly.toml'))
    const parsed = TOML.parse(result.toml) as TomlTable
    expect(parsed.app).toBe('my-claw')
    expect(JSON.parse(JSON.stringify(withoutOurAdditions(parsed)))).toEqual(guideParsed())
    expectGolden('public-defaults.toml', result.toml)
  })

  it('with the defaults given explicitly as inputs, the output is the same file', () => {
    const explicit = makePlan({
      region: GUIDE_DEFAULTS.region,
      port: GUIDE_DEFAULTS.port,
      bind: GUIDE_DEFAULTS.bind,
      vmSize: GUIDE_DEFAULTS.vmSize,
      memoryMb: GUIDE_DEFAULTS.memoryMb,
      volume: GUIDE_DEFAULTS.volume,
      stateDir: GUIDE_DEFAULTS.stateDir,
    })
    expect(renderFlyConfig(explicit).toml).toBe(renderFlyConfig(makePlan()).toml)
  })

  it('points [build] dockerfile at the Dockerfile relative from RUNNER_TEMP (flyctl joins it to the config dir)', () => {
    const result = renderFlyConfig(makePlan({ dockerfile: join(WORKSPACE, 'docker', 'Dockerfile.prod') }))
    const dockerfile = (result.config.build as TomlTable).dockerfile as string
    expect(dockerfile.startsWith('../')).toBe(true)
    expect(resolve(dirname(result.path), dockerfile)).toBe(join(WORKSPACE, 'docker', 'Dockerfile.prod'))
  })

  it('private renders the private variant: no [http_service], the rest as the guide', () => {
    const result = renderFlyConfig(makePlan({ private: true }))
    const parsed = TOML.parse(result.toml) as TomlTable
    expect(parsed.http_service).toBeUndefined()
    const guide = guideParsed()
    delete guide.http_service
    expect(JSON.parse(JSON.stringify(withoutOurAdditions(parsed)))).toEqual(guide)
    expectGolden('private-defaults.toml', result.toml)
  })

  it("the private variant equals openclaw's fly.private.toml template apart from names", () => {
    const parsed = TOML.parse(renderFlyConfig(makePlan({ private: true, volume: 'gemmaclaw_data' })).toml) as TomlTable
    const upstream = TOML.parse(fixture('flytoml', 'openclaw-fly.private-template.toml')) as TomlTable
    delete upstream.app
    expect(JSON.parse(JSON.stringify(withoutOurAdditions(parsed)))).toEqual(JSON.parse(JSON.stringify(upstream)))
  })

  it('substitutes every input into its key', () => {
    const result = renderFlyConfig(
      makePlan({
        region: 'lhr',
        port: 8080,
        bind: 'tailnet',
        vmSize: 'performance-2x',
        memoryMb: 4096,
        volume: 'claw_vol',
        stateDir: '/state',
        env: [['LOG_LEVEL', 'debug']],
      }),
    )
    const c = TOML.parse(result.toml) as Record<string, any>
    expect(c.primary_region).toBe('lhr')
    expect(c.processes.app).toBe('node dist/index.js gateway --allow-unconfigured --port 8080 --bind tailnet')
    expect(c.http_service.internal_port).toBe(8080)
    expect(c.vm).toEqual([{ size: 'performance-2x', memory: '4096mb' }])
    expect(c.mounts).toEqual({ source: 'claw_vol', destination: '/state' })
    expect(c.env.OPENCLAW_STATE_DIR).toBe('/state')
    expect(c.env.LOG_LEVEL).toBe('debug')
    // The guide's heap keeps its proportion (1536 of 2048) when only the memory changes.
    expect(c.env.NODE_OPTIONS).toBe('--max-old-space-size=3072')
    expect(c.checks.gateway).toEqual({ type: 'tcp', port: 8080, interval: '15s', timeout: '10s', grace_period: '30s' })
    expect(result.inputOf('vm.memory')).toBe('memory')
    expect(result.lineOf('vm.memory')).toBeUndefined()
  })

  it('machine-command and machine-memory win over command and memory', () => {
    const result = renderFlyConfig(
      makePlan({
        command: 'node dist/index.js gateway --port 3000 --bind lan',
        machineCommand: {
          argv: [
            'node',
            'dist/index.js',
            'gateway',
            '--allow-unconfigured',
            '--port',
            '3000',
            '--bind',
            'lan',
            '--verbose',
          ],
          text: 'node dist/index.js gateway --allow-unconfigured --port 3000 --bind lan --verbose',
        },
        memoryMb: 2048,
        machineMemoryMb: 3072,
      }),
    )
    const c = result.config as Record<string, any>
    expect(c.processes.app).toBe('node dist/index.js gateway --allow-unconfigured --port 3000 --bind lan --verbose')
    expect(c.vm[0].memory).toBe('3072mb')
    expect(result.inputOf('processes.app')).toBe('machine-command')
    expect(result.inputOf('vm.memory')).toBe('machine-memory')
  })

  it('an image replaces the Dockerfile in [build]', () => {
    const c = renderFlyConfig(makePlan({ image: 'registry.fly.io/my-claw:deployment-1' })).config as Record<string, any>
    expect(c.build).toEqual({ image: 'registry.fly.io/my-claw:deployment-1' })
  })

  it('delivers a gateway config as [[files]] with an absolute local_path plus OPENCLAW_CONFIG_PATH', () => {
    const localPath = join(RENDER_DIR, 'openclaw.json')
    const result = renderFlyConfig(makePlan(), undefined, {
      sourcePath: join(WORKSPACE, 'openclaw.json5'),
      localPath,
      text: fixture('openclaw-json', 'public.json5'),
    })
    const c = TOML.parse(result.toml) as Record<string, any>
    expect(c.files).toEqual([{ guest_path: '/etc/openclaw/openclaw.json', local_path: localPath }])
    expect(c.env.OPENCLAW_CONFIG_PATH).toBe('/etc/openclaw/openclaw.json')
    expect(result.gateway?.guestPath).toBe('/etc/openclaw/openclaw.json')
    expect(c.mounts.destination).toBe('/data')
  })

  it('refuses a relative [[files]] local_path for the gateway config (flyctl reads it relative to its cwd)', () => {
    expect(() =>
      renderFlyConfig(makePlan(), undefined, { sourcePath: 'openclaw.json', localPath: 'openclaw.json', text: '{}' }),
    ).toThrow(/absolute/)
  })
})

describe('renderFlyConfig over a user fly.toml', () => {
  it("openclaw's fly.toml: keeps [[mounts]] and every key, overrides only what the inputs set", () => {
    const result = renderFlyConfig(makePlan({ port: 3000, memoryMb: 4096 }), userToml('openclaw-fly.toml'))
    const c = TOML.parse(result.toml) as Record<string, any>
    expect(Array.isArray(c.mounts)).toBe(true)
    expect(c.mounts).toEqual([{ source: 'openclaw_data', destination: '/data' }])
    expect(c.primary_region).toBe('cdg')
    expect(c.http_service.auto_stop_machines).toBe('off')
    expect(c.http_service.internal_port).toBe(3000)
    expect(c.vm).toEqual([{ size: 'shared-cpu-2x', memory: '4096mb' }])
    expect(c.env.NODE_OPTIONS).toBe('--max-old-space-size=1536')
    const keys = result.overridden.map((o) => `${o.key}<-${o.input}`)
    expect(keys).toEqual([
      'app<-app',
      'http_service.internal_port<-port',
      'vm.memory<-memory',
      'build.dockerfile<-config',
      'checks.gateway<-port',
    ])
    expect(result.overridden[0]).toEqual({ key: 'app', from: 'openclaw-oyurda', to: 'my-claw', input: 'app' })
    expect(result.overridden.find((o) => o.key === 'http_service.internal_port')).toMatchObject({
      from: 8080,
      to: 3000,
    })
    // Kept keys point back at the user's file.
    expect(result.lineOf('env.OPENCLAW_STATE_DIR')).toBe(16)
    expect(result.lineOf('http_service.force_https')).toBe(27)
    expectGolden('openclaw-fly.toml', result.toml)
  })

  it("openclaw's generated fly.toml: fills what the guide needs, keeps memory and memory_mb in their shapes", () => {
    const result = renderFlyConfig(makePlan(), userToml('openclaw-fly-generated.toml'))
    const c = result.config as Record<string, any>
    expect(c.vm).toEqual([{ memory: '1gb', cpu_kind: 'shared', cpus: 1, memory_mb: 512 }])
    expect(c.processes.app).toBe('node dist/index.js gateway --allow-unconfigured --port 8080 --bind lan')
    expect(c.mounts).toEqual({ source: 'openclaw_data', destination: '/data' })
    expect(c.env.OPENCLAW_STATE_DIR).toBe('/data')
    expect(result.inputOf('processes.app')).toBe('command (default)')
    expectGolden('openclaw-fly-generated.toml', result.toml)
  })

  it("openclaw's fly.private.toml with private: keeps its loopback command and state subdirectory", () => {
    const result = renderFlyConfig(makePlan({ private: true }), userToml('openclaw-fly.private.toml'))
    const c = result.config as Record<string, any>
    expect(c.processes.app).toBe('node dist/index.js gateway --allow-unconfigured --port 17568 --bind loopback')
    expect(c.env.OPENCLAW_STATE_DIR).toBe('/data/.openclaw')
    expect(c.env.OPENCLAW_DISABLE_BONJOUR).toBe('1')
    expect(c.http_service).toBeUndefined()
    expect(c.checks.gateway.port).toBe(17568)
    expectGolden('openclaw-fly.private.toml', result.toml)
  })

  it('port and bind inputs patch the flags of an existing command and nothing else in it', () => {
    const result = renderFlyConfig(
      makePlan({ port: 4000, bind: 'lan', private: true }),
      userToml('openclaw-fly.private.toml'),
    )
    expect((result.config.processes as TomlTable).app).toBe(
      'node dist/index.js gateway --allow-unconfigured --port 4000 --bind lan',
    )
    expect(result.inputOf('processes.app')).toBe('port, bind')
  })

  it('[[services]], [build] image, [deploy], [vm] table with numeric memory, statics: kept; existing checks mean no TCP check', () => {
    const result = renderFlyConfig(makePlan({ memoryMb: 8192, port: 3100 }), userToml('services-image.toml'))
    const c = TOML.parse(result.toml) as Record<string, any>
    expect(c.build).toEqual({ image: 'ghcr.io/example/openclaw:2026.9.6' })
    expect(c.deploy).toEqual({ strategy: 'rolling', wait_timeout: '10m' })
    expect(c.vm).toEqual({ size: 'performance-1x', memory: 8192 })
    expect(c.services[0].internal_port).toBe(3100)
    expect(c.services[0].ports).toHaveLength(2)
    expect(c.services[0].concurrency).toEqual({ type: 'connections', hard_limit: 50, soft_limit: 25 })
    expect(c.processes.app).toBe('node dist/index.js gateway --allow-unconfigured --port=3100 --bind=lan')
    expect(c.env['WEIRD KEY']).toBe('kept "as" is')
    expect(c.kill_timeout).toBe('30s')
    expect(c.statics).toEqual([{ guest_path: '/app/public', url_prefix: '/static/' }])
    expect(c.checks).toBeUndefined()
    expect(c.http_service).toBeUndefined()
    expectGolden('services-image.toml', result.toml)
  })

  it('a config in a subdirectory: Dockerfile, ignorefile and [[files]] paths re-pointed from the new directory', () => {
    const at = join(WORKSPACE, 'deploy', 'fly.toml')
    const result = renderFlyConfig(makePlan(), userToml('checks-files-relative.toml', at))
    const c = result.config as Record<string, any>
    expect(resolve(RENDER_DIR, c.build.dockerfile)).toBe(join(WORKSPACE, 'deploy', 'docker', 'Dockerfile.fly'))
    expect(resolve(RENDER_DIR, c.build.ignorefile)).toBe(join(WORKSPACE, 'deploy', 'docker', '.dockerignore'))
    expect(c.files[0].local_path).toBe(join(WORKSPACE, 'deploy', 'prompts', 'system.md'))
    expect(c.checks).toBeUndefined()
    expect(c.http_service.checks).toHaveLength(1)
    expectGolden('checks-files-relative.toml', result.toml)
  })

  it('a file that sets OPENCLAW_STATE_DIR but mounts nothing gets the volume at that directory', () => {
    const result = renderFlyConfig(makePlan(), {
      path: join(WORKSPACE, 'fly.toml'),
      text: 'app = "x"\n[env]\nOPENCLAW_STATE_DIR = "/state"\n',
    })
    expect(result.config.mounts).toEqual({ source: 'openclaw_data', destination: '/state' })
    expect(result.overridden.find((o) => o.key === 'mounts.destination')).toMatchObject({
      input: 'state-dir (default)',
    })
  })

  it('a dockerfile input wins over the config file', () => {
    const result = renderFlyConfig(
      makePlan({ dockerfile: join(WORKSPACE, 'Dockerfile.ci') }),
      userToml('openclaw-fly.toml'),
    )
    expect(resolve(RENDER_DIR, (result.config.build as TomlTable).dockerfile as string)).toBe(
      join(WORKSPACE, 'Dockerfile.ci'),
    )
  })

  it('private removes [http_service] from a public file and reports it', () => {
    const result = renderFlyConfig(makePlan({ private: true }), userToml('openclaw-fly.toml'))
    expect(result.config.http_service).toBeUndefined()
    expect(result.overridden.find((o) => o.key === 'http_service')).toMatchObject({ to: undefined, input: 'private' })
  })

  it('invalid TOML is reported with file, line and column', () => {
    let error: unknown
    try {
      renderFlyConfig(makePlan(), userToml('invalid.toml'))
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(ConfigFileError)
    const e = error as ConfigFileError
    expect([e.file, e.line, e.column]).toEqual([join(WORKSPACE, 'fly.toml'), 5, 24])
    expect(e.message).toMatch(/fly\.toml:5:24: invalid TOML: Unexpected character/)
  })
})

describe('helpers', () => {
  it('parseMemoryMb reads the forms fly.toml uses', () => {
    expect(parseMemoryMb('2048mb')).toBe(2048)
    expect(parseMemoryMb('2gb')).toBe(2048)
    expect(parseMemoryMb('1GB')).toBe(1024)
    expect(parseMemoryMb('512m')).toBe(512)
    expect(parseMemoryMb('1.5gb')).toBe(1536)
    expect(parseMemoryMb('4GiB')).toBe(4096)
    expect(parseMemoryMb(2048)).toBe(2048)
    expect(parseMemoryMb('2048')).toBe(2048)
    expect(parseMemoryMb('lots')).toBeUndefined()
  })

  it('setFlag replaces both flag forms, appends to a gateway command, leaves other commands alone', () => {
    expect(setFlag('node a gateway --port 3000 --bind lan', '--port', '4000')).toBe(
      'node a gateway --port 4000 --bind lan',
    )
    expect(setFlag('node a gateway --port=3000', '--port', '4000')).toBe('node a gateway --port=4000')
    expect(setFlag('node a gateway', '--bind', 'lan')).toBe('node a gateway --bind lan')
    expect(setFlag('sh /data/start.sh', '--bind', 'lan')).toBe('sh /data/start.sh')
    expect(setFlag('x gateway --bind "a b"', '--bind', 'lan')).toBe('x gateway --bind lan')
  })

  it('splitCommand groups quotes like a shell', () => {
    expect(splitCommand(`sh -c 'node dist/index.js gateway --port 3000' "a \\"b\\"" c\\ d`)).toEqual([
      'sh',
      '-c',
      'node dist/index.js gateway --port 3000',
      'a "b"',
      'c d',
    ])
  })

  it('effectiveSettings: memory_mb wins over memory, a bare size uses its default memory', () => {
    expect(effectiveSettings({ vm: [{ memory: '1gb', memory_mb: 512 }] }).memoryMb).toBe(512)
    expect(effectiveSettings({ vm: [{ size: 'shared-cpu-2x' }] }).memoryMb).toBe(512)
    expect(effectiveSettings({ vm: { memory: 4096 } }).memoryMb).toBe(4096)
    expect(effectiveSettings({}).memoryMb).toBeUndefined()
  })

  it('effectiveSettings: port precedence is --port, OPENCLAW_GATEWAY_PORT, then 18789; bind defaults to loopback', () => {
    expect(
      effectiveSettings({ processes: { app: 'x gateway --port 3000' }, env: { OPENCLAW_GATEWAY_PORT: '4000' } }),
    ).toMatchObject({
      port: 3000,
      portSource: 'command',
    })
    expect(
      effectiveSettings({ processes: { app: 'x gateway' }, env: { OPENCLAW_GATEWAY_PORT: '4000' } }),
    ).toMatchObject({ port: 4000, portSource: 'env' })
    expect(effectiveSettings({ processes: { app: 'x gateway' } })).toMatchObject({
      port: 18789,
      bind: 'loopback',
      bindSource: 'default',
      isPrivate: true,
    })
  })

  it('indexKeyLines follows headers, dotted keys and skips multi-line values', () => {
    const lines = indexKeyLines(
      'a = 1\n[t]\n  "q.k" = """\nx = 2\n"""\n  arr = [\n  "y = 3",\n]\n[[v]]\nmemory = 1\n[t.sub]\nz.w = 1\n',
    )
    expect(Object.fromEntries(lines)).toEqual({
      a: 1,
      t: 2,
      't.q.k': 3,
      't.arr': 6,
      v: 9,
      'v.memory': 10,
      't.sub': 11,
      't.sub.z.w': 12,
    })
  })
})

describe('writeRenderedConfig', () => {
  it('writes into RUNNER_TEMP/fly-deploy/<app>, copies the gateway config beside it, never touches the workspace', async () => {
    const root = mkdtempSync(join(tmpdir(), 'render-'))
    try {
      const workspace = join(root, 'ws')
      const temp = join(root, 'temp')
      const { mkdirSync } = await import('node:fs')
      mkdirSync(workspace, { recursive: true })
      const flyToml = join(workspace, 'fly.toml')
      writeFileSync(flyToml, fixture('flytoml', 'openclaw-fly.toml'))
      writeFileSync(join(workspace, 'openclaw.json5'), fixture('openclaw-json', 'public.json5'))
      const before = readFileSync(flyToml, 'utf8')
      const outputFile = join(root, 'github_output')
      writeFileSync(outputFile, '')
      process.env.GITHUB_OUTPUT = outputFile
      const result = await writeRenderedConfig(
        makePlan({
          config: flyToml,
          gatewayConfig: join(workspace, 'openclaw.json5'),
          workingDirectory: workspace,
          dockerfile: join(workspace, 'Dockerfile'),
          runnerTemp: temp,
        }),
      )
      expect(result.path).toBe(join(temp, 'fly-deploy', 'my-claw', 'fly.toml'))
      expect(readFileSync(result.path, 'utf8')).toBe(result.toml)
      expect(readFileSync(join(temp, 'fly-deploy', 'my-claw', 'openclaw.json'), 'utf8')).toBe(
        fixture('openclaw-json', 'public.json5'),
      )
      expect(readFileSync(flyToml, 'utf8')).toBe(before)
      expect(readFileSync(outputFile, 'utf8')).toContain(result.path)
    } finally {
      delete process.env.GITHUB_OUTPUT
      rmSync(root, { recursive: true, force: true })
    }
  })

  it('names the input when a file is missing', async () => {
    await expect(
      writeRenderedConfig(
        makePlan({ config: '/nonexistent/fly.toml', runnerTemp: mkdtempSync(join(tmpdir(), 'render-')) }),
      ),
    ).rejects.toThrow(/input `config`: cannot read \/nonexistent\/fly\.toml \(ENOENT\)/)
  })
})

describe('renderFlyConfig: the check the gateway release serves', () => {
  const release = (version: string) => () => ({ version, source: 'test' })

  it("2026.9.6: the 2026.9 guide's [[http_service.checks]] GET /startupz (grace 2m, interval 15s, timeout 5s), no TCP check", () => {
    const result = renderFlyConfig(makePlan(), undefined, undefined, release('2026.9.6'))
    const c = TOML.parse(result.toml) as Record<string, any>
    expect(c.http_service.checks).toEqual([
      { grace_period: '2m', interval: '15s', method: 'GET', timeout: '5s', path: '/startupz' },
    ])
    expect(c.checks).toBeUndefined()
    expect(result.release).toEqual({ version: '2026.9.6', source: 'test' })
    expect(result.inputOf('http_service.checks')).toBe('port (check: the gateway release)')
    expectGolden('public-2026.9.6.toml', result.toml)
  })

  it('2026.8.1 is the first with /startupz; 2026.8.0 and 2026.4.29 get /healthz (they answer /startupz with the Control UI and 200)', () => {
    const path = (v: string) =>
      (renderFlyConfig(makePlan(), undefined, undefined, release(v)).config as Record<string, any>).http_service
        .checks[0].path
    expect(path('2026.8.1')).toBe('/startupz')
    expect(path('2026.8.0')).toBe('/healthz')
    expect(path('2026.4.29')).toBe('/healthz')
    expect(path('2026.3.1')).toBe('/healthz')
  })

  it('before 2026.3.1, or an unknown release: a TCP check on the port', () => {
    for (const reader of [release('2026.2.26'), () => undefined]) {
      const c = renderFlyConfig(makePlan({ port: 8080 }), undefined, undefined, reader).config as Record<string, any>
      expect(c.http_service.checks).toBeUndefined()
      expect(c.checks.gateway).toEqual({
        type: 'tcp',
        port: 8080,
        interval: '15s',
        timeout: '10s',
        grace_period: '30s',
      })
    }
  })

  it('private 2026.9.6: the same check as a top-level [checks] entry on the gateway port', () => {
    const result = renderFlyConfig(makePlan({ private: true }), undefined, undefined, release('2026.9.6'))
    const c = TOML.parse(result.toml) as Record<string, any>
    expect(c.http_service).toBeUndefined()
    expect(c.checks.gateway).toEqual({
      type: 'http',
      port: 3000,
      method: 'GET',
      path: '/startupz',
      grace_period: '2m',
      interval: '15s',
      timeout: '5s',
    })
    expectGolden('private-2026.9.6.toml', result.toml)
  })

  it("a config file's own checks are kept, and no check is added, whatever the release", () => {
    const at = join(WORKSPACE, 'deploy', 'fly.toml')
    const result = renderFlyConfig(
      makePlan(),
      userToml('checks-files-relative.toml', at),
      undefined,
      release('2026.9.6'),
    )
    const c = result.config as Record<string, any>
    expect(c.checks).toBeUndefined()
    expect(c.http_service.checks).toEqual(
      (TOML.parse(fixture('flytoml', 'checks-files-relative.toml')) as Record<string, any>).http_service.checks,
    )
  })
})
