// The flyctl stand-in's volume snapshots, volumes restored from a snapshot, machine clone onto a
// volume and machine destroy (standin/command/{volume-snapshots,machine-clone}.ts), run as a
// process over a temp state root with the real machine runtime and the fake gateway.
// Texts from superfly/flyctl v0.4.87 internal/command/volumes/snapshots/{create,list}.go,
// volumes/create.go, machine/{clone,destroy}.go; JSON from fly-go volume_types.go VolumeSnapshot.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { MachineListSchema, VolumeListSchema } from '../../../src/fly/schemas.js'
import { writeFaults } from '../../../standin/platform/inspect.ts'
import { stopAll } from '../../../standin/machines/runtime.ts'

const FLYCTL = path.resolve('standin/bin/flyctl')
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'standin-volumes-'))
const stateDir = path.join(scratch, 'state')
const workDir = path.join(scratch, 'work')
fs.mkdirSync(workDir, { recursive: true })
fs.mkdirSync(stateDir, { recursive: true })

afterAll(async () => {
  await stopAll(stateDir)
  fs.rmSync(scratch, { recursive: true, force: true })
})

function flyctl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      FLYCTL_STANDIN_STATE: stateDir,
      FLY_API_TOKEN: 'test-token',
    }
    const child = spawn(FLYCTL, args, { cwd: workDir, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c))
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))
  })
}

const FLY_TOML = `app = "snap"
primary_region = "iad"
[build]
  image = "fake-gateway:ready"
[processes]
  app = "node dist/index.js gateway --allow-unconfigured --port 3000 --bind lan"
[mounts]
  source = "openclaw_data"
  destination = "/data"
`

const volumes = async () =>
  VolumeListSchema.parse(JSON.parse((await flyctl(['volumes', 'list', '-a', 'snap', '--json'])).stdout))
const machines = async () =>
  MachineListSchema.parse(JSON.parse((await flyctl(['machines', 'list', '-a', 'snap', '--json'])).stdout))
const volumeDir = (id: string) => path.join(stateDir, 'volumes', id)

describe('volume snapshots, volumes from a snapshot, clone onto a volume, destroy', () => {
  it('snapshot pending then created; a volume from it holds its data; one machine per volume; destroy detaches', async () => {
    fs.writeFileSync(path.join(workDir, 'fly.toml'), FLY_TOML)
    expect((await flyctl(['apps', 'create', 'snap', '--org', 'personal'])).code).toBe(0)
    expect((await flyctl(['deploy', '--ha=false', '-y', '-e', 'MARK=one'])).code).toBe(0)
    const [machine] = await machines()
    expect(machine?.config.env?.MARK).toBe('one') // deploy --env lands in the machine's env
    const [original] = await volumes()
    const vol = original!.id
    fs.writeFileSync(path.join(volumeDir(vol), 'before.txt'), 'written before the snapshot')

    await writeFaults(stateDir, { snapshotPendingMs: 60_000 })
    const created = await flyctl(['volumes', 'snapshots', 'create', vol, '-a', 'snap'])
    expect(created).toMatchObject({ code: 0, stdout: `Scheduled to snapshot volume ${vol}\n` })
    fs.writeFileSync(path.join(volumeDir(vol), 'after.txt'), 'written after the snapshot')
    const pending = JSON.parse(
      (await flyctl(['volumes', 'snapshots', 'list', vol, '-a', 'snap', '--json'])).stdout,
    ) as Array<Record<string, unknown>>
    expect(pending).toEqual([expect.objectContaining({ id: '', status: 'running' })])
    expect(Object.keys(pending[0]!)).toEqual([
      'id',
      'size',
      'volume_size',
      'digest',
      'created_at',
      'status',
      'retention_days',
    ])
    expect((await flyctl(['vol', 'snaps', 'ls', vol, '-a', 'snap'])).stdout).toContain('(pending)')

    await writeFaults(stateDir, { snapshotPendingMs: 0 })
    // The pending one keeps its time; a second snapshot reads created at once.
    expect((await flyctl(['volume', 'snapshot', 'create', vol, '-a', 'snap'])).code).toBe(0)
    const listed = JSON.parse((await flyctl(['volumes', 'snapshots', 'list', vol, '--json'])).stdout) as Array<{
      id: string
      status: string
    }>
    const ready = listed.find((s) => s.status === 'created')
    expect(ready?.id).toMatch(/^vs_/)

    const refused = await flyctl([
      'volumes',
      'create',
      'openclaw_data',
      '--snapshot-id',
      'vs_missing',
      '-r',
      'iad',
      '-a',
      'snap',
      '-y',
    ])
    expect(refused).toMatchObject({
      code: 1,
      stderr: 'Error: failed to create volume: snapshot vs_missing not found\n',
    })

    const restored = await flyctl([
      'volumes',
      'create',
      'openclaw_data',
      '--snapshot-id',
      ready!.id,
      '-r',
      'iad',
      '-a',
      'snap',
      '-y',
      '--json',
    ])
    expect(restored.code).toBe(0)
    const restoredId = (JSON.parse(restored.stdout) as { id: string }).id
    expect(fs.readFileSync(path.join(volumeDir(restoredId), 'before.txt'), 'utf8')).toBe('written before the snapshot')
    expect(fs.existsSync(path.join(volumeDir(restoredId), 'after.txt'))).toBe(true) // the second snapshot came after it

    // A volume one machine mounts cannot be attached to another.
    const taken = await flyctl(['machine', 'clone', machine!.id, '--attach-volume', `${vol}:/data`, '-a', 'snap'])
    expect(taken).toMatchObject({ code: 1, stderr: `Error: volume ${vol} is already attached to a machine\n` })

    const clone = await flyctl([
      'machine',
      'clone',
      machine!.id,
      '--attach-volume',
      `${restoredId}:/data`,
      '-a',
      'snap',
    ])
    expect(clone.code).toBe(0)
    expect(clone.stdout).toContain(`Attaching existing volume ${restoredId}\n`)
    expect(clone.stdout).toMatch(/ {2}Machine [0-9a-f]{14} has been created\.\.\.\n/)
    expect(clone.stdout).toContain('Machine has been successfully cloned!\n')
    const cloneId = /Machine ([0-9a-f]{14}) has been created/.exec(clone.stdout)![1]!
    const cloned = (await machines()).find((m) => m.id === cloneId)
    expect(cloned).toMatchObject({
      state: 'started',
      config: { mounts: [{ volume: restoredId, path: '/data', name: 'openclaw_data' }] },
    })
    expect(cloned?.config.metadata).toEqual(machine!.config.metadata) // the source's config, release metadata included

    const started = await flyctl(['machine', 'destroy', machine!.id, '-a', 'snap'])
    expect(started).toMatchObject({
      code: 1,
      stderr: `Error: machine ${machine!.id} currently started, either stop first or use --force flag\n`,
    })
    const destroyed = await flyctl(['machine', 'destroy', machine!.id, '--force', '-a', 'snap'])
    expect(destroyed.stdout).toBe(
      `machine ${machine!.id} was found and is currently in started state, attempting to destroy...\n${machine!.id} has been destroyed\n`,
    )
    expect((await machines()).map((m) => m.id)).toEqual([cloneId])
    const after = await volumes()
    expect(after.find((v) => v.id === vol)).toMatchObject({ attached_machine_id: null }) // kept, detached
    expect(after.find((v) => v.id === restoredId)).toMatchObject({ attached_machine_id: cloneId })
  })
})
