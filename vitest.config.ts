import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    server: {
      deps: {
        // It imports its JSON schemas without import attributes; Vite's transform handles that, Node does not.
        inline: ['@actions/workflow-parser'],
      },
    },
  },
})
