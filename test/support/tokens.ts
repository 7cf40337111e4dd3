/**
 * The tokens every test world uses, in one place so that the e2e worlds (standin.ts) and the
 * in-process cases (bad-input-cases.ts) scan for the same values. Made up: they reach nothing.
 */
export const GATEWAY_TOKEN = 'gw-token-0f3a9c1e5b7d2468ace0'
export const API_TOKEN = 'FlyV1 fm2_standin_api_token_7e1f'
