/**
 * Fly's named machine sizes and the memory each allows, as flyctl knows them: the presets are
 * fly-go machine_types.go `MachinePresets`; the bounds are its MIN_/MAX_MEMORY_MB_PER_(SHARED_)CPU,
 * applied per CPU the way flyctl internal/machine/update.go refuses memoryTooLow/memoryTooHigh.
 * Shared-CPU memory also goes in steps of 256 MB.
 */
export interface MachineSize {
  cpuKind: 'shared' | 'performance'
  cpus: number
  /** The preset's memory, used when [[vm]] sets none. */
  memoryMb: number
  minMemoryMb: number
  maxMemoryMb: number
}

const MIN_MEMORY_MB_PER_SHARED_CPU = 256
const MIN_MEMORY_MB_PER_CPU = 2048
const MAX_MEMORY_MB_PER_SHARED_CPU = 2048
const MAX_MEMORY_MB_PER_CPU = 8192

function size(cpuKind: MachineSize['cpuKind'], cpus: number, presetCpus = cpus): MachineSize {
  const [min, max] =
    cpuKind === 'shared'
      ? [MIN_MEMORY_MB_PER_SHARED_CPU, MAX_MEMORY_MB_PER_SHARED_CPU]
      : [MIN_MEMORY_MB_PER_CPU, MAX_MEMORY_MB_PER_CPU]
  return { cpuKind, cpus, memoryMb: presetCpus * min, minMemoryMb: cpus * min, maxMemoryMb: cpus * max }
}

export const MACHINE_SIZES: Readonly<Record<string, MachineSize>> = {
  'shared-cpu-1x': size('shared', 1),
  'shared-cpu-2x': size('shared', 2),
  'shared-cpu-4x': size('shared', 4),
  'shared-cpu-6x': size('shared', 6),
  'shared-cpu-8x': size('shared', 8),
  'performance-1x': size('performance', 1),
  'performance-2x': size('performance', 2),
  'performance-4x': size('performance', 4),
  'performance-6x': size('performance', 6),
  'performance-8x': size('performance', 8),
  'performance-10x': size('performance', 10),
  'performance-12x': size('performance', 12),
  'performance-14x': size('performance', 14),
  'performance-16x': size('performance', 16),
  // GPU presets: 8 performance CPUs with 16 CPUs' worth of memory.
  'a100-40gb': size('performance', 8, 16),
  'a100-80gb': size('performance', 8, 16),
  l40s: size('performance', 8, 16),
  a10: size('performance', 8, 16),
}

/** The smallest size of the same CPU kind that can hold `memoryMb`, if any. */
export function sizeFor(memoryMb: number, cpuKind: MachineSize['cpuKind']): string | undefined {
  return Object.entries(MACHINE_SIZES)
    .filter(
      ([name, s]) =>
        s.cpuKind === cpuKind && !/^(a|l)\d/.test(name) && s.minMemoryMb <= memoryMb && memoryMb <= s.maxMemoryMb,
    )
    .sort((a, b) => a[1].cpus - b[1].cpus)[0]?.[0]
}

/** Why `memoryMb` does not fit `sizeName`, or undefined when it does (or the size is unknown). */
export function memoryProblem(sizeName: string, memoryMb: number): string | undefined {
  const s = MACHINE_SIZES[sizeName]
  if (!s) return undefined
  if (memoryMb > s.maxMemoryMb || memoryMb < s.minMemoryMb) {
    const bigger = sizeFor(memoryMb, s.cpuKind)
    const range = `${sizeName} allows ${s.minMemoryMb} to ${s.maxMemoryMb} MB`
    return memoryMb > s.maxMemoryMb
      ? `${memoryMb} MB is more than ${range} (fly-go machine_types.go). Fix: set \`memory\` to at most ${s.maxMemoryMb}mb${bigger ? `, or \`vm-size: ${bigger}\`` : ''}.`
      : `${memoryMb} MB is less than ${range}. Fix: set \`memory\` to at least ${s.minMemoryMb}mb${bigger ? `, or \`vm-size: ${bigger}\`` : ''}.`
  }
  if (s.cpuKind === 'shared' && memoryMb % 256 !== 0) {
    return `${memoryMb} MB is not a multiple of 256 MB, which shared-CPU machines require. Fix: use for example ${Math.ceil(memoryMb / 256) * 256}mb.`
  }
  return undefined
}
