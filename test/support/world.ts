/**
 * The life of the stand-in worlds of an e2e or gateway test file, in one place: `useWorlds()`
 * registers the cleanup once per file, `newWorld()` starts a world and hands it to that cleanup.
 * A world started inside a test is stopped after that test; one started in a `beforeAll` (shared by
 * the tests of a file or a describe) after the file. Stopping a world ends its machines and its
 * release server, and removes its state and runner folders (StandinWorld.stop).
 */
import { afterAll, afterEach, beforeEach } from 'vitest'
import { startStandinWorld, writeDockerfile, type StandinWorld } from './standin.ts'

/** Worlds started by the running test, and worlds started outside any test (beforeAll). */
const testWorlds: StandinWorld[] = []
const fileWorlds: StandinWorld[] = []
let inTest = false
let used = false

/** Stops every world in `worlds` (emptying it), each even when another's stop failed. */
async function stopEach(worlds: StandinWorld[]): Promise<void> {
  const failures: unknown[] = []
  for (const world of worlds.splice(0)) await world.stop().catch((err: unknown) => failures.push(err))
  if (failures.length)
    throw new Error(`${failures.length} stand-in world(s) did not stop cleanly`, { cause: failures[0] })
}

/** Call once at the top of a file that starts worlds (newWorld refuses to start one otherwise). */
export function useWorlds(): void {
  if (used) throw new Error('useWorlds() is already registered in this file: call it once, at the top')
  used = true
  beforeEach(() => {
    inTest = true
  })
  afterEach(async () => {
    inTest = false
    await stopEach(testWorlds)
  })
  afterAll(async () => {
    used = false
    await stopEach(fileWorlds)
  })
}

/**
 * A stand-in world, stopped by useWorlds' cleanup. With a workload, the workspace gets a Dockerfile
 * that runs it (standin.ts writeDockerfile); without, the test writes its own.
 */
export async function newWorld(workload?: string, prefix = 'e2e-'): Promise<StandinWorld> {
  if (!used) throw new Error('newWorld() needs useWorlds() at the top of the test file, which stops its worlds')
  const world = await startStandinWorld(prefix)
  ;(inTest ? testWorlds : fileWorlds).push(world)
  if (workload) writeDockerfile(world.dirs, workload)
  return world
}
