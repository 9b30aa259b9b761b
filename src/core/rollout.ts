import { DeploySettings } from '../config/settings'

/**
 * Which hosts switch together, batch by batch: the one rule for rollout, so
 * that the deploy (fleet.ts) and the dry run say the same.
 *   together  one batch: every host
 *   canary    the first batch-size hosts, then every other host
 *   rolling   batch-size hosts at a time
 * A batch switches only once every batch before it is healthy.
 */
export function rolloutBatches<T>(hosts: T[], settings: Pick<DeploySettings, 'rollout' | 'batchSize'>): T[][] {
  const size = Math.max(1, settings.batchSize ?? 1)
  const rollout = settings.rollout ?? 'together'
  if (rollout === 'together' || hosts.length <= size) return [hosts]
  if (rollout === 'canary') return [hosts.slice(0, size), hosts.slice(size)]
  const batches: T[][] = []
  for (let i = 0; i < hosts.length; i += size) batches.push(hosts.slice(i, i + size))
  return batches
}

/** For the log and the dry run: `canary: h1, then h2, h3`. */
export function describeRollout(batches: Array<Array<{ name: string }>>, settings: Pick<DeploySettings, 'rollout'>): string {
  const names = batches.map((batch) => batch.map((h) => h.name).join(', '))
  return `${settings.rollout ?? 'together'}: ${names.join(', then ')}`
}
