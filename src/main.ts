import * as core from '@actions/core'
import TOML from '@iarna/toml'
import { z } from 'zod'
import * as tc from '@actions/tool-cache'
export async function run(): Promise<void> {
  core.info(TOML.stringify({ a: z.string().parse('x') }) + typeof tc.find)
}
