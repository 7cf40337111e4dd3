// What others control never reaches the app or leaves the workspace: a fork's pull request gets no
// preview unless the workflow opts in (and then only prefixed secrets), and path inputs that lead
// out of GITHUB_WORKSPACE (real symlinks, /proc/self/environ) are refused before they are read;
// what a run did read (the gateway config's copy) is not left under RUNNER_TEMP.
// dist/index.js runs as a runner runs it, against the flyctl stand-in; judged by the stand-in's
// journal and state, and by every file left under RUNNER_TEMP.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { describe, expect, it } from 'vitest'
import { readJournal, readState, type JournalEntry } from '../../standin/platform/inspect.ts'
import { readSecretValues } from '../../standin/platform/state.ts'
import { BASE, FAKE, FAKE_TIMEOUT, GH_TOKEN, gh, step, usePreviewGitHub } from '../support/preview-e2e.ts'
import { API_TOKEN, GATEWAY_TOKEN, type StandinWorld } from '../support/standin.ts'
import { errorText } from '../support/workflow-commands.ts'
import { newWorld, useWorlds } from '../support/world.ts'
import { tail } from '../support/standin.ts'

useWorlds()
usePreviewGitHub()

/** flyctl calls that change nothing on Fly. */
const READING =
  /^(version|status|releases|secrets list|machines? list|machine status|platform|apps list|logs|ips list|volumes list|orgs list|auth)\b/
const mutating = (calls: JournalEntry[]): string[] => calls.map((c) => c.argv.join(' ')).filter((a) => !READING.test(a))

/** Every file under a folder, with its bytes as text. */
function filesUnder(dir: string): Array<[string, string]> {
  if (!fs.existsSync(dir)) return []
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => [path.join(e.parentPath, e.name), fs.readFileSync(path.join(e.parentPath, e.name), 'latin1')])
}

const FORK = 'forker/gw'
const PROD_ANTHROPIC = 'sk-ant-production-key-e2e-31d9'
const PREVIEW_GATEWAY = 'gw-token-for-fork-previews-8c2e4a'

/** A pull_request_target event from a fork, as GitHub writes it: the head is another repository than the base. */
function forkEvent(world: StandinWorld, number: number): NodeJS.ProcessEnv {
  const file = path.join(world.dirs.root, `event-fork-${number}.json`)
  const pr = {
    number,
    state: 'open',
    head: { sha: `f0f0${number}abcdef`, repo: { full_name: FORK } },
    base: { repo: { full_name: 'openclaw/gw' } },
  }
  fs.writeFileSync(
    file,
    JSON.stringify({ action: 'opened', number, pull_request: pr, repository: { full_name: 'openclaw/gw' } }),
  )
  return {
    GITHUB_EVENT_NAME: 'pull_request_target',
    GITHUB_EVENT_PATH: file,
    GITHUB_REPOSITORY: 'openclaw/gw',
    GITHUB_API_URL: gh.url,
  }
}

function forkInputs(extra: Record<string, string> = {}): Record<string, string> {
  const secrets = {
    OPENCLAW_GATEWAY_TOKEN: GATEWAY_TOKEN,
    ANTHROPIC_API_KEY: PROD_ANTHROPIC,
    PREVIEW_OPENCLAW_GATEWAY_TOKEN: PREVIEW_GATEWAY,
  }
  return {
    app: BASE,
    mode: 'preview',
    'github-token': GH_TOKEN,
    'secrets-json': JSON.stringify(secrets),
    'health-timeout': '120',
    ...extra,
  }
}

describe('a fork pull request (pull_request_target from forker/gw)', () => {
  it(
    'is refused before any flyctl call that changes Fly, naming allow-fork-previews and why',
    async () => {
      const world = await newWorld(FAKE, 'e2e-preview-')
      const { result, calls } = await step(world, forkInputs(), forkEvent(world, 8))
      expect(result.exitCode, tail(result)).toBe(1)
      const error = errorText(result.stdout)
      expect(error).toContain('`allow-fork-previews`')
      expect(error).toContain('comes from the fork forker/gw')
      expect(error).toContain("would run on Fly with this repository's secrets")
      expect(mutating(calls)).toEqual([])
      expect((await readState(world.state)).apps[`${BASE}-pr-8`]).toBeUndefined()
    },
    FAKE_TIMEOUT,
  )

  it(
    'with allow-fork-previews: true, deploys with only the PREVIEW_ secrets, and the summary says so; nothing of the run is left under RUNNER_TEMP but the fly-config file',
    async () => {
      // One deploy for both questions: the fork's preview also reads a gateway config, whose copy
      // must not outlive the run (a failing run below leaves none either).
      const world = await newWorld(FAKE, 'e2e-preview-')
      const app = `${BASE}-pr-9`
      const marker = 'gateway-config-marker-e2e-5b71'
      fs.writeFileSync(
        path.join(world.dirs.workspace, 'openclaw.json'),
        `{ gateway: { mode: "local" }, meta: { note: "${marker}" } }\n`,
      )
      const { result } = await step(
        world,
        forkInputs({ 'allow-fork-previews': 'true', 'gateway-config': 'openclaw.json' }),
        forkEvent(world, 9),
      )
      expect(result.exitCode, tail(result)).toBe(0)
      expect(result.outputs).toMatchObject({
        'app-name': app,
        'preview-action': 'deployed',
        health: 'healthy',
        'secrets-synced': 'OPENCLAW_GATEWAY_TOKEN',
      })
      // Only the prefixed value reached the app: production's gateway token and provider key did not.
      expect(readSecretValues(world.state, app)).toEqual({ OPENCLAW_GATEWAY_TOKEN: PREVIEW_GATEWAY })
      expect(result.summary).toContain('allow-fork-previews')
      expect(result.summary).toContain('secrets were synced')
      expect(result.summary).toMatch(/ANTHROPIC_API_KEY.*allow-fork-previews/)
      expect(filesUnder(world.dirs.temp).map(([file]) => file)).toEqual([result.outputs['fly-config']])

      // A failing run (its gateway config does not parse) leaves nothing of the file either.
      fs.writeFileSync(
        path.join(world.dirs.workspace, 'openclaw.json'),
        `{ gateway: { mode: "local" }, meta: "${marker}" ,,, }\n`,
      )
      const bad = await world.run({
        app: 'oc-clean',
        'gateway-config': 'openclaw.json',
        'secrets-json': JSON.stringify({ OPENCLAW_GATEWAY_TOKEN: GATEWAY_TOKEN }),
      })
      expect(bad.exitCode, tail(bad)).toBe(1)
      expect(
        filesUnder(world.dirs.temp)
          .filter(([, text]) => text.includes(marker))
          .map(([file]) => file),
      ).toEqual([])
    },
    FAKE_TIMEOUT,
  )
})

describe('path inputs stay in the workspace (real symlinks)', () => {
  /** A runner HOME holding a credential the way ~/.docker/config.json does. */
  const DOCKER_AUTH = 'ZG9ja2VyLXVzZXI6ZG9ja2VyLXBhc3N3b3JkLTRmOWE='

  async function refused(
    world: StandinWorld,
    inputs: Record<string, string>,
    env: NodeJS.ProcessEnv,
    named: string[],
    leaked: string[],
  ): Promise<void> {
    const before = (await readJournal(world.state)).length
    const result = await world.run(
      { app: 'oc-paths', 'secrets-json': JSON.stringify({ OPENCLAW_GATEWAY_TOKEN: GATEWAY_TOKEN }), ...inputs },
      { env },
    )
    const calls = (await readJournal(world.state)).slice(before)
    expect(result.exitCode, tail(result)).toBe(1)
    // Every input is named with its own reason (the inputs' problems are reported together).
    for (const input of named)
      expect(errorText(result.stdout)).toMatch(new RegExp(`\`${input}\`: [^\n]*outside the workspace`))
    expect(mutating(calls)).toEqual([])
    for (const value of leaked)
      expect(
        filesUnder(world.dirs.temp)
          .filter(([, text]) => text.includes(value))
          .map(([file]) => file),
      ).toEqual([])
  }

  it(
    'gateway-config, dockerfile and working-directory leading out, and gateway-config: /proc/self/environ',
    async () => {
      const world = await newWorld(FAKE, 'e2e-paths-')
      const ws = world.dirs.workspace
      const home = path.join(world.dirs.root, 'home')
      fs.mkdirSync(path.join(home, '.docker'), { recursive: true })
      const dockerConfig = path.join(home, '.docker', 'config.json')
      fs.writeFileSync(dockerConfig, JSON.stringify({ auths: { 'registry.example': { auth: DOCKER_AUTH } } }))
      const env = { HOME: home }

      const outside = path.join(world.dirs.root, 'outside')
      fs.mkdirSync(outside)
      fs.writeFileSync(
        path.join(outside, 'Dockerfile'),
        'FROM node:24-slim\nLABEL fly-standin.workload=fake-gateway:ready\n',
      )
      // Two path inputs a run, each refused on its own (the file inputs are all checked before any is read).
      fs.symlinkSync(dockerConfig, path.join(ws, 'openclaw.json'))
      fs.symlinkSync(path.join(outside, 'Dockerfile'), path.join(ws, 'Dockerfile.link'))
      await refused(
        world,
        { 'gateway-config': 'openclaw.json', dockerfile: 'Dockerfile.link' },
        env,
        ['gateway-config', 'dockerfile'],
        [DOCKER_AUTH],
      )
      await refused(
        world,
        { 'gateway-config': '/proc/self/environ', dockerfile: '../outside/Dockerfile' },
        env,
        ['gateway-config', 'dockerfile'],
        [API_TOKEN, GATEWAY_TOKEN],
      )
      fs.symlinkSync(outside, path.join(ws, 'elsewhere'))
      await refused(world, { 'working-directory': 'elsewhere' }, env, ['working-directory'], [])

      // A config file whose [[files]] reach for the same credential is refused too, naming config.
      fs.writeFileSync(
        path.join(ws, 'fly.toml'),
        `app = "oc-paths"\n\n[[files]]\nguest_path = "/etc/x.json"\nlocal_path = "${dockerConfig}"\n`,
      )
      await refused(world, { config: 'fly.toml' }, env, ['config'], [DOCKER_AUTH])
      expect((await readState(world.state)).apps['oc-paths']).toBeUndefined()
    },
    FAKE_TIMEOUT,
  )
})
