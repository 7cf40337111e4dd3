// Node's builtins for the stand-in's flyctl and supervisor processes, taken with
// process.getBuiltinModule instead of an `import`. Every flyctl call is a process of its own, and an
// ESM import of a builtin builds a facade that reads each of its exports once: node:fs's getters
// then load fs/promises, readline and the stream classes, and node:crypto loads its whole key and
// cipher layer, some 20 ms of CPU per call that flyctl's own Go binary never spends.
export const fs = process.getBuiltinModule('node:fs')

/** node:crypto, loaded by the calls that make an id or a digest. */
export const crypto = () => process.getBuiltinModule('node:crypto')

/** node:net, loaded by the calls that parse an address. */
export const net = () => process.getBuiltinModule('node:net')

/** node:child_process, loaded by the calls that start a machine, a check or an install. */
export const childProcess = () => process.getBuiltinModule('node:child_process')
