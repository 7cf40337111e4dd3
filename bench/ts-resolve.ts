/**
 * Lets a benchmark import src/ under Node's own type stripping: src/ imports its siblings as
 * `.js` (what ncc and tsc expect), which Node cannot find; this maps them to the `.ts` files.
 * Import it first, then load src/ with dynamic imports (static ones resolve before any hook).
 */
import { registerHooks } from 'node:module'

registerHooks({
  resolve(specifier, context, nextResolve) {
    try {
      return nextResolve(specifier, context)
    } catch (err) {
      if (/^\.\.?\//.test(specifier) && specifier.endsWith('.js'))
        return nextResolve(`${specifier.slice(0, -3)}.ts`, context)
      throw err
    }
  },
})
