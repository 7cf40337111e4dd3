import { z } from 'zod'

/**
 * Shapes of the flyctl `--json` outputs this action reads (flyctl's render.JSON
 * over fly-go's api types). Only the fields we use are required; everything else passes through,
 * so a newer flyctl that adds fields keeps working.
 */

export const MachineSchema = z.looseObject({
  id: z.string(),
  name: z.string().optional().default(''),
  state: z.string(),
  region: z.string().optional().default(''),
  image_ref: z
    .looseObject({
      registry: z.string().optional(),
      repository: z.string().optional(),
      tag: z.string().optional(),
      digest: z.string().optional(),
    })
    .optional(),
  created_at: z.string().optional(),
  updated_at: z.string().optional(),
  config: z
    .looseObject({
      image: z.string().optional(),
      env: z.record(z.string(), z.string()).nullish(),
      init: z
        .looseObject({
          cmd: z.array(z.string()).nullish(),
          exec: z.array(z.string()).nullish(),
          entrypoint: z.array(z.string()).nullish(),
        })
        .nullish(),
      guest: z
        .looseObject({
          cpu_kind: z.string().optional(),
          cpus: z.number().optional(),
          memory_mb: z.number().optional(),
        })
        .nullish(),
      metadata: z.record(z.string(), z.string()).nullish(),
      mounts: z
        .array(
          z.looseObject({ volume: z.string().optional(), path: z.string().optional(), name: z.string().optional() }),
        )
        .nullish(),
    })
    .optional()
    .default({}),
  events: z
    .array(
      z.looseObject({
        type: z.string(),
        status: z.string().optional().default(''),
        source: z.string().optional(),
        timestamp: z.number().optional(),
        request: z.unknown().optional(),
      }),
    )
    .nullish(),
  // fly-go machine_types.go MachineCheckStatus {name, status passing|warning|critical, output, updated_at}.
  checks: z
    .array(
      z.looseObject({
        name: z.string(),
        status: z.string(),
        output: z.string().optional().default(''),
        updated_at: z.string().optional(),
      }),
    )
    .nullish(),
})
export type Machine = z.infer<typeof MachineSchema>
export const MachineListSchema = z
  .array(MachineSchema)
  .nullable()
  .transform((v) => v ?? [])

/** `secrets list --json`: name/digest/status since 0.4.7; older releases used other casings. */
export const SecretListSchema = z
  .array(
    z
      .looseObject({
        name: z.string().optional(),
        Name: z.string().optional(),
        digest: z.string().optional(),
        Digest: z.string().optional(),
        status: z.string().optional(),
      })
      .transform((s) => ({
        name: s.name ?? s.Name ?? '',
        digest: s.digest ?? s.Digest ?? '',
        status: s.status ?? 'Unknown',
      })),
  )
  .nullable()
  .transform((v) => (v ?? []).filter((s) => s.name !== ''))
export type SecretEntry = z.infer<typeof SecretListSchema>[number]

export const VolumeSchema = z.looseObject({
  id: z.string(),
  name: z.string(),
  state: z.string().optional().default(''),
  size_gb: z.number().optional(),
  region: z.string().optional().default(''),
  attached_machine_id: z.string().nullish(),
})
export type Volume = z.infer<typeof VolumeSchema>
export const VolumeListSchema = z
  .array(VolumeSchema)
  .nullable()
  .transform((v) => v ?? [])

/**
 * `volumes snapshots list --json` (flyctl internal/command/volumes/snapshots/list.go, fly-go
 * volume_types.go VolumeSnapshot): oldest first; a snapshot still being taken has an empty id.
 */
export const VolumeSnapshotListSchema = z
  .array(
    z.looseObject({
      id: z.string().optional().default(''),
      status: z.string().optional().default(''),
      created_at: z.string().optional(),
    }),
  )
  .nullable()
  .transform((v) => v ?? [])
export type VolumeSnapshot = z.infer<typeof VolumeSnapshotListSchema>[number]

export const IpSchema = z.looseObject({
  ID: z.string().optional(),
  Address: z.string(),
  Type: z.string(),
  Region: z.string().optional().default(''),
})
export type IpAddress = z.infer<typeof IpSchema>
export const IpListSchema = z
  .array(IpSchema)
  .nullable()
  .transform((v) => v ?? [])

export const ReleaseSchema = z.looseObject({
  ID: z.string().optional(),
  Version: z.number(),
  Stable: z.boolean().optional(),
  InProgress: z.boolean().optional(),
  Status: z.string().optional().default(''),
  Description: z.string().optional().default(''),
  Reason: z.string().optional().default(''),
  CreatedAt: z.string().optional(),
  ImageRef: z.string().optional().default(''),
})
export type Release = z.infer<typeof ReleaseSchema>

/**
 * The one rule for a release that never served: flyctl closes a deploy's release `complete`,
 * `failed` or `interrupted` (deploy/machines_deploymachinesapp.go); older platforms said
 * `cancelled` or `aborted`. A rollback never goes back to such a release.
 */
export function releaseFailed(r: Pick<Release, 'Status'>): boolean {
  return /fail|cancel|interrupt|abort/i.test(r.Status)
}
export const ReleaseListSchema = z
  .array(ReleaseSchema)
  .nullable()
  .transform((v) => v ?? [])

export const AppSchema = z.looseObject({
  ID: z.string().optional(),
  Name: z.string(),
  Status: z.string().optional(),
  Organization: z.looseObject({ Slug: z.string().optional() }).nullish(),
  Hostname: z.string().optional(),
  Deployed: z.boolean().optional(),
})
export type App = z.infer<typeof AppSchema>
export const AppListSchema = z
  .array(AppSchema)
  .nullable()
  .transform((v) => v ?? [])

/**
 * `status --json` (flyctl internal/command/status/machines.go renderMachineJSONStatus): the app
 * and its active machines in one call; the machines are the field read here.
 */
export const AppStatusSchema = z.looseObject({
  Machines: MachineListSchema.optional().transform((v) => v ?? []),
})
export type AppStatus = z.infer<typeof AppStatusSchema>
